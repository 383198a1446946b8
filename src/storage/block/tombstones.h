// Tombstones: deleted time ranges per series of one block.
//
// Deleting data from an immutable block does not rewrite it: the ranges are recorded in
// the block's `tombstones` file and removed from every read; compaction drops them for good.
//
// Thread-safety: a Tombstones value is immutable once built and may be shared; Block swaps
// in a new one on Delete.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::storage::block {

struct Interval {
  int64_t mint;  // inclusive
  int64_t maxt;  // inclusive
  friend bool operator==(const Interval&, const Interval&) = default;
};

// Sorted, non-overlapping, non-adjacent intervals.
using Intervals = std::vector<Interval>;

// Adds `iv` to `ivs`, merging overlapping and adjacent ranges.
void AddInterval(Intervals* ivs, Interval iv);
// True if `t` lies in one of `ivs`.
bool IsDeleted(const Intervals& ivs, int64_t t);

class Tombstones {
 public:
  void Add(uint64_t series, Interval iv) { AddInterval(&m_[series], iv); }
  // Empty if the series has none.
  const Intervals& Get(uint64_t series) const;
  bool empty() const { return m_.empty(); }
  size_t num_series() const { return m_.size(); }
  const std::map<uint64_t, Intervals>& all() const { return m_; }

  std::string Encode() const;
  static absl::StatusOr<Tombstones> Decode(std::string_view b);

 private:
  std::map<uint64_t, Intervals> m_;
};

}  // namespace vigil::storage::block
