#include "storage/querier.h"

namespace vigil::storage {
namespace {

class Empty final : public SeriesSet {
 public:
  bool Next() override { return false; }
  const Series& At() const override { __builtin_trap(); }
  absl::Status Err() const override { return absl::OkStatus(); }
};

}  // namespace

std::unique_ptr<SeriesSet> EmptySeriesSet() { return std::make_unique<Empty>(); }

}  // namespace vigil::storage
