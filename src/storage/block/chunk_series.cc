#include "storage/block/chunk_series.h"

#include <algorithm>

#include "base/status.h"

namespace vigil::storage::block {
namespace {

class VectorSet final : public ChunkSeriesSet {
 public:
  explicit VectorSet(std::vector<ChunkSeries> s) : s_(std::move(s)) {
    std::sort(s_.begin(), s_.end(), [](const auto& a, const auto& b) { return a.labels < b.labels; });
    for (size_t i = 1; i < s_.size(); ++i) VIGIL_CHECK(s_[i - 1].labels != s_[i].labels);
  }
  bool Next() override { return ++i_ < s_.size(); }
  const ChunkSeries& At() const override { return s_[i_]; }
  absl::Status Err() const override { return absl::OkStatus(); }

 private:
  std::vector<ChunkSeries> s_;
  size_t i_ = static_cast<size_t>(-1);
};

}  // namespace

std::unique_ptr<ChunkSeriesSet> NewVectorChunkSeriesSet(std::vector<ChunkSeries> series) {
  return std::make_unique<VectorSet>(std::move(series));
}

}  // namespace vigil::storage::block
