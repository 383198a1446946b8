#include "cmd/flags.h"

#include <limits>

#include "fmt/format.h"

namespace vigil::cmd {
namespace {

bool MulOverflows(int64_t a, int64_t b, int64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

absl::StatusOr<int64_t> ParseDuration(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("not a valid duration string: \"{}\" ({})", s, why));
  };
  if (s == "0") return 0;
  if (s.empty()) return bad("empty");
  struct Unit {
    std::string_view name;
    int64_t ms;
  };
  // Longest names first so "ms" is not read as "m".
  static constexpr Unit kUnits[] = {{"ms", 1},
                                    {"y", 365LL * 24 * 3600 * 1000},
                                    {"w", 7LL * 24 * 3600 * 1000},
                                    {"d", 24LL * 3600 * 1000},
                                    {"h", 3600LL * 1000},
                                    {"m", 60LL * 1000},
                                    {"s", 1000}};
  int64_t total = 0;
  int64_t last_unit = std::numeric_limits<int64_t>::max();
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    int64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (MulOverflows(n, 10, &n) || __builtin_add_overflow(n, s[i] - '0', &n)) return bad("too large");
      ++i;
    }
    if (i == start) return bad("expected a number");
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (s.substr(i, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return bad("expected a unit: y, w, d, h, m, s or ms");
    if (unit->ms >= last_unit) return bad("units must go from largest to smallest, each once");
    last_unit = unit->ms;
    i += unit->name.size();
    int64_t part;
    if (MulOverflows(n, unit->ms, &part) || __builtin_add_overflow(total, part, &total)) {
      return bad("too large");
    }
  }
  return total;
}

absl::StatusOr<int64_t> ParseBytes(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("not a valid byte size: \"{}\" ({})", s, why));
  };
  size_t i = 0;
  int64_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (MulOverflows(n, 10, &n) || __builtin_add_overflow(n, s[i] - '0', &n)) return bad("too large");
    ++i;
  }
  if (i == 0) return bad("expected a number");
  std::string_view unit = s.substr(i);
  if (unit.empty() || unit == "B") return n;
  static constexpr std::string_view kPrefixes = "KMGTPE";
  if (unit.size() < 2 || unit.size() > 3) return bad("expected a unit such as KB, MB, GB, TB, MiB");
  size_t p = kPrefixes.find(unit[0]);
  if (p == std::string_view::npos) return bad("expected a unit such as KB, MB, GB, TB, MiB");
  std::string_view rest = unit.substr(1);
  if (rest != "B" && rest != "iB") return bad("expected a unit such as KB, MB, GB, TB, MiB");
  int64_t out = n;
  for (size_t k = 0; k <= p; ++k) {
    if (MulOverflows(out, 1024, &out)) return bad("too large");
  }
  return out;
}

absl::StatusOr<WalSyncPolicy> ParseWalSync(std::string_view s) {
  if (s == "always") return WalSyncPolicy{true, 0};
  auto d = ParseDuration(s);
  if (!d.ok() || *d <= 0) {
    return absl::InvalidArgumentError(fmt::format(
        "\"{}\" is neither \"always\" nor a positive duration such as 100ms", s));
  }
  return WalSyncPolicy{false, *d};
}

}  // namespace vigil::cmd
