#include "storage/db.h"

#include <thread>

#include "fs/faulty.h"
#include "fs/file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/db_test_util.h"

namespace vigil::storage {
namespace {

using model::Labels;
using model::Sample;
using testing::ReadDB;
using testing::SeriesSamples;

Labels Series(std::string_view name, std::string_view instance = "a") {
  return Labels{{"__name__", name}, {"instance", instance}};
}

class DBTest : public ::testing::Test {
 protected:
  Options Opts() {
    Options o;
    o.path = "/data";
    o.fs = fs_.get();
    o.background_compaction = false;
    o.retention_ms = 0;
    return o;
  }
  std::unique_ptr<DB> MustOpen(const Options& o) {
    auto db = DB::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  std::unique_ptr<fs::FileSystem> fs_ = fs::NewMemFileSystem();
};

TEST_F(DBTest, RestartReplaysEveryCommittedSampleAndNothingRolledBack) {
  auto db = MustOpen(Opts());
  auto app = db->NewAppender(kDefaultTenant);
  for (int64_t t = 1; t <= 300; t++) {
    ASSERT_TRUE(app->Append(0, Series("a"), t * 1000, static_cast<double>(t)).ok());
    ASSERT_TRUE(app->Append(0, Series("b", std::to_string(t % 7)), t * 1000, 1).ok());
  }
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(app->Append(0, Series("rolled"), 1000, 1).ok());
  ASSERT_TRUE(app->Append(0, Series("a"), 999000, 1).ok());
  app->Rollback();
  auto other = db->NewAppender("t2");
  ASSERT_TRUE(other->Append(0, Series("a"), 5000, 5).ok());
  ASSERT_TRUE(other->Commit().ok());
  ASSERT_TRUE(db->Delete(kDefaultTenant, 2000, 3000,
                         {model::Matcher::MustMake(model::MatchType::kEqual, "__name__", "a")})
                  .ok());
  SeriesSamples before = ReadDB(*db);
  SeriesSamples before_t2 = ReadDB(*db, "t2");
  ASSERT_EQ(before.size(), 8u);
  EXPECT_EQ(before["a{instance=\"a\"}"].size(), 298u);
  ASSERT_TRUE(db->Close().ok());
  db.reset();

  db = MustOpen(Opts());
  EXPECT_EQ(ReadDB(*db), before);
  EXPECT_EQ(ReadDB(*db, "t2"), before_t2);
  // Refs continue after the replayed ones, and replayed series are found by labels.
  app = db->NewAppender(kDefaultTenant);
  ASSERT_TRUE(app->Append(0, Series("a"), 301000, 301).ok());
  ASSERT_TRUE(app->Append(0, Series("new"), 301000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(db->GetStats().head_series, 10);
  EXPECT_EQ(ReadDB(*db)["a{instance=\"a\"}"].size(), 299u);
}

TEST_F(DBTest, SecondOpenOfALockedDirectoryFailsClearly) {
  auto db = MustOpen(Opts());
  auto second = DB::Open(Opts());
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), ::testing::HasSubstr("/data"));
  ASSERT_TRUE(db->Close().ok());
  ASSERT_TRUE(db->Close().ok());  // idempotent
  auto third = DB::Open(Opts());
  EXPECT_TRUE(third.ok()) << third.status();
}

TEST_F(DBTest, AcknowledgedWritesSurviveACrashWithSyncAlways) {
  fs::FaultyFileSystem faulty(fs_.get(), 7);
  Options o = Opts();
  o.fs = &faulty;
  o.wal_sync = WalSync::kAlways;
  auto db = MustOpen(o);
  auto app = db->NewAppender(kDefaultTenant);
  for (int64_t t = 1; t <= 50; t++) {
    ASSERT_TRUE(app->Append(0, Series("a"), t, 1).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  ASSERT_TRUE(faulty.SimulateCrash({.keep_random_unsynced = true}).ok());
  app.reset();
  db.reset();
  faulty.ClearFaults();
  db = MustOpen(o);
  EXPECT_EQ(ReadDB(*db)["a{instance=\"a\"}"].size(), 50u);
}

TEST_F(DBTest, TornWalTailIsRepairedAndEarlierCommitsSurvive) {
  fs::FaultyFileSystem faulty(fs_.get(), 3);
  Options o = Opts();
  o.fs = &faulty;
  o.wal_sync = WalSync::kAlways;
  auto db = MustOpen(o);
  auto app = db->NewAppender(kDefaultTenant);
  ASSERT_TRUE(app->Append(0, Series("a"), 1, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  faulty.TearNthAppend(1, 5);
  ASSERT_TRUE(app->Append(0, Series("a"), 2, 1).ok());
  EXPECT_FALSE(app->Commit().ok());
  // The failed commit is not visible.
  EXPECT_EQ(ReadDB(*db)["a{instance=\"a\"}"].size(), 1u);
  ASSERT_TRUE(faulty.SimulateCrash({.keep_random_unsynced = true}).ok());
  app.reset();
  db.reset();
  faulty.ClearFaults();
  db = MustOpen(o);
  EXPECT_EQ(ReadDB(*db)["a{instance=\"a\"}"], (std::vector<Sample>{{1, 1}}));
  app = db->NewAppender(kDefaultTenant);
  ASSERT_TRUE(app->Append(0, Series("a"), 3, 3).ok());
  ASSERT_TRUE(app->Commit().ok());
  db.reset();
  db = MustOpen(o);
  EXPECT_EQ(ReadDB(*db)["a{instance=\"a\"}"], (std::vector<Sample>{{1, 1}, {3, 3}}));
}

TEST_F(DBTest, StatsCountAppendsRejectsAndWal) {
  Options o = Opts();
  auto db = MustOpen(o);
  auto app = db->NewAppender(kDefaultTenant);
  ASSERT_TRUE(app->Append(0, Series("a"), 10, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_FALSE(app->Append(0, Series("a"), 5, 1).ok());
  Stats s = db->GetStats();
  EXPECT_EQ(s.samples_appended, 1);
  EXPECT_EQ(s.series_created, 1);
  EXPECT_EQ(s.head_series, 1);
  EXPECT_EQ(s.head_min_time, 10);
  EXPECT_EQ(s.head_max_time, 10);
  EXPECT_EQ(s.samples_rejected[static_cast<int>(Reject::kOutOfOrder)], 1);
  EXPECT_GT(s.wal_bytes, 0);
  EXPECT_GE(s.wal_segments, 1);
  TsdbStatus ts = db->GetTsdbStatus(kDefaultTenant, 10);
  EXPECT_EQ(ts.num_series, 1);
  ASSERT_EQ(ts.series_count_by_metric_name.size(), 1u);
  EXPECT_EQ(ts.series_count_by_metric_name[0].name, "a");
}

TEST_F(DBTest, ConcurrentAppendersAndQueriers) {
  auto db = MustOpen(Opts());
  std::atomic<bool> done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; w++) {
    writers.emplace_back([&, w] {
      auto app = db->NewAppender(kDefaultTenant);
      for (int i = 1; i <= 300; i++) {
        for (int s = 0; s < 20; s++) {
          ASSERT_TRUE(app->Append(0, Series("w" + std::to_string(w), std::to_string(s)), i, i).ok());
        }
        ASSERT_TRUE(app->Commit().ok());
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      for (const auto& [k, v] : ReadDB(*db)) {
        for (size_t i = 1; i < v.size(); i++) ASSERT_LT(v[i - 1].t, v[i].t);
      }
    }
  });
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  SeriesSamples r = ReadDB(*db);
  ASSERT_EQ(r.size(), 40u);
  for (const auto& [k, v] : r) EXPECT_EQ(v.size(), 300u) << k;
}

}  // namespace
}  // namespace vigil::storage
