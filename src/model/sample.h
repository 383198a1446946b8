// Sample: one (timestamp, value) point, and the staleness marker.
//
// Thread-safety: plain values.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

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

}  // namespace vigil::model
