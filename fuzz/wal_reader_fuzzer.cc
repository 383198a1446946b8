// Fuzzes the WAL segment reader with arbitrary bytes as a segment file: replay must never
// crash, must stop at the first damage, and after Repair a second replay must yield the
// same records and no corruption.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "spdlog/spdlog.h"
#include "fs/file_system.h"
#include "storage/wal/segments_internal.h"
#include "storage/wal/wal.h"

namespace w = vigil::storage::wal;

namespace {

struct Result {
  std::vector<std::string> records;
  std::optional<w::Corruption> corruption;
};

Result ReplayAll(vigil::fs::FileSystem* fs) {
  Result r;
  auto reader = w::Reader::Open(fs, "/wal");
  VIGIL_CHECK(reader.ok());
  while ((*reader)->Next()) {
    std::string_view rec = (*reader)->record();
    VIGIL_CHECK(!rec.empty() && rec[0] != 0);
    r.records.emplace_back(rec);
  }
  VIGIL_CHECK((*reader)->status().ok());
  r.corruption = (*reader)->corruption();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Repair logs a warning per input; keep the fuzzer's output readable.
  static const bool quiet = (spdlog::set_level(spdlog::level::off), true);
  (void)quiet;
  std::string_view in(reinterpret_cast<const char*>(data), size);

  // The parser on its own, over the raw bytes and over the bytes behind a valid header.
  for (const std::string& bytes : {std::string(in), w::SegmentHeader() + std::string(in)}) {
    w::SegmentParser p(bytes);
    if (!p.ReadHeader()) continue;
    std::string_view rec;
    uint64_t last = 0;
    while (p.Next(&rec)) {
      VIGIL_CHECK(p.offset() >= last && p.offset() + w::kRecordHeaderSize + rec.size() <= bytes.size());
      last = p.offset();
    }
  }

  // Full replay and repair through the in-memory filesystem.
  auto fs = vigil::fs::NewMemFileSystem();
  VIGIL_CHECK(fs->MkdirAll("/wal").ok());
  {
    auto f = fs->NewWritableFile("/wal/" + w::SegmentName(1));
    VIGIL_CHECK(f.ok());
    VIGIL_CHECK((*f)->Append(w::SegmentHeader() + std::string(in)).ok());
    VIGIL_CHECK((*f)->Close().ok());
  }
  Result first = ReplayAll(fs.get());
  if (first.corruption) {
    VIGIL_CHECK(w::Repair(fs.get(), "/wal", *first.corruption).ok());
    Result second = ReplayAll(fs.get());
    VIGIL_CHECK(!second.corruption);
    VIGIL_CHECK(second.records == first.records);
  }
  return 0;
}
