// Sample: one (timestamp, value) point, and the staleness marker.
//
// Thread-safety: plain values.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace vigil::model {

struct Sample {
  int64_t t;  // milliseconds since the Unix epoch
  double v;
  friend bool operator==(const Sample& a, const Sample& b) {
    return a.t == b.t && std::bit_cast<uint64_t>(a.v) == std::bit_cast<uint64_t>(b.v);
  }
};

// Prometheus marks a series as gone with this exact NaN; it is stored and returned like
// any value, and PromQL treats it as "no sample here".
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
inline double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }
inline bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

inline constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

// Appends the samples with mint <= t <= maxt of a sample iterator (Seek/Next/At, as
// storage's and the chunk codecs' iterators have) one call at a time: what an iterator
// without a faster range decode of its own does.
template <typename Iterator>
void AppendRangeBySteps(Iterator& it, int64_t mint, int64_t maxt, std::vector<Sample>* out) {
  if (!it.Seek(mint)) return;
  do {
    Sample s = it.At();
    if (s.t > maxt) return;
    out->push_back(s);
  } while (it.Next());
}

}  // namespace vigil::model
