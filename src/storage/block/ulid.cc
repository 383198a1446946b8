#include "storage/block/ulid.h"

#include <chrono>
#include <mutex>
#include <random>

#include "fmt/format.h"

namespace vigil::storage::block {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int DecodeChar(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (int i = 0; i < 32; ++i) {
    if (kAlphabet[i] == c) return i;
  }
  return -1;
}

}  // namespace

uint64_t Ulid::time_ms() const {
  uint64_t t = 0;
  for (int i = 0; i < 6; ++i) t = t << 8 | bytes[i];
  return t;
}

// 128 bits as 26 base32 digits: the first digit holds the top 3 bits (128 = 2 + 25*5 + 1:
// read as a 130-bit number with two leading zero bits).
std::string Ulid::ToString() const {
  std::string out(26, '0');
  // Work on the 128-bit value as two 64-bit halves.
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) hi = hi << 8 | bytes[i];
  for (int i = 8; i < 16; ++i) lo = lo << 8 | bytes[i];
  for (int i = 25; i >= 0; --i) {
    out[i] = kAlphabet[lo & 31];
    lo = lo >> 5 | hi << 59;
    hi >>= 5;
  }
  return out;
}

absl::StatusOr<Ulid> Ulid::Parse(std::string_view s) {
  if (s.size() != 26) return absl::InvalidArgumentError(fmt::format("ulid {:?}: want 26 characters", s));
  uint64_t hi = 0, lo = 0;
  for (size_t i = 0; i < 26; ++i) {
    int d = DecodeChar(s[i]);
    if (d < 0) return absl::InvalidArgumentError(fmt::format("ulid {:?}: bad character {:?}", s, s[i]));
    if (i == 0 && d > 7) return absl::InvalidArgumentError(fmt::format("ulid {:?}: overflows 128 bits", s));
    hi = hi << 5 | lo >> 59;
    lo = lo << 5 | static_cast<uint64_t>(d);
  }
  Ulid u;
  for (int i = 7; i >= 0; --i, hi >>= 8) u.bytes[i] = static_cast<uint8_t>(hi);
  for (int i = 15; i >= 8; --i, lo >>= 8) u.bytes[i] = static_cast<uint8_t>(lo);
  return u;
}

Ulid NewUlid(int64_t ms) {
  if (ms < 0) {
    ms = std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count();
  }
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  uint64_t r1, r2;
  {
    std::lock_guard<std::mutex> l(mu);
    r1 = rng();
    r2 = rng();
  }
  Ulid u;
  uint64_t t = static_cast<uint64_t>(ms);
  for (int i = 5; i >= 0; --i, t >>= 8) u.bytes[i] = static_cast<uint8_t>(t);
  for (int i = 6; i < 14; ++i, r1 >>= 8) u.bytes[i] = static_cast<uint8_t>(r1);
  u.bytes[14] = static_cast<uint8_t>(r2);
  u.bytes[15] = static_cast<uint8_t>(r2 >> 8);
  return u;
}

}  // namespace vigil::storage::block
