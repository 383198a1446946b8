#include "cmd/service.h"

#include <chrono>

#include "base/log.h"
#include "base/status.h"

namespace vigil::cmd {

absl::Status ServiceGroup::StartAll() {
  for (; started_ < services_.size(); ++started_) {
    Service& s = *services_[started_];
    auto t0 = std::chrono::steady_clock::now();
    VLOG_INFO("main", "starting {}", s.name());
    if (absl::Status st = s.Start(); !st.ok()) {
      StopAll();
      return Annotate(st, fmt::format("start {}", s.name()));
    }
    VLOG_INFO("main", "{} started in {} ms", s.name(),
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count());
  }
  return absl::OkStatus();
}

void ServiceGroup::StopAll() {
  while (started_ > 0) {
    Service& s = *services_[--started_];
    auto t0 = std::chrono::steady_clock::now();
    VLOG_INFO("main", "stopping {}", s.name());
    s.Stop();
    VLOG_INFO("main", "{} stopped in {} ms", s.name(),
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count());
  }
}

}  // namespace vigil::cmd
