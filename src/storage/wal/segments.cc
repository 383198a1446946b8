// Naming and listing of segment files and checkpoint directories.
#include <algorithm>
#include <string>
#include <string_view>

#include "base/status.h"
#include "fmt/format.h"
#include "storage/wal/segments_internal.h"
#include "storage/wal/wal.h"

namespace vigil::storage::wal {

std::string SegmentName(uint32_t index) { return fmt::format("{:0{}d}", index, kSegmentNameDigits); }

bool ParseIndex(std::string_view s, uint32_t* index) {
  if (s.size() < static_cast<size_t>(kSegmentNameDigits) || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v == 0 || v > UINT32_MAX) return false;
  *index = static_cast<uint32_t>(v);
  return true;
}

bool ParseCheckpointName(std::string_view name, uint32_t* index) {
  if (name.substr(0, kCheckpointPrefix.size()) != kCheckpointPrefix) return false;
  return ParseIndex(name.substr(kCheckpointPrefix.size()), index);
}

std::string CheckpointName(uint32_t last_segment) {
  return fmt::format("{}{}", kCheckpointPrefix, SegmentName(last_segment));
}

absl::StatusOr<DirListing> ListWalDir(fs::FileSystem* fs, const std::string& dir) {
  DirListing out;
  ASSIGN_OR_RETURN(bool exists, fs->IsDir(dir));
  if (!exists) return out;
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs->ListDir(dir));
  for (const std::string& name : names) {
    uint32_t index;
    if (ParseIndex(name, &index)) {
      out.segments.push_back(index);
    } else if (ParseCheckpointName(name, &index)) {
      out.checkpoints.push_back(index);
    } else if (name.starts_with(kCheckpointPrefix) && name.ends_with(kTmpSuffix)) {
      out.tmp_dirs.push_back(name);
    }
  }
  // ListDir sorts by name, which matches numeric order only while every name has the same
  // width; past 99999999 the names grow a digit, so sort numerically.
  std::sort(out.segments.begin(), out.segments.end());
  std::sort(out.checkpoints.begin(), out.checkpoints.end());
  return out;
}

absl::StatusOr<SegmentRange> ListSegments(fs::FileSystem* fs, const std::string& dir) {
  ASSIGN_OR_RETURN(DirListing l, ListWalDir(fs, dir));
  if (l.segments.empty()) return SegmentRange{};
  return SegmentRange{l.segments.front(), l.segments.back()};
}

absl::StatusOr<ReplayPlan> PlanReplay(fs::FileSystem* fs, const std::string& dir) {
  ASSIGN_OR_RETURN(DirListing l, ListWalDir(fs, dir));
  ReplayPlan plan;
  if (!l.checkpoints.empty()) {
    plan.checkpoint_last = l.checkpoints.back();
    plan.checkpoint_dir = fs::JoinPath(dir, CheckpointName(plan.checkpoint_last));
    ASSIGN_OR_RETURN(plan.checkpoint_segments, ListSegments(fs, plan.checkpoint_dir));
  }
  // Segments the checkpoint covers may still exist if a crash interrupted their deletion;
  // they are skipped here and removed by the next Checkpoint.
  for (uint32_t s : l.segments) {
    if (s <= plan.checkpoint_last) continue;
    if (plan.segments.empty()) plan.segments.first = s;
    plan.segments.last = s;
  }
  return plan;
}

}  // namespace vigil::storage::wal
