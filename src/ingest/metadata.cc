#include "ingest/metadata.h"

namespace vigil::ingest {

void MetadataStore::Update(std::string_view tenant, const std::vector<MetricMetadata>& md) {
  if (md.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto t = by_tenant_.find(tenant);
  if (t == by_tenant_.end()) t = by_tenant_.emplace(std::string(tenant), decltype(t->second){}).first;
  auto& metrics = t->second;
  for (const MetricMetadata& m : md) {
    auto it = metrics.find(m.metric);
    if (it == metrics.end()) {
      if (metrics.size() >= max_entries_) continue;
      it = metrics.emplace(m.metric, std::set<MetricMetadata>{}).first;
    }
    // A family's latest metadata replaces what an older exposition said, unless the
    // same family is sent with different metadata by different senders at once; keep a
    // few variants, as Prometheus lists one entry per distinct metadata.
    if (it->second.size() >= 10) it->second.erase(it->second.begin());
    it->second.insert(m);
  }
}

std::map<std::string, std::vector<MetricMetadata>> MetadataStore::Get(
    std::string_view tenant, std::string_view metric, int64_t limit,
    int64_t limit_per_metric) const {
  std::map<std::string, std::vector<MetricMetadata>> out;
  std::lock_guard<std::mutex> lock(mu_);
  auto t = by_tenant_.find(tenant);
  if (t == by_tenant_.end()) return out;
  for (const auto& [name, set] : t->second) {
    if (!metric.empty() && name != metric) continue;
    if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
    auto& v = out[name];
    for (const auto& m : set) {
      if (limit_per_metric > 0 && static_cast<int64_t>(v.size()) >= limit_per_metric) break;
      v.push_back(m);
    }
  }
  return out;
}

}  // namespace vigil::ingest
