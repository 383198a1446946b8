// Fuzzes the block index reader: Open on untrusted bytes, then every lookup it offers.
// Must never crash, hang or read out of bounds; corruption is a Status.
//
// Checksums would stop almost every mutation at Open, so when the first input byte is odd
// the harness first recomputes the TOC and section CRCs of the rest, letting the fuzzer
// reach the section parsers and the per-series decoder with checksum-valid garbage.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/crc32c.h"
#include "storage/index/index.h"
#include "storage/index/index_format.h"

using namespace vigil::storage::index;

namespace {

uint64_t GetBE(const std::string& b, size_t off, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = v << 8 | static_cast<uint8_t>(b[off + i]);
  return v;
}

void PutBE32(std::string& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[off + i] = static_cast<char>(v >> (24 - 8 * i));
}

void FixChecksums(std::string& b) {
  if (b.size() < static_cast<size_t>(format::kHeaderSize + format::kTocSize)) return;
  const size_t toc = b.size() - format::kTocSize;
  for (int i = 0; i < format::kNumSections; ++i) {
    uint64_t off = GetBE(b, toc + 8 * i, 8);
    if (off > toc || toc - off < 8) continue;
    uint64_t len = GetBE(b, off, 4);
    if (len > toc - off - 8) continue;
    PutBE32(b, off + 4 + len, vigil::crc32c::Value(b.data() + off + 4, len));
  }
  PutBE32(b, toc + format::kNumSections * 8, vigil::crc32c::Value(b.data() + toc, format::kNumSections * 8));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string b(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) FixChecksums(b);
  auto r = IndexReader::Open(b);
  if (!r.ok()) return 0;
  const IndexReader& ir = **r;
  for (auto name : ir.LabelNames()) {
    for (auto value : ir.LabelValues(name)) {
      auto p = ir.Postings(name, value);
      (void)ExpandPostings(*p);
    }
  }
  vigil::model::Labels labels;
  std::vector<ChunkMetaRef> chunks;
  for (uint64_t id = 0; id < ir.num_series() && id < 100000; ++id) (void)ir.Series(id, &labels, &chunks);
  auto all = ir.AllPostings();
  int n = 0;
  while (all->Next() && ++n < 100000) (void)ir.Series(all->At(), &labels, &chunks);
  return 0;
}
