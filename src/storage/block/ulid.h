// ULID: the name of a block directory. 48 bits of Unix milliseconds then 80 random bits,
// written as 26 Crockford base32 characters, so names sort by creation time.
//
// Thread-safety: Ulid is a value. NewUlid may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::storage::block {

struct Ulid {
  std::array<uint8_t, 16> bytes{};

  // Milliseconds since the epoch stored in the first 48 bits.
  uint64_t time_ms() const;
  std::string ToString() const;
  // Accepts upper or lower case; rejects wrong lengths, bad characters and overflow.
  static absl::StatusOr<Ulid> Parse(std::string_view s);

  friend auto operator<=>(const Ulid&, const Ulid&) = default;
};

// A new ULID for time `ms` (default: now) with 80 random bits.
Ulid NewUlid(int64_t ms = -1);

}  // namespace vigil::storage::block
