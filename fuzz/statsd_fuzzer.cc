// Fuzzes StatsD parsing and aggregation with both observers, flushing after each packet.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/statsd.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  vigil::ingest::StatsdOptions o;
  if (data[0] & 1) o.observer = vigil::ingest::StatsdOptions::Observer::kHistogram;
  o.max_series = 64;
  vigil::ingest::StatsdAggregator a(o);
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  a.Ingest(in, 1000);
  vigil::ingest::DecodedBatch b;
  a.Flush(2000, &b);
  a.Ingest(in, 3000);
  a.Flush(4000, &b);
  return 0;
}
