// Fuzzes the OTLP/HTTP JSON decoder (protobuf's JSON parser plus Vigil's OTLP mapping).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/otlp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vigil::ingest::DecodedBatch b;
  (void)vigil::ingest::DecodeOtlpJson(std::string_view(reinterpret_cast<const char*>(data), size),
                                      1'700'000'000'000, &b);
  return 0;
}
