// Fuzzes the WAL record payload decoders with arbitrary bytes. Each decoder must either
// reject the input with a Status or accept it; whatever it accepts must survive a
// re-encode/decode round trip unchanged.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "storage/wal/records.h"

namespace w = vigil::storage::wal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string rec, again;
  // Try the bytes as they are, and with each type byte forced, so every decoder sees
  // every input past its type check.
  for (uint8_t type = 0; type <= 5; ++type) {
    rec.assign(in);
    if (type != 0) {
      if (rec.empty()) rec.push_back(0);
      rec[0] = static_cast<char>(type);
    }
    std::vector<w::RefSeries> series, series2;
    if (w::DecodeSeries(rec, &series).ok()) {
      w::EncodeSeries(series, &again);
      VIGIL_CHECK(w::DecodeSeries(again, &series2).ok());
      VIGIL_CHECK(series == series2);
    }
    std::vector<w::RefSample> samples, samples2;
    if (w::DecodeSamples(rec, &samples).ok()) {
      w::EncodeSamples(samples, &again);
      VIGIL_CHECK(w::DecodeSamples(again, &samples2).ok());
      VIGIL_CHECK(samples == samples2);
    }
    std::vector<w::RefExemplar> exemplars, exemplars2;
    if (w::DecodeExemplars(rec, &exemplars).ok()) {
      w::EncodeExemplars(exemplars, &again);
      VIGIL_CHECK(w::DecodeExemplars(again, &exemplars2).ok());
      VIGIL_CHECK(exemplars == exemplars2);
    }
    std::vector<w::RefTombstone> tombstones, tombstones2;
    if (w::DecodeTombstones(rec, &tombstones).ok()) {
      w::EncodeTombstones(tombstones, &again);
      VIGIL_CHECK(w::DecodeTombstones(again, &tombstones2).ok());
      VIGIL_CHECK(tombstones == tombstones2);
    }
  }
  return 0;
}
