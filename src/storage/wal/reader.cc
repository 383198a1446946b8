// Replay: the segment frame parser, the Reader over a sequence of segment files, and
// Repair, which cuts the log where the Reader found damage.
#include <cstring>

#include "base/crc32c.h"
#include "base/log.h"
#include "base/status.h"
#include "fmt/format.h"
#include "storage/wal/segments_internal.h"
#include "storage/wal/wal.h"

namespace vigil::storage::wal {
namespace {

uint32_t LoadBE32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}

bool AllZero(std::string_view s) {
  for (char c : s) {
    if (c != 0) return false;
  }
  return true;
}

}  // namespace

std::string SegmentHeader() {
  std::string h(kSegmentMagic);
  h.push_back(static_cast<char>(kSegmentFormatV1));
  h.append(kSegmentHeaderSize - h.size(), '\0');
  return h;
}

bool SegmentParser::Fail(std::string reason) {
  error_ = std::move(reason);
  return false;
}

bool SegmentParser::ReadHeader() {
  offset_ = 0;
  if (data_.empty()) return Fail("empty segment file");
  if (data_.size() < kSegmentHeaderSize) {
    return Fail(fmt::format("truncated segment header ({} of {} bytes)", data_.size(),
                            kSegmentHeaderSize));
  }
  if (data_.substr(0, kSegmentMagic.size()) != kSegmentMagic) {
    return Fail(AllZero(data_.substr(0, kSegmentHeaderSize)) ? "zero-filled segment header"
                                                              : "bad segment magic");
  }
  uint8_t version = static_cast<uint8_t>(data_[kSegmentMagic.size()]);
  if (version != kSegmentFormatV1) {
    return Fail(fmt::format("unsupported segment format version {}", version));
  }
  pos_ = kSegmentHeaderSize;
  return true;
}

bool SegmentParser::Next(std::string_view* record) {
  if (error_) return false;
  offset_ = pos_;
  if (pos_ >= data_.size()) return false;
  const uint64_t left = data_.size() - pos_;
  std::string_view rest = data_.substr(pos_);
  if (left < kRecordHeaderSize) {
    if (AllZero(rest)) return Fail(fmt::format("zero-filled tail of {} bytes", left));
    return Fail(fmt::format("torn record header: {} bytes before end of file", left));
  }
  const uint32_t len = LoadBE32(rest.data());
  const uint32_t crc = LoadBE32(rest.data() + 4);
  if (len == 0) {
    if (AllZero(rest)) return Fail(fmt::format("zero-filled tail of {} bytes", left));
    return Fail("record length 0");
  }
  if (len > kMaxRecordSize) {
    return Fail(fmt::format("record length {} exceeds the maximum {}", len, kMaxRecordSize));
  }
  if (len > left - kRecordHeaderSize) {
    return Fail(fmt::format("torn record: length {} runs past end of file ({} bytes left)", len,
                            left - kRecordHeaderSize));
  }
  std::string_view rec = rest.substr(kRecordHeaderSize, len);
  const uint32_t actual = crc32c::Value(rec);
  if (actual != crc) {
    return Fail(fmt::format("crc mismatch in record of {} bytes (stored {:08x}, computed {:08x})",
                            len, crc, actual));
  }
  if (rec[0] == 0) return Fail("record type 0");
  *record = rec;
  pos_ += kRecordHeaderSize + len;
  return true;
}

std::string Corruption::ToString() const {
  return fmt::format("{}wal segment {} ({}) at offset {}: {}", in_checkpoint ? "checkpoint " : "",
                     segment, path, offset, reason);
}

Reader::Reader(fs::FileSystem* fs, std::vector<File> files, ReaderOptions opts)
    : fs_(fs), files_(std::move(files)), opts_(std::move(opts)) {}
Reader::~Reader() = default;

absl::StatusOr<std::unique_ptr<Reader>> Reader::Open(fs::FileSystem* fs, const std::string& dir,
                                                     ReaderOptions opts) {
  ASSIGN_OR_RETURN(ReplayPlan plan, PlanReplay(fs, dir));
  std::vector<File> files;
  if (!plan.checkpoint_segments.empty()) {
    for (uint32_t s = plan.checkpoint_segments.first; s <= plan.checkpoint_segments.last; ++s) {
      files.push_back({fs::JoinPath(plan.checkpoint_dir, SegmentName(s)), s, true});
    }
  }
  if (!plan.segments.empty()) {
    for (uint32_t s = plan.segments.first; s <= plan.segments.last; ++s) {
      files.push_back({fs::JoinPath(dir, SegmentName(s)), s, false});
    }
  }
  return std::unique_ptr<Reader>(new Reader(fs, std::move(files), std::move(opts)));
}

absl::StatusOr<std::unique_ptr<Reader>> Reader::OpenSegments(fs::FileSystem* fs,
                                                             const std::string& dir,
                                                             SegmentRange range,
                                                             ReaderOptions opts) {
  std::vector<File> files;
  if (!range.empty()) {
    for (uint32_t s = range.first; s <= range.last; ++s) {
      files.push_back({fs::JoinPath(dir, SegmentName(s)), s, false});
    }
  }
  return std::unique_ptr<Reader>(new Reader(fs, std::move(files), std::move(opts)));
}

