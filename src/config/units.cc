#include "config/units.h"

#include <cctype>
#include <limits>

#include "fmt/format.h"

namespace vigil::config {
namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};
// Longest names first where one is a prefix of another ("ms" before "m").
constexpr Unit kDurationUnits[] = {
    {"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000}, {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},            {"ms", 1},                      {"m", 60LL * 1000},
    {"s", 1000},
};
// Position of each unit in the required descending order (y w d h m s ms).
int UnitRank(std::string_view u) {
  static constexpr std::string_view kOrder[] = {"y", "w", "d", "h", "m", "s", "ms"};
  for (int i = 0; i < 7; ++i) {
    if (kOrder[i] == u) return i;
  }
  return -1;
}

absl::Status Invalid(std::string_view kind, std::string_view s, std::string_view why) {
  return absl::InvalidArgumentError(fmt::format("invalid {} \"{}\": {}", kind, s, why));
}

}  // namespace

absl::StatusOr<int64_t> ParseDuration(std::string_view s) {
  if (s == "0") return 0;
  if (s.empty()) return Invalid("duration", s, "empty string");
  int64_t total = 0;
  int last_rank = -1;
  size_t i = 0;
  while (i < s.size()) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) {
      return Invalid("duration", s, "expected a number such as 15s, 5m, 1h30m, 7d");
    }
    int64_t n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) {
        return Invalid("duration", s, "number too large");
      }
      n = n * 10 + (s[i++] - '0');
    }
    size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(u, i - u);
    if (unit.empty()) return Invalid("duration", s, "missing unit (y, w, d, h, m, s, ms)");
    const Unit* found = nullptr;
    for (const auto& cand : kDurationUnits) {
      if (cand.name == unit) found = &cand;
    }
    if (found == nullptr) return Invalid("duration", s, fmt::format("unknown unit \"{}\"", unit));
    int rank = UnitRank(unit);
    if (rank <= last_rank) return Invalid("duration", s, "units must be in order y w d h m s ms");
    last_rank = rank;
    if (n > std::numeric_limits<int64_t>::max() / found->ms) {
      return Invalid("duration", s, "duration too large");
    }
    total += n * found->ms;
    if (total < 0) return Invalid("duration", s, "duration too large");
  }
  return total;
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  static constexpr Unit kOrder[] = {{"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000},
                                    {"d", 24LL * 3600 * 1000},       {"h", 3600LL * 1000},
                                    {"m", 60LL * 1000},              {"s", 1000},
                                    {"ms", 1}};
  for (const auto& u : kOrder) {
    if (ms >= u.ms) {
      out += fmt::format("{}{}", ms / u.ms, u.name);
      ms %= u.ms;
    }
  }
  return out;
}

absl::StatusOr<int64_t> ParseBytes(std::string_view s) {
  if (s.empty()) return Invalid("size", s, "empty string");
  size_t i = 0;
  int64_t n = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return Invalid("size", s, "too large");
    n = n * 10 + (s[i++] - '0');
  }
  if (i == 0) return Invalid("size", s, "expected a number such as 512MB or 10GB");
  // Case matters, as in Prometheus: "10mb" is refused rather than guessed at.
  std::string_view unit = s.substr(i);
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"", 0},   {"B", 0},    {"KB", 10},  {"MB", 20},  {"GB", 30},  {"TB", 40},  {"PB", 50},
      {"EB", 60}, {"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"PiB", 50}, {"EiB", 60}};
  for (const auto& [name, shift] : kUnits) {
    if (unit == name) {
      if (shift > 0 && n > (std::numeric_limits<int64_t>::max() >> shift)) {
        return Invalid("size", s, "too large");
      }
      return n << shift;
    }
  }
  return Invalid("size", s, fmt::format("unknown unit \"{}\" (use B, KB, MB, GB, TB, PB)", s.substr(i)));
}

}  // namespace vigil::config
