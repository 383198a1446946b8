// A tiny in-memory storage::Queryable for the PromQL conformance runner and engine tests.
//
// Holds float samples per label set, in time order, ignores tenants (one store = one
// tenant) and never persists anything. The runner can also run against the real
// storage::DB; this one keeps the PromQL tests independent of the storage engine.
//
// Thread-safety: none; one test thread loads and queries.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/labels.h"
#include "model/sample.h"
#include "storage/querier.h"

namespace vigil::promql::testing {

class MemStorage : public storage::Queryable {
 public:
  // Adds a sample; samples of a series must come in increasing time order (a sample at an
  // existing timestamp replaces it).
  void Add(const model::Labels& labels, int64_t t, double v);
  void Clear() { series_.clear(); }

  absl::StatusOr<std::unique_ptr<storage::Querier>> NewQuerier(std::string_view tenant,
                                                               int64_t mint,
                                                               int64_t maxt) override;

 private:
  std::map<model::Labels, std::vector<model::Sample>> series_;
};

}  // namespace vigil::promql::testing
