// The WAL writer: framing, segment cuts, and group commit.
//
// Group commit: a committer appends its records and flushes them to the OS while holding
// mu_, which takes microseconds. To make them durable it then either becomes the leader
// (if nobody is syncing), releases mu_ and fsyncs everything flushed so far for everyone,
// or waits for the current leader and re-checks. Appends continue during an fsync, so
// under load one fsync covers many commits. The background syncer (kGrouped) is simply
// another leader that runs on a timer.
#include <chrono>
#include <cstring>

#include "base/crc32c.h"
#include "base/log.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/wal/segments_internal.h"
#include "storage/wal/wal.h"

namespace vigil::storage::wal {
namespace {

void PutFrameHeader(char* p, std::string_view record) {
  uint32_t len = __builtin_bswap32(static_cast<uint32_t>(record.size()));
  uint32_t crc = __builtin_bswap32(crc32c::Value(record));
  std::memcpy(p, &len, 4);
  std::memcpy(p + 4, &crc, 4);
}

}  // namespace

Writer::Writer(fs::FileSystem* fs, std::string dir, WriterOptions opts)
    : fs_(fs), dir_(std::move(dir)), opts_(opts) {}

absl::StatusOr<std::unique_ptr<Writer>> Writer::Open(fs::FileSystem* fs, std::string dir,
                                                     WriterOptions opts) {
  std::string what = fmt::format("open wal {}", dir);
  RETURN_IF_ERROR(Annotate(fs->MkdirAll(dir), what));
  ASSIGN_OR_RETURN(DirListing l, ListWalDir(fs, dir));
  // A checkpoint left half-written by a crash is never read; drop it now.
  for (const std::string& tmp : l.tmp_dirs) {
    VLOG_INFO("wal", "removing unfinished checkpoint {}", fs::JoinPath(dir, tmp));
    RETURN_IF_ERROR(Annotate(fs->RemoveAll(fs::JoinPath(dir, tmp)), what));
  }
  uint32_t last = 0;
  if (!l.segments.empty()) last = l.segments.back();
  if (!l.checkpoints.empty()) last = std::max(last, l.checkpoints.back());
  std::unique_ptr<Writer> w(new Writer(fs, std::move(dir), opts));
  {
    std::lock_guard<std::mutex> lock(w->mu_);
    RETURN_IF_ERROR(Annotate(w->OpenSegmentLocked(last + 1), what));
  }
  if (opts.sync == SyncPolicy::kGrouped) w->syncer_ = std::thread([p = w.get()] { p->BackgroundSync(); });
  return w;
}

Writer::~Writer() { (void)Close(); }

absl::Status Writer::OpenSegmentLocked(uint32_t index) {
  std::string path = fs::JoinPath(dir_, SegmentName(index));
  ASSIGN_OR_RETURN(std::unique_ptr<fs::WritableFile> f, fs_->NewWritableFile(path));
  std::string header = SegmentHeader();
  RETURN_IF_ERROR(f->Append(header));
  RETURN_IF_ERROR(f->Flush());
  // The new name must survive a power loss along with the records fsynced into it.
  RETURN_IF_ERROR(fs_->SyncDir(dir_));
  file_ = std::move(f);
  segment_ = index;
  bytes_written_ += static_cast<int64_t>(header.size());
  ++segments_created_;
  return absl::OkStatus();
}

absl::Status Writer::CutSegmentLocked() {
  // A leader may be fsyncing the current file without the lock; wait for it to finish.
  const uint32_t cutting = segment_;
  std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
  synced_cv_.wait(lock, [&] { return !syncing_; });
  lock.release();
  if (!failed_.ok()) return FailedLocked();
  if (closed_ || file_ == nullptr) return absl::FailedPreconditionError("wal: writer is closed");
  if (segment_ != cutting) return absl::OkStatus();  // another committer cut it meanwhile
  // Every closed segment is fully durable, so only the newest one can ever be torn.
  absl::Status s = file_->Sync();
  if (s.ok()) s = file_->Close();
  if (!s.ok()) {
    failed_ = Annotate(s, fmt::format("wal segment {}: sync before cut", segment_));
    return FailedLocked();
  }
  ++fsyncs_;
  synced_seq_ = appended_seq_;
  synced_cv_.notify_all();
  file_.reset();
  s = OpenSegmentLocked(segment_ + 1);
  if (!s.ok()) failed_ = Annotate(s, fmt::format("wal: start segment {}", segment_ + 1));
  return FailedLocked();
}

absl::Status Writer::Log(std::string_view record) {
  return Log(std::span<const std::string_view>(&record, 1));
}

absl::Status Writer::Log(std::span<const std::string_view> records) {
  uint64_t total = 0;
  for (std::string_view r : records) {
    if (r.empty() || r[0] == 0 || r.size() > kMaxRecordSize) {
      return absl::InvalidArgumentError(fmt::format(
          "wal log: record of {} bytes with type {} cannot be logged", r.size(),
          r.empty() ? 0 : static_cast<int>(static_cast<uint8_t>(r[0]))));
    }
    total += kRecordHeaderSize + r.size();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_) return absl::FailedPreconditionError("wal log: writer is closed");
  if (!failed_.ok()) return FailedLocked();
  // Cut first if these records would overflow a segment that already holds records. The
  // loop re-checks because the cut may wait (for a leader's fsync) and another committer
  // may have cut meanwhile.
  while (file_->Size() > kSegmentHeaderSize && file_->Size() + total > opts_.segment_bytes) {
    RETURN_IF_ERROR(CutSegmentLocked());
  }
  absl::Status s;
  for (std::string_view r : records) {
    char header[kRecordHeaderSize];
    PutFrameHeader(header, r);
    s = file_->Append(std::string_view(header, kRecordHeaderSize));
    if (s.ok()) s = file_->Append(r);
    if (!s.ok()) break;
  }
  if (s.ok()) s = file_->Flush();
  if (!s.ok()) {
    failed_ = Annotate(s, fmt::format("wal segment {}: write", segment_));
    synced_cv_.notify_all();
    return FailedLocked();
  }
  const uint64_t seq = ++appended_seq_;
  bytes_written_ += static_cast<int64_t>(total);
  records_written_ += static_cast<int64_t>(records.size());
  if (opts_.sync != SyncPolicy::kAlways) return absl::OkStatus();
  return WaitDurableLocked(lock, seq);
}

absl::Status Writer::WaitDurableLocked(std::unique_lock<std::mutex>& lock, uint64_t seq) {
  while (synced_seq_ < seq) {
    if (!failed_.ok()) return FailedLocked();
    if (syncing_) {
      synced_cv_.wait(lock);
      continue;
    }
    if (file_ == nullptr) {
      return absl::FailedPreconditionError("wal: writer closed before the records were synced");
    }
    // Lead: fsync everything flushed so far, for every committer waiting on it.
    syncing_ = true;
    const uint64_t target = appended_seq_;
    fs::WritableFile* f = file_.get();
    lock.unlock();
    absl::Status s = f->SyncFlushed();
    lock.lock();
    syncing_ = false;
    if (s.ok()) {
      synced_seq_ = std::max(synced_seq_, target);
      ++fsyncs_;
    } else {
      failed_ = Annotate(s, fmt::format("wal segment {}: fsync", segment_));
    }
    synced_cv_.notify_all();
  }
  return absl::OkStatus();
}

absl::Status Writer::Sync() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!failed_.ok()) return FailedLocked();
  if (closed_) return absl::OkStatus();  // Close synced everything
  return WaitDurableLocked(lock, appended_seq_);
}

