// The DB as an ExemplarAppendable: exemplars are logged to the WAL, replayed into the
// exemplar store at startup and kept by checkpoints while their series live.
#include <memory>

#include "fs/file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/db.h"
#include "storage/exemplar/circular_storage.h"
#include "storage/wal/records.h"
#include "storage/wal/wal.h"

namespace vigil::storage {
namespace {

using model::Labels;
using ::testing::HasSubstr;

Labels Series(std::string_view name, std::string_view instance = "a") {
  return Labels{{"__name__", name}, {"instance", instance}};
}

Exemplar Ex(std::string_view trace, double v, int64_t t) {
  return Exemplar{Labels{{"trace_id", trace}}, v, t};
}

const std::vector<model::Matchers> kAll = {
    {model::Matcher::MustMake(model::MatchType::kRegexMatch, "__name__", ".+")}};

class DBExemplarTest : public ::testing::Test {
 protected:
  static constexpr int64_t kRange = 10000;

  // Each open gets a fresh store, as a restarted process would.
  std::unique_ptr<DB> Open() {
    store_ = std::make_unique<exemplar::CircularExemplarStorage>(100);
    Options o;
    o.path = "/data";
    o.fs = fs_.get();
    o.background_compaction = false;
    o.retention_ms = 0;
    o.block_range_ms = kRange;
    o.exemplars = store_.get();
    auto db = DB::Open(o);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  void Append(DB& db, std::string_view tenant, const Labels& series, int64_t t) {
    auto app = db.NewAppender(tenant);
    ASSERT_TRUE(app->Append(0, series, t, 1).ok());
    ASSERT_TRUE(app->Commit().ok());
  }

  // The exemplars of every series of `tenant`, as "series: trace@t ..." lines.
  std::vector<std::string> Stored(std::string_view tenant) {
    std::vector<std::string> out;
    for (const ExemplarQueryResult& r :
         store_->SelectExemplars(tenant, model::kMinTime, model::kMaxTime, kAll)) {
      std::string line = r.series_labels.ToString() + ":";
      for (const Exemplar& e : r.exemplars) {
        line += " " + std::string(e.labels.Get("trace_id")) + "@" + std::to_string(e.t) + "=" +
                std::to_string(e.value);
      }
      out.push_back(line);
    }
    return out;
  }

  // Exemplars in the WAL's exemplar records (checkpoint included), record by record.
  std::vector<size_t> LoggedExemplarRecords() {
    std::vector<size_t> out;
    auto reader = wal::Reader::Open(fs_.get(), "/data/wal");
    EXPECT_TRUE(reader.ok()) << reader.status();
    std::vector<wal::RefExemplar> ex;
    while ((*reader)->Next()) {
      if ((*reader)->type() != wal::RecordType::kExemplars) continue;
      EXPECT_TRUE(wal::DecodeExemplars((*reader)->record(), &ex).ok());
      out.push_back(ex.size());
    }
    return out;
  }

  std::unique_ptr<fs::FileSystem> fs_ = fs::NewMemFileSystem();
  std::unique_ptr<exemplar::CircularExemplarStorage> store_;
};

TEST_F(DBExemplarTest, ExemplarsSurviveARestartPerTenant) {
  auto db = Open();
  Append(*db, kDefaultTenant, Series("a"), 1000);
  Append(*db, kDefaultTenant, Series("b"), 1000);
  Append(*db, "t2", Series("a"), 1000);
  const Labels a = Series("a"), b = Series("b");
  const ExemplarAppendable::SeriesExemplar batch[] = {
      {&a, Ex("x1", 1.5, 1000)}, {&b, Ex("x2", 2.5, 1000)}, {&a, Ex("x3", 3.5, 2000)}};
  std::vector<absl::Status> results(3);
  db->AppendExemplars(kDefaultTenant, batch, results);
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(db->AppendExemplar("t2", a, Ex("y1", 7, 1500)).ok());
  // A repeat of the newest exemplar is accepted and neither stored nor logged again.
  EXPECT_TRUE(db->AppendExemplar(kDefaultTenant, a, Ex("x3", 3.5, 2000)).ok());
  const std::vector<std::string> want = {
      "a{instance=\"a\"}: x1@1000=1.500000 x3@2000=3.500000",
      "b{instance=\"a\"}: x2@1000=2.500000"};
  ASSERT_EQ(Stored(kDefaultTenant), want);
  EXPECT_EQ(LoggedExemplarRecords(), (std::vector<size_t>{3, 1}));
  ASSERT_TRUE(db->Close().ok());
  db.reset();

  db = Open();
  EXPECT_EQ(Stored(kDefaultTenant), want);
  EXPECT_EQ(Stored("t2"), std::vector<std::string>{
                              "a{instance=\"a\"}: y1@1500=7.000000"});
  // The replayed store orders new exemplars after the replayed ones.
  EXPECT_EQ(db->AppendExemplar(kDefaultTenant, a, Ex("old", 1, 1500)).code(),
            absl::StatusCode::kOutOfRange);
}

TEST_F(DBExemplarTest, ExemplarOfASeriesNotLoggedYetLogsTheSeriesFirst) {
  auto db = Open();
  // The append creates the series; its commit, which logs it, comes after the exemplar.
  auto app = db->NewAppender(kDefaultTenant);
  ASSERT_TRUE(app->Append(0, Series("a"), 1000, 1).ok());
  ASSERT_TRUE(db->AppendExemplar(kDefaultTenant, Series("a"), Ex("x1", 1, 1000)).ok());
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  db = Open();
  EXPECT_EQ(Stored(kDefaultTenant), std::vector<std::string>{"a{instance=\"a\"}: x1@1000=1.000000"});
}

TEST_F(DBExemplarTest, ExemplarOfASeriesNotInTheHeadIsRefusedAndNotLogged) {
  auto db = Open();
  absl::Status s = db->AppendExemplar(kDefaultTenant, Series("nope"), Ex("x", 1, 1000));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("nope"));
  // Another tenant's series of the same labels does not count.
  Append(*db, "t2", Series("a"), 1000);
  EXPECT_EQ(db->AppendExemplar(kDefaultTenant, Series("a"), Ex("x", 1, 1000)).code(),
            absl::StatusCode::kFailedPrecondition);
  // Bad exemplar labels are refused before anything is logged.
  EXPECT_EQ(db->AppendExemplar("t2", Series("a"), Exemplar{Labels{{"0bad", "v"}}, 1, 1000}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(LoggedExemplarRecords().empty());
  EXPECT_TRUE(Stored(kDefaultTenant).empty());
}

TEST_F(DBExemplarTest, CheckpointKeepsExemplarsOfLiveSeriesNewerThanThePersistedHead) {
  auto db = Open();
  auto app = db->NewAppender(kDefaultTenant);
  for (int64_t t = 0; t < 26000; t += 1000) {
    ASSERT_TRUE(app->Append(0, Series("a"), t, 1).ok());
    if (t < 5000) {
      ASSERT_TRUE(app->Append(0, Series("gone"), t, 1).ok());
    }
  }
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_TRUE(db->AppendExemplar(kDefaultTenant, Series("a"), Ex("early", 1, 2000)).ok());
  EXPECT_TRUE(db->AppendExemplar(kDefaultTenant, Series("gone"), Ex("g", 1, 3000)).ok());
  EXPECT_TRUE(db->AppendExemplar(kDefaultTenant, Series("a"), Ex("late", 2, 20000)).ok());
  // Persists [0, 10000) into a block, drops the series "gone" and checkpoints the WAL.
  ASSERT_TRUE(db->Compact().ok());
  ASSERT_EQ(db->GetStats().head_persisted, 1);
  EXPECT_EQ(LoggedExemplarRecords(), (std::vector<size_t>{1}));
  ASSERT_TRUE(db->Close().ok());
  db.reset();

  db = Open();
  EXPECT_EQ(Stored(kDefaultTenant),
            std::vector<std::string>{"a{instance=\"a\"}: late@20000=2.000000"});
}

TEST_F(DBExemplarTest, UndecodableExemplarRecordIsSkippedAndTheRestReplayed) {
  auto db = Open();
  Append(*db, kDefaultTenant, Series("a"), 1000);
  ASSERT_TRUE(db->AppendExemplar(kDefaultTenant, Series("a"), Ex("x1", 1, 1000)).ok());
  ASSERT_TRUE(db->Close().ok());
  db.reset();
  {
    // A checksummed record that does not decode (a count larger than its bytes), then a
    // good one for the same series: replay skips the first, keeps the second.
    auto w = wal::Writer::Open(fs_.get(), "/data/wal", {.sync = wal::SyncPolicy::kNever});
    ASSERT_TRUE(w.ok()) << w.status();
    const std::string bad = std::string(1, static_cast<char>(wal::RecordType::kExemplars)) + "\x7f";
    std::string good;
    wal::EncodeExemplars(std::vector<wal::RefExemplar>{{1, 2000, 2, Labels{{"trace_id", "x2"}}}},
                         &good);
    ASSERT_TRUE((*w)->Log(bad).ok());
    ASSERT_TRUE((*w)->Log(good).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  db = Open();
  EXPECT_EQ(Stored(kDefaultTenant),
            std::vector<std::string>{
                "a{instance=\"a\"}: x1@1000=1.000000 x2@2000=2.000000"});
  auto q = db->NewQuerier(kDefaultTenant, model::kMinTime, model::kMaxTime);
  ASSERT_TRUE(q.ok());
  auto set = (*q)->Select(false, {}, kAll[0]);
  ASSERT_TRUE(set->Next());
  EXPECT_EQ(set->At().labels(), Series("a"));
}

TEST_F(DBExemplarTest, WithoutAStoreExemplarsAreRefused) {
  Options o;
  o.path = "/data";
  o.fs = fs_.get();
  o.background_compaction = false;
  auto db = DB::Open(o);
  ASSERT_TRUE(db.ok()) << db.status();
  Append(**db, kDefaultTenant, Series("a"), 1000);
  EXPECT_EQ((*db)->AppendExemplar(kDefaultTenant, Series("a"), Ex("x", 1, 1000)).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace vigil::storage
