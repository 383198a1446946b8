// Target: one endpoint to scrape, and how discovered labels become target labels.
//
// PopulateLabels follows Prometheus: the group's labels under the target's own, then the
// job's defaults where absent (job, __scheme__, __metrics_path__, __scrape_interval__,
// __scrape_timeout__, __param_<name>); that set is the target's "discovered labels".
// relabel_configs then run; a dropped set is a dropped target. The result must keep a
// non-empty __address__; `instance` defaults to it; every label starting with "__" is
// removed from the final labels (the __param_*, __scheme__, ... ones are read before).
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"
#include "scrape/config.h"

namespace vigil::scrape {

struct TargetSpec {
  model::Labels discovered;  // before relabeling
  model::Labels labels;      // final target labels (job, instance, ...); empty if dropped
  // Built from the relabeled labels before the "__" ones are removed.
  std::string url;
  int64_t interval_ms = 0;
  int64_t timeout_ms = 0;
  bool dropped = false;
};

// Returns the target for one discovered target of `group`. An error (e.g. no address, a
// bad __scrape_interval__) means the target is invalid and is reported as dropped.
absl::StatusOr<TargetSpec> PopulateLabels(const ScrapeConfig& cfg, const TargetGroup& group,
                                          const model::Labels& target);

// All targets of all groups; invalid ones are logged and dropped.
std::vector<TargetSpec> TargetsFromGroups(const ScrapeConfig& cfg,
                                          const std::vector<TargetGroup>& groups);

}  // namespace vigil::scrape
