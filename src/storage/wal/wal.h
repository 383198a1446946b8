// The write-ahead log: what the head writes before it acknowledges an append, and what
// startup replays to rebuild the head.
//
// On disk (docs/format/wal.md): numbered segment files <dir>/00000001, 00000002, ..., each
// a header then checksummed records; and at most one published checkpoint directory
// <dir>/checkpoint.NNNNNNNN/ holding, in the same segment format, everything still needed
// from segments <= NNNNNNNN. Replay reads the checkpoint, then the segments after it.
//
// Typical use by the head:
//   ASSIGN_OR_RETURN(auto reader, Reader::Open(fs, dir, {.progress = log_progress}));
//   while (reader->Next()) apply(reader->record());
//   RETURN_IF_ERROR(reader->status());                        // I/O error: refuse
//   if (reader->corruption()) RETURN_IF_ERROR(Repair(fs, dir, *reader->corruption()).status());
//   ASSIGN_OR_RETURN(auto writer, Writer::Open(fs, dir, opts));  // starts a fresh segment
//   ... writer->Log(record) per commit ...
//   // after persisting the head up to time T into a block:
//   ASSIGN_OR_RETURN(uint32_t last, writer->NextSegment());  // last = segment just closed
//   Checkpoint(fs, dir, last, keep_series, T);
//
// Thread-safety: Writer is thread-safe (many committers call Log concurrently). Reader is
// used by one thread. The free functions may run concurrently with a Writer on the same
// dir as long as they only touch segments the Writer has closed (as Checkpoint does).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fs/file_system.h"
#include "storage/wal/wal_format.h"

namespace vigil::storage::wal {

// ---------------------------------------------------------------------------------------
// Segments

// Inclusive range of segment indices; empty when first == 0 (indices start at 1).
struct SegmentRange {
  uint32_t first = 0;
  uint32_t last = 0;
  bool empty() const { return first == 0; }
  friend bool operator==(const SegmentRange&, const SegmentRange&) = default;
};

// "00000012" for 12.
std::string SegmentName(uint32_t index);
// The numbered segment files directly in `dir` (other entries are ignored).
absl::StatusOr<SegmentRange> ListSegments(fs::FileSystem* fs, const std::string& dir);

// ---------------------------------------------------------------------------------------
// Writer

enum class SyncPolicy {
  kAlways,   // Log returns after an fsync covering its records (group commit)
  kGrouped,  // Log returns after write(2); a background thread fsyncs every interval
  kNever,    // fsync only on Sync(), segment cuts and Close() (checkpoints, benchmarks)
};

struct WriterOptions {
  SyncPolicy sync = SyncPolicy::kGrouped;
  int64_t sync_interval_ms = 100;
  // A segment is cut before a record that would take it past this size (a single larger
  // record still gets a segment of its own).
  uint64_t segment_bytes = 128ull << 20;
};

struct WriterStats {
  int64_t bytes_written = 0;     // framed bytes, segment headers included
  int64_t records_written = 0;
  int64_t segments_created = 0;
  int64_t fsyncs = 0;
};

class Writer {
 public:
  // Opens the log in `dir` (created if missing) and starts a new segment after the last
  // existing segment or checkpoint. The previous tail is never appended to: it may end in
  // a torn record, which replay reports and Repair cuts off before a Writer is opened.
  static absl::StatusOr<std::unique_ptr<Writer>> Open(fs::FileSystem* fs, std::string dir,
                                                      WriterOptions opts = {});
  ~Writer();  // Close()s, ignoring errors

  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends whole records (type byte + payload, as records.h encodes them) in order and
  // hands them to the OS; with kAlways also waits for an fsync covering them, shared with
  // every concurrent caller. The records of one call are contiguous in one segment.
  // After any write or fsync error the Writer is failed and every later call returns that
  // error: the file's tail is unknown, so the DB must reopen (replay repairs the tail).
  absl::Status Log(std::string_view record);
  absl::Status Log(std::span<const std::string_view> records);

  // Waits until everything logged so far is fsynced.
  absl::Status Sync();

  // Fsyncs and closes the current segment and starts the next one. Returns the index of
  // the segment that was closed: every record logged before the call is in it or earlier.
  absl::StatusOr<uint32_t> NextSegment();

  // Segments on disk, the current one included.
  absl::StatusOr<SegmentRange> Segments();
  uint32_t current_segment() const;

  // Flushes, fsyncs and closes; later Log calls fail. Idempotent.
  absl::Status Close();

  WriterStats stats() const;

 private:
  Writer(fs::FileSystem* fs, std::string dir, WriterOptions opts);

  absl::Status OpenSegmentLocked(uint32_t index);
  absl::Status CutSegmentLocked();
  // Makes records up to `seq` durable, syncing as leader or waiting for the leader.
  absl::Status WaitDurableLocked(std::unique_lock<std::mutex>& lock, uint64_t seq);
  void BackgroundSync();
  // A copy of failed_ with its own payload: abseil shares Status payloads by reference
  // count inside a library TSan cannot see, which makes every shared copy a reported race.
  absl::Status FailedLocked() const { return absl::Status(failed_.code(), failed_.message()); }

  fs::FileSystem* const fs_;
  const std::string dir_;
  const WriterOptions opts_;

