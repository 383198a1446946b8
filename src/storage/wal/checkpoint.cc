// Checkpoint: rewrites what is still needed from old segments into checkpoint.NNNNNNNN/
// and deletes the segments, so the WAL stays proportional to the head, not to uptime.
//
// Crash safety: the checkpoint is built in checkpoint.NNNNNNNN.tmp/, fsynced, then renamed
// into place and the parent directory fsynced. Only after that are old segments and
// checkpoints deleted. A crash before the rename leaves a .tmp that replay ignores and the
// next Writer::Open or Checkpoint removes; a crash after it leaves old segments that replay
// skips (they are <= NNNNNNNN) and the next Checkpoint removes.
#include <vector>

#include "base/log.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/wal/records.h"
#include "storage/wal/segments_internal.h"
#include "storage/wal/wal.h"

namespace vigil::storage::wal {
namespace {

// Filters records from `reader` into `out`. Fails on corruption: a checkpoint built from a
// damaged log would silently make the damage permanent.
absl::Status CopyKept(Reader* reader, Writer* out, const std::function<bool(uint64_t)>& keep,
                      int64_t min_time, CheckpointStats* st) {
  std::vector<RefSeries> series, kept_series;
  std::vector<RefSample> samples, kept_samples;
  std::vector<RefTombstone> tombstones, kept_tombstones;
  std::vector<RefExemplar> exemplars, kept_exemplars;
  std::string buf;
  auto where = [&] { return fmt::format("wal segment {} offset {}", reader->segment(), reader->offset()); };
  while (reader->Next()) {
    std::string_view rec = reader->record();
    switch (reader->type()) {
      case RecordType::kSeries: {
        RETURN_IF_ERROR(Annotate(DecodeSeries(rec, &series), where()));
        kept_series.clear();
        for (RefSeries& s : series) {
          if (keep(s.ref)) {
            kept_series.push_back(std::move(s));
          } else {
            ++st->series_dropped;
          }
        }
        st->series_kept += static_cast<int64_t>(kept_series.size());
        if (kept_series.empty()) break;
        EncodeSeries(kept_series, &buf);
        RETURN_IF_ERROR(out->Log(buf));
        break;
      }
      case RecordType::kSamples:
      case RecordType::kSamplesV2: {
        RETURN_IF_ERROR(Annotate(DecodeSamples(rec, &samples), where()));
        kept_samples.clear();
        for (const RefSample& s : samples) {
          if (s.t >= min_time && keep(s.ref)) kept_samples.push_back(s);
        }
        st->samples_kept += static_cast<int64_t>(kept_samples.size());
        st->samples_dropped += static_cast<int64_t>(samples.size() - kept_samples.size());
        if (kept_samples.empty()) break;
        EncodeSamples(kept_samples, &buf);
        RETURN_IF_ERROR(out->Log(buf));
        break;
      }
      case RecordType::kTombstones: {
        RETURN_IF_ERROR(Annotate(DecodeTombstones(rec, &tombstones), where()));
        kept_tombstones.clear();
        for (const RefTombstone& t : tombstones) {
          if (keep(t.ref)) kept_tombstones.push_back(t);
        }
        st->tombstones_kept += static_cast<int64_t>(kept_tombstones.size());
        st->tombstones_dropped += static_cast<int64_t>(tombstones.size() - kept_tombstones.size());
        if (kept_tombstones.empty()) break;
        EncodeTombstones(kept_tombstones, &buf);
        RETURN_IF_ERROR(out->Log(buf));
        break;
      }
      case RecordType::kExemplars: {
        RETURN_IF_ERROR(Annotate(DecodeExemplars(rec, &exemplars), where()));
        kept_exemplars.clear();
        for (RefExemplar& x : exemplars) {
          if (x.t >= min_time && keep(x.ref)) kept_exemplars.push_back(std::move(x));
        }
        st->exemplars_kept += static_cast<int64_t>(kept_exemplars.size());
        st->exemplars_dropped += static_cast<int64_t>(exemplars.size() - kept_exemplars.size());
        if (kept_exemplars.empty()) break;
        EncodeExemplars(kept_exemplars, &buf);
        RETURN_IF_ERROR(out->Log(buf));
        break;
      }
      default:
        // A type this version does not know may refer to dropped series; it cannot be
        // filtered, so it is not carried over.
        VLOG_WARN("wal", "checkpoint: dropping record of unknown type {} at {}",
                  static_cast<int>(reader->type()), where());
        break;
    }
  }
  RETURN_IF_ERROR(reader->status());
  if (reader->corruption()) {
    return absl::DataLossError(
        fmt::format("cannot read {}", reader->corruption()->ToString()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CheckpointStats> Checkpoint(fs::FileSystem* fs, const std::string& dir,
                                           uint32_t last_segment,
                                           const std::function<bool(uint64_t ref)>& keep_series,
                                           int64_t min_time) {
  const std::string what = fmt::format("wal checkpoint up to segment {}", last_segment);
  CheckpointStats st;
  st.last_segment = last_segment;
  absl::StatusOr<ReplayPlan> plan_or = PlanReplay(fs, dir);
  if (!plan_or.ok()) return Annotate(plan_or.status(), what);
  const ReplayPlan plan = *std::move(plan_or);
  if (!plan.checkpoint_dir.empty() && plan.checkpoint_last >= last_segment) {
    return absl::InvalidArgumentError(fmt::format("{}: checkpoint.{} already covers it", what,
                                                  SegmentName(plan.checkpoint_last)));
  }
  const std::string tmp = fs::JoinPath(dir, CheckpointName(last_segment) + std::string(kTmpSuffix));
  const std::string final_dir = fs::JoinPath(dir, CheckpointName(last_segment));
  RETURN_IF_ERROR(Annotate(fs->RemoveAll(tmp), what));

  {
    ASSIGN_OR_RETURN(std::unique_ptr<Writer> out,
                     Writer::Open(fs, tmp, WriterOptions{.sync = SyncPolicy::kNever}));
    absl::Status s;
    if (!plan.checkpoint_segments.empty()) {
      ASSIGN_OR_RETURN(auto r, Reader::OpenSegments(fs, plan.checkpoint_dir, plan.checkpoint_segments));
      s = CopyKept(r.get(), out.get(), keep_series, min_time, &st);
    }
    if (s.ok() && !plan.segments.empty() && plan.segments.first <= last_segment) {
      SegmentRange range{plan.segments.first, std::min(last_segment, plan.segments.last)};
      ASSIGN_OR_RETURN(auto r, Reader::OpenSegments(fs, dir, range));
      s = CopyKept(r.get(), out.get(), keep_series, min_time, &st);
    }
    if (s.ok()) s = out->Close();  // fsyncs the last checkpoint segment
    if (!s.ok()) {
      (void)out->Close();
      (void)fs->RemoveAll(tmp);
      return Annotate(s, what);
    }
  }
  RETURN_IF_ERROR(Annotate(fs->SyncDir(tmp), what));
  RETURN_IF_ERROR(Annotate(fs->RemoveAll(final_dir), what));
  RETURN_IF_ERROR(Annotate(fs->Rename(tmp, final_dir), what));
  RETURN_IF_ERROR(Annotate(fs->SyncDir(dir), what));

  // Published; everything it supersedes can go.
  ASSIGN_OR_RETURN(DirListing l, ListWalDir(fs, dir));
  for (uint32_t s : l.segments) {
    if (s > last_segment) break;
    RETURN_IF_ERROR(Annotate(fs->Remove(fs::JoinPath(dir, SegmentName(s))), what));
    ++st.segments_removed;
  }
  for (uint32_t c : l.checkpoints) {
    if (c < last_segment) RETURN_IF_ERROR(Annotate(fs->RemoveAll(fs::JoinPath(dir, CheckpointName(c))), what));
  }
  for (const std::string& t : l.tmp_dirs) {
    RETURN_IF_ERROR(Annotate(fs->RemoveAll(fs::JoinPath(dir, t)), what));
  }
  RETURN_IF_ERROR(Annotate(fs->SyncDir(dir), what));
  VLOG_INFO("wal",
            "checkpoint.{}: kept {} series, {} samples, {} tombstones; dropped {} series, {} "
            "samples; removed {} segments",
            SegmentName(last_segment), st.series_kept, st.samples_kept, st.tombstones_kept,
            st.series_dropped, st.samples_dropped, st.segments_removed);
  return st;
}

}  // namespace vigil::storage::wal
