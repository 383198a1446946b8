// Test helpers for the push decoders: a real storage::DB on an in-memory filesystem, and
// reading a tenant's samples back as "labels -> [(t, v)]".
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fs/file_system.h"
#include "gtest/gtest.h"
#include "model/matcher.h"
#include "model/sample.h"
#include "storage/db.h"

namespace vigil::ingest {

class MemDb {
 public:
  MemDb() {
    storage::Options o;
    o.path = "/data";
    o.fs = fs_.get();
    o.background_compaction = false;
    auto db = storage::DB::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }
  ~MemDb() { EXPECT_TRUE(db_->Close().ok()); }
  storage::DB* db() { return db_.get(); }

  // Every series of the default tenant: "name{a="b"}" -> samples.
  std::map<std::string, std::vector<std::pair<int64_t, double>>> Dump() {
    std::map<std::string, std::vector<std::pair<int64_t, double>>> out;
    auto q = db_->NewQuerier(storage::kDefaultTenant, model::kMinTime, model::kMaxTime);
    EXPECT_TRUE(q.ok());
    model::Matchers ms;
    auto m = model::Matcher::Make(model::MatchType::kRegexMatch, "__name__", ".+");
    EXPECT_TRUE(m.ok());
    ms.push_back(std::move(*m));
    auto ss = (*q)->Select(true, storage::SelectHints{}, ms);
    while (ss->Next()) {
      auto& v = out[ss->At().labels().ToString()];
      auto it = ss->At().Iterator();
      while (it->Next()) v.emplace_back(it->At().t, it->At().v);
    }
    return out;
  }

 private:
  std::unique_ptr<fs::FileSystem> fs_ = fs::NewMemFileSystem();
  std::unique_ptr<storage::DB> db_;
};

}  // namespace vigil::ingest