  mutable std::mutex mu_;
  std::condition_variable synced_cv_;
  std::unique_ptr<fs::WritableFile> file_;  // current segment; null once closed
  uint32_t segment_ = 0;
  uint64_t appended_seq_ = 0;  // Log calls whose bytes reached the OS
  uint64_t synced_seq_ = 0;    // Log calls known durable
  bool syncing_ = false;       // a leader is in fsync without holding mu_
  absl::Status failed_;        // sticky error after a failed write or fsync
  bool closed_ = false;
  std::string frame_;  // reusable framing buffer (guarded by mu_)

  std::atomic<int64_t> bytes_written_{0};
  std::atomic<int64_t> records_written_{0};
  std::atomic<int64_t> segments_created_{0};
  std::atomic<int64_t> fsyncs_{0};

  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread syncer_;
};

// ---------------------------------------------------------------------------------------
// Reading, replay and repair

// Where replay found damage. Everything before `offset` in `path` is intact.
struct Corruption {
  std::string path;       // the damaged segment file
  uint32_t segment = 0;   // its index
  bool in_checkpoint = false;
  uint64_t offset = 0;    // start of the first record that could not be read
  std::string reason;     // "crc mismatch", "record length 1234 past end of file", ...
  std::string ToString() const;
};

struct ReplayProgress {
  size_t file = 0;     // 1-based position among the files to replay
  size_t files = 0;    // how many there are
  uint32_t segment = 0;
  bool checkpoint = false;
};

struct ReaderOptions {
  // Called before each file is read, e.g. to log "replaying WAL segment 3/12 (25%)".
  std::function<void(const ReplayProgress&)> progress;
};

// What replay reads: the latest complete checkpoint, then the segments after it.
struct ReplayPlan {
  std::string checkpoint_dir;    // empty if there is no checkpoint
  uint32_t checkpoint_last = 0;  // the checkpoint covers segments <= this
  SegmentRange checkpoint_segments;
  SegmentRange segments;         // segments after the checkpoint
};
absl::StatusOr<ReplayPlan> PlanReplay(fs::FileSystem* fs, const std::string& dir);

class Reader {
 public:
  // Replays what PlanReplay(fs, dir) lists, in order.
  static absl::StatusOr<std::unique_ptr<Reader>> Open(fs::FileSystem* fs, const std::string& dir,
                                                      ReaderOptions opts = {});
  // Reads segments `range` of `dir` only (no checkpoint).
  static absl::StatusOr<std::unique_ptr<Reader>> OpenSegments(fs::FileSystem* fs,
                                                              const std::string& dir,
                                                              SegmentRange range,
                                                              ReaderOptions opts = {});
  ~Reader();

  // Advances to the next record. False at the end, at corruption (corruption() is set)
  // or on an I/O error (status() is not OK). A missing segment in the middle of the
  // sequence counts as corruption.
  bool Next();
  // The current record (type byte + payload); valid until the next call to Next.
  std::string_view record() const { return record_; }
  RecordType type() const;
  // Position of the current record.
  uint32_t segment() const;
  uint64_t offset() const { return record_offset_; }

  const std::optional<Corruption>& corruption() const { return corruption_; }
  absl::Status status() const { return status_; }
  int64_t records_read() const { return records_read_; }

 private:
  struct File {
    std::string path;
    uint32_t segment;
    bool checkpoint;
  };
  Reader(fs::FileSystem* fs, std::vector<File> files, ReaderOptions opts);
  bool OpenNextFile();

  fs::FileSystem* fs_;
  std::vector<File> files_;
  ReaderOptions opts_;
  size_t next_file_ = 0;
  std::unique_ptr<fs::MappedFile> map_;
  std::string_view data_;
  uint64_t pos_ = 0;
  std::string_view record_;
  uint64_t record_offset_ = 0;
  std::optional<Corruption> corruption_;
  absl::Status status_;
  int64_t records_read_ = 0;
};

struct RepairResult {
  uint64_t bytes_dropped = 0;     // from the damaged file
  uint32_t segments_removed = 0;  // later files deleted
};
// Cuts the log at the corruption: truncates the damaged file at `c.offset` (removes it if
// not even its header survives) and deletes every file replay would read after it, logging
// what was dropped. Repairing a checkpoint also drops the segments after it, since their
// records may refer to series the checkpoint lost.
absl::StatusOr<RepairResult> Repair(fs::FileSystem* fs, const std::string& dir,
                                    const Corruption& c);

// ---------------------------------------------------------------------------------------
// Checkpoints

struct CheckpointStats {
  uint32_t last_segment = 0;
  int64_t series_kept = 0, series_dropped = 0;
  int64_t samples_kept = 0, samples_dropped = 0;
  int64_t tombstones_kept = 0, tombstones_dropped = 0;
  int64_t exemplars_kept = 0, exemplars_dropped = 0;
  int64_t segments_removed = 0;
};

// Compacts the log once the head up to `min_time` is persisted in a block: reads the
// previous checkpoint and segments <= last_segment, writes the series for which
// keep_series(ref) is true, their samples and exemplars with t >= min_time and their
// tombstones into
// <dir>/checkpoint.<last_segment>/ (written as .tmp, fsynced, renamed), then deletes the
// segments <= last_segment, older checkpoints and leftover .tmp directories.
// `last_segment` must be closed (see Writer::NextSegment). Fails without deleting anything
// if it cannot read those segments cleanly.
absl::StatusOr<CheckpointStats> Checkpoint(fs::FileSystem* fs, const std::string& dir,
                                           uint32_t last_segment,
                                           const std::function<bool(uint64_t ref)>& keep_series,
                                           int64_t min_time);

}  // namespace vigil::storage::wal
