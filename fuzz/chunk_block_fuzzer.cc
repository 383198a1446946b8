// Fuzzes the block codec two ways. Input starting with 0: the rest is decoded as a kBlock
// chunk (must never crash or hang, and AppendRange must agree with Next()). Otherwise the
// rest is read as samples (8 bytes t, 8 bytes v) and must survive encode -> decode bit for
// bit.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "storage/chunkenc/block_codec.h"
#include "storage/chunkenc/chunk.h"
#include "storage/chunkenc/chunk_testutil.h"

using vigil::storage::chunkenc::Encoding;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] == 0) {
    auto it = vigil::storage::chunkenc::NewIterator(Encoding::kBlock, rest);
    int n = 0;
    while (it->Next()) {
      if (++n % 5 == 0) it->Seek(it->At().t + 1000);
    }
    (void)it->Err();
    // AppendRange's own decode must return what Next() does, error included.
    auto d = vigil::storage::chunkenc::testutil::DecodeTwoWays(Encoding::kBlock, rest);
    if (d.next != d.range || d.next_err != d.range_err) abort();
    return 0;
  }
  std::vector<vigil::model::Sample> s;
  for (size_t off = 0; off + 16 <= rest.size() && s.size() < 65535; off += 16) {
    int64_t t;
    uint64_t v;
    std::memcpy(&t, rest.data() + off, 8);
    std::memcpy(&v, rest.data() + off + 8, 8);
    s.push_back({t, std::bit_cast<double>(v)});
  }
  if (s.empty()) return 0;
  auto enc = vigil::storage::chunkenc::EncodeBlockChunk(s);
  if (!enc.ok()) abort();
  auto it = vigil::storage::chunkenc::NewIterator(Encoding::kBlock, *enc);
  for (const auto& want : s) {
    if (!it->Next() || !(it->At() == want)) abort();
  }
  if (it->Next() || !it->Err().ok()) abort();
  return 0;
}
