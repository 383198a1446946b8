// Fuzzes the Influx line protocol decoder with every precision.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/push_decoders.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  vigil::ingest::InfluxOptions o;
  o.precision = static_cast<vigil::ingest::InfluxPrecision>(data[0] % 6);
  vigil::ingest::DecodedBatch b;
  (void)vigil::ingest::DecodeInflux(
      std::string_view(reinterpret_cast<const char*>(data + 1), size - 1), o, 0, &b);
  for (auto& s : b.samples) vigil::ingest::NormalizeLabels(&s.labels);
  return 0;
}
