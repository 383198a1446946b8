// Test and benchmark helpers: sample series shaped like real scrapes and adversarial ones.
//
// Thread-safety: plain functions over caller-owned generators.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "model/sample.h"
#include "storage/chunkenc/chunk.h"

namespace vigil::storage::chunkenc::testutil {

inline double RoundTo(double v, int decimals) {
  double p = std::pow(10.0, decimals);
  return std::round(v * p) / p;
}

// One series like node_exporter's, of `kind`:
//   0 counter with integer increments, 1 counter in 2-decimal seconds,
//   2 counter in 9-decimal seconds, 3 gauge random walk in 4 KiB steps,
//   4 constant, 5 noisy 9-decimal gauge (durations), 6 barely moving error counter,
//   7 gauge with 2 decimals (load average).
inline std::vector<model::Sample> NodeExporterLike(int kind, int n, std::mt19937_64& rng,
                                                   int64_t t0 = 1700000000000, int64_t step = 15000) {
  std::normal_distribution<double> gauss(0, 1);
  std::uniform_real_distribution<double> uni(0, 1);
  std::vector<model::Sample> out;
  double rate = std::pow(10.0, uni(rng) * 6 - 2);  // 0.01 .. 10^4 per second
  double v = rate * (1e4 + uni(rng) * 5e6);
  for (int i = 0; i < n; ++i) {
    int64_t t = t0 + step * i;
    double x;
    switch (kind) {
      case 0: {
        double inc = rate * 15 * (1 + 0.3 * gauss(rng));
        if (inc > 0) v += inc;
        x = std::floor(v);
        break;
      }
      case 1: {
        double inc = 0.4 * 15 * (1 + 0.2 * gauss(rng));
        if (inc > 0) v += inc;
        x = RoundTo(v / 1e3, 2);
        break;
      }
      case 2: {
        double inc = 0.3 * 15 * (1 + 0.3 * gauss(rng));
        if (inc > 0) v += inc;
        x = RoundTo(v / 1e3, 9);
        break;
      }
      case 3:
        v += gauss(rng) * 4096 * 50;
        x = std::floor(v / 4096) * 4096;
        break;
      case 4:
        x = 17179869184.0;
        break;
      case 5:
        x = RoundTo(std::fabs(0.08 * (1 + 0.3 * gauss(rng))), 9);
        break;
      case 6:
        if (uni(rng) < 0.02) v += 1;
        x = std::floor(v);
        break;
      default:
        if (i == 0) v = 2.0;
        v = std::max(0.0, v + gauss(rng) * 0.15);
        x = RoundTo(v, 2);
        break;
    }
    out.push_back({t, x});
  }
  return out;
}

// A mix of series shaped roughly like shared/bench/gen_workload.py's node_exporter hosts:
// 55% counters (mostly integer byte/packet counters, some in 2/9-decimal seconds, many
// barely moving), 20% gauges, 20% constants, 5% noisy durations. `scale` series per percent.
inline std::vector<std::vector<model::Sample>> NodeExporterMix(std::mt19937_64& rng, int scale, int n) {
  struct Mix {
    int kind;
    int share;
  };
  const Mix mix[] = {{0, 25}, {1, 10}, {2, 5}, {6, 15}, {3, 12}, {7, 8}, {4, 20}, {5, 5}};
  std::vector<std::vector<model::Sample>> out;
  for (const auto& m : mix) {
    for (int i = 0; i < m.share * scale; ++i) out.push_back(NodeExporterLike(m.kind, n, rng));
  }
  return out;
}

// Values with awkward bit patterns: NaN payloads, infinities, signed zeros, denormals,
// the staleness marker, extremes.
inline std::vector<double> NastyValues() {
  return {0.0,
          -0.0,
          std::numeric_limits<double>::infinity(),
          -std::numeric_limits<double>::infinity(),
          std::bit_cast<double>(uint64_t{0x7ff8000000000000}),
          std::bit_cast<double>(uint64_t{0x7ff8dead0000beef}),
          std::bit_cast<double>(uint64_t{0xfff0000000000001}),
          model::StaleNaN(),
          std::numeric_limits<double>::denorm_min(),
          -std::numeric_limits<double>::denorm_min(),
          std::numeric_limits<double>::max(),
          std::numeric_limits<double>::lowest(),
          std::numeric_limits<double>::min(),
          1.0,
          0.1,
          9223372036854775807.0,
          18446744073709551615.0,
          -1e-300,
          3.141592653589793};
}

// A chunk decoded twice, with Next() and with one AppendRange over all time, so that tests
// and fuzzers can check that AppendRange's own decode loop agrees with Next(), error
// included. `range` starts as `range_prefix`: AppendRange appends to what it is given.
struct TwoDecodes {
  std::vector<model::Sample> next, range;
  absl::Status next_err, range_err;
};
inline TwoDecodes DecodeTwoWays(Encoding enc, std::string_view bytes,
                                std::vector<model::Sample> range_prefix = {}) {
  TwoDecodes d;
  auto next_it = NewIterator(enc, bytes);
  while (next_it->Next()) d.next.push_back(next_it->At());
  d.next_err = next_it->Err();
  d.range = std::move(range_prefix);
  auto range_it = NewIterator(enc, bytes);
  range_it->AppendRange(model::kMinTime, model::kMaxTime, &d.range);
  d.range_err = range_it->Err();
  return d;
}

}  // namespace vigil::storage::chunkenc::testutil
