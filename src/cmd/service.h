// Service: one role of the binary with a Start/Stop lifecycle, and ServiceGroup, which
// starts services in order and stops them in reverse, so each service can rely on the
// ones started before it for its whole life.
//
// Thread-safety: a ServiceGroup is driven by one thread (main).
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace vigil::cmd {

class Service {
 public:
  virtual ~Service() = default;
  virtual std::string_view name() const = 0;
  // Fails with a message fit for a "FATAL:" log line.
  virtual absl::Status Start() = 0;
  // Only called after a successful Start. Must not fail: log and carry on.
  virtual void Stop() = 0;
};

class ServiceGroup {
 public:
  void Add(std::unique_ptr<Service> s) { services_.push_back(std::move(s)); }
  // Starts each in order; on the first failure stops those already started (in reverse)
  // and returns the error annotated with the service's name.
  absl::Status StartAll();
  // Stops every started service in reverse order. Idempotent.
  void StopAll();

 private:
  std::vector<std::unique_ptr<Service>> services_;
  size_t started_ = 0;
};

}  // namespace vigil::cmd
