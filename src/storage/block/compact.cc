#include "storage/block/compact.h"

#include <algorithm>
#include <limits>

#include "base/status.h"
#include "fmt/format.h"

namespace vigil::storage::block {
namespace {

class MergedSet final : public ChunkSeriesSet {
 public:
  explicit MergedSet(std::vector<std::unique_ptr<ChunkSeriesSet>> sets)
      : sets_(std::move(sets)), live_(sets_.size(), false) {}

  bool Next() override {
    if (!started_) {
      started_ = true;
      for (size_t i = 0; i < sets_.size(); ++i) Advance(i);
    } else {
      for (size_t i : last_) Advance(i);
    }
    if (!err_.ok()) return false;
    // The smallest label set among the live inputs, gathered from all that have it.
    const model::Labels* min = nullptr;
    for (size_t i = 0; i < sets_.size(); ++i) {
      if (live_[i] && (!min || sets_[i]->At().labels < *min)) min = &sets_[i]->At().labels;
    }
    if (!min) return false;
    cur_.labels = *min;
    cur_.chunks.clear();
    last_.clear();
    for (size_t i = 0; i < sets_.size(); ++i) {
      if (live_[i] && sets_[i]->At().labels == cur_.labels) {
        const auto& ch = sets_[i]->At().chunks;
        cur_.chunks.insert(cur_.chunks.end(), ch.begin(), ch.end());
        last_.push_back(i);
      }
    }
    return true;
  }
  const ChunkSeries& At() const override { return cur_; }
  absl::Status Err() const override { return err_; }

 private:
  void Advance(size_t i) {
    live_[i] = sets_[i]->Next();
    if (!live_[i] && err_.ok()) err_ = sets_[i]->Err();
  }

  std::vector<std::unique_ptr<ChunkSeriesSet>> sets_;
  std::vector<bool> live_;
  std::vector<size_t> last_;
  bool started_ = false;
  ChunkSeries cur_;
  absl::Status err_;
};

}  // namespace

std::unique_ptr<ChunkSeriesSet> MergeChunkSeriesSets(std::vector<std::unique_ptr<ChunkSeriesSet>> sets) {
  return std::make_unique<MergedSet>(std::move(sets));
}

absl::StatusOr<Ulid> Compact(fs::FileSystem* fs, const std::string& dir, const std::vector<Block*>& blocks,
                             WriteOptions opts) {
  if (blocks.empty()) return absl::InvalidArgumentError("compact: no blocks");
  int64_t mint = std::numeric_limits<int64_t>::max(), maxt = std::numeric_limits<int64_t>::min();
  int level = 0;
  std::vector<Ulid> sources;
  std::vector<std::unique_ptr<ChunkSeriesSet>> sets;
  for (Block* b : blocks) {
    const auto& m = b->meta();
    mint = std::min(mint, m.min_time);
    maxt = std::max(maxt, m.max_time);
    level = std::max(level, m.level);
    sources.insert(sources.end(), m.sources.begin(), m.sources.end());
    sets.push_back(b->ChunkSeries());
  }
  std::sort(sources.begin(), sources.end());
  sources.erase(std::unique(sources.begin(), sources.end()), sources.end());
  opts.level = level + 1;
  opts.sources = std::move(sources);
  auto merged = MergeChunkSeriesSets(std::move(sets));
  auto r = Write(fs, dir, *merged, mint, maxt, opts);
  if (!r.ok()) return Annotate(r.status(), fmt::format("compact {} blocks", blocks.size()));
  return r;
}

}  // namespace vigil::storage::block
