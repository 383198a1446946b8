// Fuzzes the XOR chunk decoder and appender-resume on untrusted bytes: never a crash, a
// hang or an out-of-bounds read; corruption may only surface as Iterator::Err or a failed
// NewAppender. AppendRange's unchecked decode loop must return what Next() does, error
// included.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "storage/chunkenc/chunk.h"
#include "storage/chunkenc/chunk_testutil.h"

using vigil::storage::chunkenc::Encoding;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view b(reinterpret_cast<const char*>(data), size);
  {
    // AppendRange's own decode must return what Next() does, error included.
    auto d = vigil::storage::chunkenc::testutil::DecodeTwoWays(Encoding::kXor, b);
    if (d.next != d.range || d.next_err != d.range_err) abort();
  }
  auto it = vigil::storage::chunkenc::NewIterator(Encoding::kXor, b);
  int64_t last = 0;
  int n = 0;
  while (it->Next()) {
    last = it->At().t;
    if (++n % 7 == 0) it->Seek(last + 100);
  }
  (void)it->Err();
  auto c = vigil::storage::chunkenc::FromData(Encoding::kXor, b);
  if (c.ok() && (*c)->num_samples() < 65535) {
    auto app = (*c)->NewAppender();
    if (app.ok()) {
      (*app)->Append(last + 1, 1.5);
      auto it2 = (*c)->NewIterator();
      while (it2->Next()) {
      }
    }
  }
  return 0;
}