void Writer::BackgroundSync() {
  const auto interval = std::chrono::milliseconds(std::max<int64_t>(1, opts_.sync_interval_ms));
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    stop_cv_.wait_for(lock, interval, [&] { return stop_; });
    if (stop_) break;
    if (failed_.ok() && appended_seq_ > synced_seq_ && file_ != nullptr) {
      absl::Status s = WaitDurableLocked(lock, appended_seq_);
      if (!s.ok()) VLOG_ERROR("wal", "background fsync failed: {}", std::string(s.message()));
    }
  }
}

absl::StatusOr<uint32_t> Writer::NextSegment() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return absl::FailedPreconditionError("wal next segment: writer is closed");
  if (!failed_.ok()) return FailedLocked();
  const uint32_t closed = segment_;
  RETURN_IF_ERROR(CutSegmentLocked());
  return closed;
}

absl::StatusOr<SegmentRange> Writer::Segments() { return ListSegments(fs_, dir_); }

uint32_t Writer::current_segment() const {
  std::lock_guard<std::mutex> lock(mu_);
  return segment_;
}

absl::Status Writer::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return absl::OkStatus();
    closed_ = true;
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();
  std::unique_lock<std::mutex> lock(mu_);
  synced_cv_.wait(lock, [&] { return !syncing_; });
  absl::Status s = FailedLocked();
  if (file_ != nullptr) {
    if (s.ok()) {
      s = file_->Sync();
      if (s.ok()) {
        ++fsyncs_;
        synced_seq_ = appended_seq_;
      }
    }
    absl::Status c = file_->Close();
    if (s.ok()) s = c;
    file_.reset();
    if (!s.ok() && failed_.ok()) failed_ = absl::Status(s.code(), s.message());
  }
  synced_cv_.notify_all();
  return Annotate(s, fmt::format("close wal segment {}", segment_));
}

WriterStats Writer::stats() const {
  return WriterStats{bytes_written_.load(), records_written_.load(), segments_created_.load(),
                     fsyncs_.load()};
}

}  // namespace vigil::storage::wal
