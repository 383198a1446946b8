// Internal helpers shared by the WAL's writer, reader and checkpoint code: directory
// listing, name parsing, and the frame parser for one segment's bytes (also the entry point
// of the segment fuzzer).
//
// Thread-safety: stateless functions; a SegmentParser belongs to one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fs/file_system.h"
#include "storage/wal/wal_format.h"

namespace vigil::storage::wal {

struct DirListing {
  std::vector<uint32_t> segments;     // ascending
  std::vector<uint32_t> checkpoints;  // published checkpoint.NNNNNNNN, ascending
  std::vector<std::string> tmp_dirs;  // unfinished checkpoint.NNNNNNNN.tmp names
};
absl::StatusOr<DirListing> ListWalDir(fs::FileSystem* fs, const std::string& dir);

// Parses an 8-to-10-digit positive decimal index.
bool ParseIndex(std::string_view s, uint32_t* index);
bool ParseCheckpointName(std::string_view name, uint32_t* index);
std::string CheckpointName(uint32_t last_segment);

// The 8-byte segment header.
std::string SegmentHeader();

// Walks the records of one segment file's bytes. Stops at the first damage and says what
// and where; it never looks for a later record to resynchronise on, since what follows
// damage may be stale bytes from an earlier life of the file.
class SegmentParser {
 public:
  explicit SegmentParser(std::string_view data) : data_(data) {}

  // Checks the segment header; on failure error() is set (offset 0).
  bool ReadHeader();
  // The next record (type byte + payload) in *record. False at a clean end of the data or
  // at damage (error() set).
  bool Next(std::string_view* record);

  // Offset of the record last returned, or of the damage.
  uint64_t offset() const { return offset_; }
  const std::optional<std::string>& error() const { return error_; }

 private:
  bool Fail(std::string reason);

  std::string_view data_;
  uint64_t pos_ = 0;
  uint64_t offset_ = 0;
  std::optional<std::string> error_;
};

}  // namespace vigil::storage::wal
