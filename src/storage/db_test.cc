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

// ---- blocks ----

class DBBlocksTest : public DBTest {
 protected:
  static constexpr int64_t kRange = 10000;
  Options BlockOpts() {
    Options o = Opts();
    o.block_range_ms = kRange;
    return o;
  }
  // One sample per second for series a and b{i}, from `from` to `to` (ms, exclusive).
  void Fill(DB& db, int64_t from, int64_t to, std::string_view tenant = kDefaultTenant) {
    auto app = db.NewAppender(tenant);
    for (int64_t t = from; t < to; t += 1000) {
      ASSERT_TRUE(app->Append(0, Series("a"), t, static_cast<double>(t) / 7).ok());
      for (int i = 0; i < 3; i++) {
        ASSERT_TRUE(app->Append(0, Series("b", std::to_string(i)), t, static_cast<double>(i)).ok());
      }
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  std::vector<std::string> BlockDirs() {
    std::vector<std::string> out;
    auto names = fs_->ListDir("/data");
    EXPECT_TRUE(names.ok());
    if (!names.ok()) return out;
    for (const auto& n : *names) {
      if (n.size() == 26) out.push_back(n);
    }
    return out;
  }
};

TEST_F(DBBlocksTest, HeadIsCutIntoABlockAndQueriesSpanBoth) {
  auto db = MustOpen(BlockOpts());
  Fill(*db, 0, 26000);
  SeriesSamples before = ReadDB(*db);
  ASSERT_TRUE(db->Compact().ok());
  Stats s = db->GetStats();
  EXPECT_EQ(s.blocks, 1);
  EXPECT_EQ(s.head_persisted, 1);
  EXPECT_GT(s.blocks_bytes, 0);
  EXPECT_EQ(s.head_min_time, 10000);
  EXPECT_EQ(BlockDirs().size(), 1u);
  EXPECT_EQ(ReadDB(*db), before);
  EXPECT_EQ(ReadDB(*db, kDefaultTenant, 8000, 12000)["a{instance=\"a\"}"].size(), 5u);
  // Persisted time is closed for writes.
  auto app = db->NewAppender(kDefaultTenant);
  EXPECT_EQ(RejectOf(app->Append(0, Series("a"), 5000, 1).status()), Reject::kTooOld);
  // After a restart the block is loaded, the WAL replays only the rest, and it is all there.
  ASSERT_TRUE(db->Close().ok());
  db = MustOpen(BlockOpts());
  EXPECT_EQ(ReadDB(*db), before);
  EXPECT_EQ(db->GetStats().blocks, 1);
  app = db->NewAppender(kDefaultTenant);
  EXPECT_EQ(RejectOf(app->Append(0, Series("a"), 5000, 1).status()), Reject::kTooOld);
}

TEST_F(DBBlocksTest, CompactionKeepsDataIdentical) {
  auto db = MustOpen(BlockOpts());
  Fill(*db, 0, 95000);
  Fill(*db, 0, 95000, "t2");
  SeriesSamples before = ReadDB(*db);
  SeriesSamples before_t2 = ReadDB(*db, "t2");
  ASSERT_TRUE(db->Compact().ok());
  Stats s = db->GetStats();
  // 8 blocks of 10s were persisted ([0,80s)); [0,30s) and [30s,60s) became one each.
  EXPECT_EQ(s.head_persisted, 8);
  EXPECT_GE(s.compactions, 2);
  EXPECT_EQ(s.blocks, 4);
  EXPECT_EQ(ReadDB(*db), before);
  EXPECT_EQ(ReadDB(*db, "t2"), before_t2);
  EXPECT_TRUE(ReadDB(*db, "t3").empty());
  ASSERT_TRUE(db->Close().ok());
  db = MustOpen(BlockOpts());
  EXPECT_EQ(ReadDB(*db), before);
  EXPECT_EQ(BlockDirs().size(), 4u);
}

TEST_F(DBBlocksTest, QuerierKeepsReadingBlocksThatCompactionReplaced) {
  auto db = MustOpen(BlockOpts());
  Fill(*db, 0, 45000);
  ASSERT_TRUE(db->Compact().ok());
  // The querier stops before the samples added below: the head is read live, and this
  // test is about the data that moves from the head into blocks while it is open.
  auto q = db->NewQuerier(kDefaultTenant, model::kMinTime, 44999);
  ASSERT_TRUE(q.ok());
  SeriesSamples before = ReadDB(*db);
  Fill(*db, 45000, 100000);
  ASSERT_TRUE(db->Compact().ok());
  ASSERT_GE(db->GetStats().compactions, 1);     // the blocks it captured were replaced
  ASSERT_GT(db->GetStats().head_min_time, 44999);  // and its head range was persisted
  EXPECT_EQ(testing::ReadQuerier(**q, {model::Matcher::MustMake(model::MatchType::kRegexMatch,
                                                                "__name__", ".+")}),
            before);
}

TEST_F(DBBlocksTest, RetentionByTimeDeletesOldBlocks) {
  Options o = BlockOpts();
  o.retention_ms = 40000;
  auto db = MustOpen(o);
  Fill(*db, 0, 100000);
  ASSERT_TRUE(db->Compact().ok());
  Stats s = db->GetStats();
  EXPECT_GT(s.retention_deleted_blocks, 0);
  EXPECT_GE(s.oldest_block_min_time, 100000 - 1000 - 40000 - kRange);
  auto r = ReadDB(*db)["a{instance=\"a\"}"];
  ASSERT_FALSE(r.empty());
  EXPECT_GE(r.front().t, 100000 - 1000 - 40000 - kRange);
  EXPECT_EQ(r.back().t, 99000);
}

TEST_F(DBBlocksTest, RetentionBySizeDeletesOldestBlocksFirst) {
  Options o = BlockOpts();
  auto db = MustOpen(o);
  Fill(*db, 0, 60000);
  ASSERT_TRUE(db->Compact().ok());
  Stats s = db->GetStats();
  ASSERT_GE(s.blocks, 2);
  db.reset();
  o.retention_bytes = s.blocks_bytes - 1;
  db = MustOpen(o);
  ASSERT_TRUE(db->Compact().ok());
  Stats after = db->GetStats();
  EXPECT_LT(after.blocks, s.blocks);
  EXPECT_LE(after.blocks_bytes, o.retention_bytes);
  EXPECT_GT(after.oldest_block_min_time, s.oldest_block_min_time);
}

TEST_F(DBBlocksTest, DeleteAndCleanTombstonesAcrossBlocksAndHead) {
  auto db = MustOpen(BlockOpts());
  Fill(*db, 0, 26000);
  ASSERT_TRUE(db->Compact().ok());
  ASSERT_EQ(db->GetStats().blocks, 1);
  auto m = model::Matcher::MustMake(model::MatchType::kEqual, "__name__", "a");
  ASSERT_TRUE(db->Delete(kDefaultTenant, 5000, 15000, {m}).ok());
  auto check = [&](DB& d) {
    SeriesSamples r = ReadDB(d);
    const auto& a = r["a{instance=\"a\"}"];
    EXPECT_EQ(a.size(), 26u - 11u);
    for (const auto& smp : a) EXPECT_TRUE(smp.t < 5000 || smp.t > 15000) << smp.t;
    EXPECT_EQ(r["b{instance=\"0\"}"].size(), 26u);
  };
  check(*db);
  auto before_dirs = BlockDirs();
  ASSERT_TRUE(db->CleanTombstones().ok());
  check(*db);
  EXPECT_NE(BlockDirs(), before_dirs);
  ASSERT_TRUE(db->Close().ok());
  db = MustOpen(BlockOpts());
  check(*db);
}

TEST_F(DBBlocksTest, SnapshotHoldsEveryBlockAndTheHead) {
  auto db = MustOpen(BlockOpts());
  Fill(*db, 0, 26000);
  ASSERT_TRUE(db->Compact().ok());
  SeriesSamples before = ReadDB(*db);
  auto name = db->Snapshot(/*skip_head=*/false);
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(name->size(), 16u + 1 + 16);  // 20261122T075612Z-<16 hex>
  auto head_less = db->Snapshot(/*skip_head=*/true);
  ASSERT_TRUE(head_less.ok());
  Options so = BlockOpts();
  so.path = "/data/snapshots/" + *name;
  auto snap = MustOpen(so);
  EXPECT_EQ(ReadDB(*snap), before);
  EXPECT_EQ(snap->GetStats().blocks, 2);
  so.path = "/data/snapshots/" + *head_less;
  auto snap2 = MustOpen(so);
  EXPECT_EQ(snap2->GetStats().blocks, 1);
  EXPECT_EQ(ReadDB(*snap2)["a{instance=\"a\"}"].size(), 10u);
}

TEST_F(DBBlocksTest, FlushHeadPersistsEverythingAndTruncatesTheWal) {
  auto db = MustOpen(BlockOpts());
  Fill(*db, 0, 26000);
  SeriesSamples before = ReadDB(*db);
  ASSERT_TRUE(db->FlushHead().ok());
  Stats s = db->GetStats();
  EXPECT_EQ(s.blocks, 3);
  EXPECT_EQ(s.head_series, 0);
  EXPECT_EQ(ReadDB(*db), before);
  ASSERT_TRUE(db->Close().ok());
  db = MustOpen(BlockOpts());
  EXPECT_EQ(ReadDB(*db), before);
  EXPECT_EQ(db->GetStats().head_series, 0);
}

TEST_F(DBBlocksTest, OutOfOrderSamplesArePersistedIntoBlocks) {
  Options o = BlockOpts();
  o.out_of_order_window_ms = 5000;
  auto db = MustOpen(o);
  auto app = db->NewAppender(kDefaultTenant);
  for (int64_t t = 0; t < 26000; t += 2000) ASSERT_TRUE(app->Append(0, Series("a"), t, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  for (int64_t t = 21000; t < 26000; t += 2000) ASSERT_TRUE(app->Append(0, Series("a"), t, 2).ok());
  ASSERT_TRUE(app->Commit().ok());
  SeriesSamples before = ReadDB(*db);
  ASSERT_EQ(before["a{instance=\"a\"}"].size(), 16u);
  ASSERT_TRUE(db->FlushHead().ok());
  EXPECT_EQ(db->GetStats().head_series, 0);
  EXPECT_EQ(ReadDB(*db), before);
  // Replay after a restart also restores out-of-order samples logged to the WAL.
  ASSERT_TRUE(db->Close().ok());
  db = MustOpen(o);
  EXPECT_EQ(ReadDB(*db), before);
}

TEST_F(DBBlocksTest, BackgroundThreadPersistsTheHeadOnItsOwn) {
  Options o = BlockOpts();
  o.background_compaction = true;
  auto db = MustOpen(o);
  Fill(*db, 0, 26000);
  SeriesSamples before = ReadDB(*db);
  for (int i = 0; i < 100 && db->GetStats().blocks == 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(db->GetStats().blocks, 1);
  EXPECT_EQ(ReadDB(*db), before);
  ASSERT_TRUE(db->Close().ok());
}

TEST_F(DBBlocksTest, LeftoverTmpIsRemovedAndACorruptBlockIsMovedAside) {
  auto db = MustOpen(BlockOpts());
  Fill(*db, 0, 26000);
  ASSERT_TRUE(db->Compact().ok());
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  auto dirs = BlockDirs();
  ASSERT_EQ(dirs.size(), 1u);
  ASSERT_TRUE(fs_->MkdirAll("/data/01HZZZZZZZZZZZZZZZZZZZZZZZ.tmp").ok());
  auto w = fs_->NewWritableFile("/data/" + dirs[0] + "/index");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append("garbage").ok());
  ASSERT_TRUE((*w)->Close().ok());
  db = MustOpen(BlockOpts());
  EXPECT_EQ(db->GetStats().blocks, 0);
  EXPECT_FALSE(*fs_->Exists("/data/01HZZZZZZZZZZZZZZZZZZZZZZZ.tmp"));
  EXPECT_TRUE(*fs_->Exists("/data/" + dirs[0] + ".corrupted"));
  // The head data after the block is still there.
  EXPECT_EQ(ReadDB(*db)["a{instance=\"a\"}"].size(), 16u);
}

}  // namespace
}  // namespace vigil::storage
