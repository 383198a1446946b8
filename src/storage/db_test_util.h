// Helpers shared by the DB tests: reading everything a querier returns.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/db.h"

namespace vigil::storage::testing {

using SeriesSamples = std::map<std::string, std::vector<model::Sample>>;

inline SeriesSamples ReadQuerier(Querier& q, const model::Matchers& ms) {
  SeriesSamples out;
  auto set = q.Select(true, {}, ms);
  while (set->Next()) {
    auto it = set->At().Iterator();
    auto& v = out[set->At().labels().ToString()];
    while (it->Next()) v.push_back(it->At());
    EXPECT_TRUE(it->Err().ok()) << it->Err();
  }
  EXPECT_TRUE(set->Err().ok()) << set->Err();
  return out;
}

inline SeriesSamples ReadDB(DB& db, std::string_view tenant = kDefaultTenant,
                            int64_t mint = model::kMinTime, int64_t maxt = model::kMaxTime) {
  auto q = db.NewQuerier(tenant, mint, maxt);
  EXPECT_TRUE(q.ok()) << q.status();
  if (!q.ok()) return {};
  return ReadQuerier(**q, {model::Matcher::MustMake(model::MatchType::kRegexMatch, "__name__", ".+")});
}

}  // namespace vigil::storage::testing
