// Fuzzes body decompression (gzip, deflate, snappy, zstd) under a 1 MiB output cap.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "ingest/compression.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kEnc[] = {"gzip", "deflate", "snappy", "zstd"};
  std::string scratch;
  auto r = vigil::ingest::Decompress(kEnc[data[0] % 4],
                                     std::string_view(reinterpret_cast<const char*>(data + 1), size - 1),
                                     1 << 20, &scratch);
  if (r.ok() && r->size() > (1u << 20)) __builtin_trap();
  return 0;
}
