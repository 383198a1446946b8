#include "cmd/flags.h"

#include "fmt/format.h"

namespace vigil::cmd {

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
