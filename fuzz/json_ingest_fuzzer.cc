// Fuzzes the JSON seed-API decoder (simdjson on demand).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/push_decoders.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vigil::ingest::DecodedBatch b;
  (void)vigil::ingest::DecodeJson(std::string_view(reinterpret_cast<const char*>(data), size),
                                  1'700'000'000'000, &b);
  return 0;
}
