#include "base/log.h"

#include <cstdio>
#include <cstdlib>

#include "base/status.h"
#include "spdlog/sinks/stdout_sinks.h"

namespace vigil {
namespace log {

bool SetLevel(std::string_view level) {
  if (level == "debug") {
    spdlog::set_level(spdlog::level::debug);
  } else if (level == "info") {
    spdlog::set_level(spdlog::level::info);
  } else if (level == "warn") {
    spdlog::set_level(spdlog::level::warn);
  } else if (level == "error") {
    spdlog::set_level(spdlog::level::err);
  } else {
    return false;
  }
  return true;
}

void Init() {
  auto logger = spdlog::stderr_logger_mt("vigil");
  spdlog::set_default_logger(logger);
  // UTC timestamps with milliseconds, as Prometheus logs them.
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  spdlog::flush_on(spdlog::level::warn);
}

}  // namespace log

namespace internal {
void CheckFailed(const char* file, int line, const char* cond) {
  std::fprintf(stderr, "BUG: check failed at %s:%d: %s\n", file, line, cond);
  std::abort();
}
}  // namespace internal
}  // namespace vigil