RecordType Reader::type() const {
  return record_.empty() ? RecordType::kInvalid
                         : static_cast<RecordType>(static_cast<uint8_t>(record_[0]));
}

uint32_t Reader::segment() const {
  size_t i = next_file_ == 0 ? 0 : next_file_ - 1;
  return i < files_.size() ? files_[i].segment : 0;
}

bool Reader::OpenNextFile() {
  map_.reset();
  if (next_file_ >= files_.size()) return false;
  const File& f = files_[next_file_++];
  if (opts_.progress) opts_.progress({next_file_, files_.size(), f.segment, f.checkpoint});
  auto corrupt = [&](uint64_t offset, std::string reason) {
    corruption_ = Corruption{f.path, f.segment, f.checkpoint, offset, std::move(reason)};
    return false;
  };
  auto m = fs_->MapFile(f.path);
  if (!m.ok()) {
    if (m.status().code() == absl::StatusCode::kNotFound) {
      return corrupt(0, "segment file missing from the sequence");
    }
    status_ = Annotate(m.status(), fmt::format("replay wal segment {}", f.segment));
    return false;
  }
  map_ = std::move(*m);
  data_ = map_->data();
  SegmentParser header(data_);
  if (!header.ReadHeader()) return corrupt(0, *header.error());
  pos_ = kSegmentHeaderSize;
  return true;
}

bool Reader::Next() {
  record_ = {};
  while (!corruption_ && status_.ok()) {
    if (map_ == nullptr) {
      if (!OpenNextFile()) return false;
    }
    // Parse from where the previous record ended.
    std::string_view rest = data_.substr(pos_);
    if (rest.empty()) {
      map_.reset();
      continue;
    }
    SegmentParser tail(rest);
    std::string_view rec;
    if (!tail.Next(&rec)) {
      const File& f = files_[next_file_ - 1];
      corruption_ = Corruption{f.path, f.segment, f.checkpoint, pos_, *tail.error()};
      return false;
    }
    record_ = rec;
    record_offset_ = pos_;
    pos_ += kRecordHeaderSize + rec.size();
    ++records_read_;
    return true;
  }
  return false;
}

absl::StatusOr<RepairResult> Repair(fs::FileSystem* fs, const std::string& dir,
                                    const Corruption& c) {
  RepairResult r;
  std::string what = fmt::format("repair wal: {}", c.ToString());
  ASSIGN_OR_RETURN(bool exists, fs->Exists(c.path));
  if (exists) {
    ASSIGN_OR_RETURN(uint64_t size, fs->FileSize(c.path));
    if (c.offset < kSegmentHeaderSize) {
      RETURN_IF_ERROR(Annotate(fs->Remove(c.path), what));
      r.bytes_dropped = size;
    } else if (c.offset < size) {
      RETURN_IF_ERROR(Annotate(fs->Truncate(c.path, c.offset), what));
      r.bytes_dropped = size - c.offset;
    }
  }
  // Everything replay would read after the damaged file goes: later checkpoint segments
  // (if the damage is in the checkpoint) and later WAL segments.
  ASSIGN_OR_RETURN(ReplayPlan plan, PlanReplay(fs, dir));
  auto remove = [&](const std::string& path) -> absl::Status {
    ASSIGN_OR_RETURN(uint64_t size, fs->FileSize(path));
    RETURN_IF_ERROR(Annotate(fs->Remove(path), what));
    r.bytes_dropped += size;
    ++r.segments_removed;
    return absl::OkStatus();
  };
  if (c.in_checkpoint && !plan.checkpoint_segments.empty()) {
    for (uint32_t s = std::max(c.segment + 1, plan.checkpoint_segments.first);
         s <= plan.checkpoint_segments.last; ++s) {
      std::string p = fs::JoinPath(plan.checkpoint_dir, SegmentName(s));
      ASSIGN_OR_RETURN(bool e, fs->Exists(p));
      if (e) RETURN_IF_ERROR(remove(p));
    }
  }
  if (!plan.segments.empty()) {
    uint32_t from = c.in_checkpoint ? plan.segments.first : std::max(c.segment + 1, plan.segments.first);
    for (uint32_t s = from; s <= plan.segments.last; ++s) {
      std::string p = fs::JoinPath(dir, SegmentName(s));
      ASSIGN_OR_RETURN(bool e, fs->Exists(p));
      if (e) RETURN_IF_ERROR(remove(p));
    }
  }
  if (c.in_checkpoint) {
    RETURN_IF_ERROR(Annotate(fs->SyncDir(plan.checkpoint_dir), what));
  }
  RETURN_IF_ERROR(Annotate(fs->SyncDir(dir), what));
  VLOG_WARN("wal", "truncated corrupt log: {}; dropped {} bytes and {} later segment files",
            c.ToString(), r.bytes_dropped, r.segments_removed);
  return r;
}

}  // namespace vigil::storage::wal
