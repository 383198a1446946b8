// DB background work: loading blocks, persisting the head into blocks, compaction,
// retention, deletion and snapshots.
#include <chrono>

#include "base/log.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/db_impl.h"

namespace vigil::storage {

absl::Status DBImpl::LoadBlocks() {
  ASSIGN_OR_RETURN(auto names, fs_->ListDir(opts_.path));
  for (const auto& n : names) {
    if (n.ends_with(".tmp")) {
      VLOG_INFO("db", "removing leftover {}", n);
      RETURN_IF_ERROR(fs_->RemoveAll(fs::JoinPath(opts_.path, n)));
    }
  }
  return absl::OkStatus();
}

absl::Status DBImpl::BlockQueriers(std::string_view, int64_t, int64_t,
                                   std::vector<std::unique_ptr<Querier>>*,
                                   std::vector<std::shared_ptr<const void>>*) const {
  return absl::OkStatus();
}

void DBImpl::FillBlockStats(Stats*) const {}
void DBImpl::CloseBlocks() {}

absl::Status DBImpl::Delete(std::string_view tenant, int64_t mint, int64_t maxt,
                            const model::Matchers& matchers) {
  return head_->Delete(tenant, mint, maxt, matchers);
}

absl::Status DBImpl::CleanTombstones() { return absl::UnimplementedError("blocks not wired yet"); }
absl::StatusOr<std::string> DBImpl::Snapshot(bool) {
  return absl::UnimplementedError("blocks not wired yet");
}
absl::Status DBImpl::Compact() { return absl::OkStatus(); }
absl::Status DBImpl::FlushHead() { return absl::UnimplementedError("blocks not wired yet"); }

}  // namespace vigil::storage
