#include <set>

#include "fs/faulty.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/wal/records.h"
#include "storage/wal/segments_internal.h"
#include "storage/wal/wal.h"

namespace vigil::storage::wal {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr char kDir[] = "/db/wal";

// Everything a replay yields, decoded.
struct Content {
  std::vector<RefSeries> series;
  std::vector<RefSample> samples;
  std::vector<RefTombstone> tombstones;
  std::vector<RefExemplar> exemplars;
  std::optional<Corruption> corruption;
};

Content ReplayAll(fs::FileSystem* fs) {
  Content c;
  auto r = Reader::Open(fs, kDir);
  EXPECT_TRUE(r.ok());
  std::vector<RefSeries> series;
  std::vector<RefSample> samples;
  std::vector<RefTombstone> tombstones;
  std::vector<RefExemplar> exemplars;
  while ((*r)->Next()) {
    switch ((*r)->type()) {
      case RecordType::kSeries:
        EXPECT_TRUE(DecodeSeries((*r)->record(), &series).ok());
        c.series.insert(c.series.end(), series.begin(), series.end());
        break;
      case RecordType::kSamples:
      case RecordType::kSamplesV2:
        EXPECT_TRUE(DecodeSamples((*r)->record(), &samples).ok());
        c.samples.insert(c.samples.end(), samples.begin(), samples.end());
        break;
      case RecordType::kTombstones:
        EXPECT_TRUE(DecodeTombstones((*r)->record(), &tombstones).ok());
        c.tombstones.insert(c.tombstones.end(), tombstones.begin(), tombstones.end());
        break;
      case RecordType::kExemplars:
        EXPECT_TRUE(DecodeExemplars((*r)->record(), &exemplars).ok());
        c.exemplars.insert(c.exemplars.end(), exemplars.begin(), exemplars.end());
        break;
      default:
        ADD_FAILURE() << "unexpected record type";
    }
  }
  EXPECT_TRUE((*r)->status().ok());
  c.corruption = (*r)->corruption();
  return c;
}

RefSeries Series(uint64_t ref) {
  return {ref, model::Labels{{"__name__", "m"}, {"__tenant__", "default"},
                             {"id", std::to_string(ref)}}};
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = Writer::Open(fs_, kDir, {.sync = SyncPolicy::kNever});
    ASSERT_TRUE(w.ok());
    writer_ = std::move(*w);
  }

  // Series 1..10, then samples t = 0..99 for each, one record per t; tombstones for 3 and 4.
  // Cuts a segment every 25 timestamps.
  void WriteHistory() {
    std::vector<RefSeries> series;
    for (uint64_t ref = 1; ref <= 10; ++ref) series.push_back(Series(ref));
    Log(series);
    for (int64_t t = 0; t < 100; ++t) {
      std::vector<RefSample> batch;
      for (uint64_t ref = 1; ref <= 10; ++ref) batch.push_back({ref, t, static_cast<double>(t)});
      Log(batch);
      if (t % 25 == 24) {
        ASSERT_TRUE(writer_->NextSegment().ok());
      }
    }
    Log(std::vector<RefTombstone>{{3, 0, 10}, {4, 5, 6}});
  }

  void Log(const std::vector<RefExemplar>& s) {
    EncodeExemplars(s, &buf_);
    ASSERT_TRUE(writer_->Log(buf_).ok());
  }

  void Log(const std::vector<RefSeries>& s) {
    EncodeSeries(s, &buf_);
    ASSERT_TRUE(writer_->Log(buf_).ok());
  }
  void Log(const std::vector<RefSample>& s) {
    EncodeSamples(s, &buf_);
    ASSERT_TRUE(writer_->Log(buf_).ok());
  }
  void Log(const std::vector<RefTombstone>& s) {
    EncodeTombstones(s, &buf_);
    ASSERT_TRUE(writer_->Log(buf_).ok());
  }

  std::vector<std::string> Names() { return *fs_->ListDir(kDir); }

  std::unique_ptr<fs::FileSystem> base_ = fs::NewMemFileSystem();
  fs::FaultyFileSystem faulty_{base_.get()};
  fs::FileSystem* fs_ = &faulty_;
  std::unique_ptr<Writer> writer_;
  std::string buf_;
};

bool Even(uint64_t ref) { return ref % 2 == 0; }

TEST_F(CheckpointTest, KeepsExactlyTheLiveSeriesTheirRecentSamplesAndTombstones) {
  WriteHistory();
  auto last = writer_->NextSegment();  // closes segment 5 (the tombstones)
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(*last, 5u);
  std::vector<RefSample> later = {{2, 500, 1.0}, {1, 500, 2.0}};
  Log(later);  // in segment 6: kept whatever the filter says

  auto st = Checkpoint(fs_, kDir, *last, Even, /*min_time=*/50);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->series_kept, 5);
  EXPECT_EQ(st->series_dropped, 5);
  EXPECT_EQ(st->samples_kept, 5 * 50);
  EXPECT_EQ(st->samples_dropped, 1000 - 250);
  EXPECT_EQ(st->tombstones_kept, 1);
  EXPECT_EQ(st->segments_removed, 5);
  EXPECT_THAT(Names(), ElementsAre("00000006", "checkpoint.00000005"));

  Content c = ReplayAll(fs_);
  EXPECT_FALSE(c.corruption);
  std::vector<RefSeries> want_series;
  for (uint64_t ref : {2, 4, 6, 8, 10}) want_series.push_back(Series(ref));
  EXPECT_EQ(c.series, want_series);
  std::vector<RefSample> want_samples;
  for (int64_t t = 50; t < 100; ++t) {
    for (uint64_t ref : {2, 4, 6, 8, 10}) want_samples.push_back({ref, t, static_cast<double>(t)});
  }
  want_samples.insert(want_samples.end(), later.begin(), later.end());
  EXPECT_EQ(c.samples, want_samples);
  EXPECT_EQ(c.tombstones, (std::vector<RefTombstone>{{4, 5, 6}}));
}

TEST_F(CheckpointTest, KeepsRecentExemplarsOfLiveSeries) {
  WriteHistory();
  const model::Labels trace{{"trace_id", "t1"}};
  Log(std::vector<RefExemplar>{{2, 10, 1.0, trace}, {2, 60, 2.0, trace}, {3, 60, 3.0, trace}});
  uint32_t last = *writer_->NextSegment();
  auto st = Checkpoint(fs_, kDir, last, Even, 50);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->exemplars_kept, 1);
  EXPECT_EQ(st->exemplars_dropped, 2);
  EXPECT_EQ(ReplayAll(fs_).exemplars, (std::vector<RefExemplar>{{2, 60, 2.0, trace}}));
}

TEST_F(CheckpointTest, ASecondCheckpointFoldsInTheFirstAndDeletesIt) {
  WriteHistory();
  uint32_t first = *writer_->NextSegment();
  ASSERT_TRUE(Checkpoint(fs_, kDir, first, Even, 50).ok());
  Log(std::vector<RefSample>{{2, 200, 1.0}, {4, 10, 1.0}});
  uint32_t second = *writer_->NextSegment();
  auto st = Checkpoint(fs_, kDir, second, [](uint64_t ref) { return ref == 2; }, 90);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_THAT(Names(), ElementsAre(SegmentName(second + 1), CheckpointName(second)));
  Content c = ReplayAll(fs_);
  EXPECT_EQ(c.series, std::vector<RefSeries>{Series(2)});
  std::vector<RefSample> want;
  for (int64_t t = 90; t < 100; ++t) want.push_back({2, t, static_cast<double>(t)});
  want.push_back({2, 200, 1.0});
  EXPECT_EQ(c.samples, want);
  EXPECT_TRUE(c.tombstones.empty());
}

TEST_F(CheckpointTest, ACrashBeforePublishingLeavesTheLogAsItWas) {
  WriteHistory();
  uint32_t last = *writer_->NextSegment();
  Content before = ReplayAll(fs_);
  faulty_.FailNth(fs::FaultyFileSystem::Op::kRename, 1, absl::InternalError("crash"));
  EXPECT_FALSE(Checkpoint(fs_, kDir, last, Even, 50).ok());
  ASSERT_TRUE(faulty_.SimulateCrash().ok());
  // The unfinished checkpoint is still there, and ignored.
  EXPECT_TRUE(*fs_->Exists(fs::JoinPath(kDir, CheckpointName(last) + ".tmp")));
  Content after = ReplayAll(fs_);
  EXPECT_EQ(after.series, before.series);
  EXPECT_EQ(after.samples, before.samples);
  EXPECT_EQ(after.tombstones, before.tombstones);

  // Restart: the writer removes the leftover, and the next checkpoint succeeds.
  writer_.reset();
  auto w = Writer::Open(fs_, kDir, {.sync = SyncPolicy::kNever});
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(*fs_->Exists(fs::JoinPath(kDir, CheckpointName(last) + ".tmp")));
  ASSERT_TRUE(Checkpoint(fs_, kDir, last, Even, 50).ok());
  EXPECT_EQ(ReplayAll(fs_).samples.size(), 250u);
}

TEST_F(CheckpointTest, ACrashAfterPublishingBeforeDeletionReplaysTheCheckpointOnce) {
  WriteHistory();
  uint32_t last = *writer_->NextSegment();
  ASSERT_TRUE(Checkpoint(fs_, kDir, last, Even, 50).ok());
  // Put an old segment back, as if the crash came before its deletion.
  {
    auto f = *fs_->NewWritableFile(fs::JoinPath(kDir, SegmentName(1)));
    ASSERT_TRUE(f->Append(SegmentHeader()).ok());
    ASSERT_TRUE(f->Close().ok());
  }
  Content c = ReplayAll(fs_);
  EXPECT_EQ(c.samples.size(), 250u) << "segments the checkpoint covers are skipped";
  uint32_t next = *writer_->NextSegment();
  ASSERT_TRUE(Checkpoint(fs_, kDir, next, Even, 50).ok());
  EXPECT_FALSE(*fs_->Exists(fs::JoinPath(kDir, SegmentName(1))));
}

TEST_F(CheckpointTest, RefusesToCheckpointACorruptLogAndDeletesNothing) {
  WriteHistory();
  uint32_t last = *writer_->NextSegment();
  std::string seg2 = fs::JoinPath(kDir, SegmentName(2));
  ASSERT_TRUE(base_->Truncate(seg2, *base_->FileSize(seg2) - 1).ok());
  auto before = Names();
  auto st = Checkpoint(fs_, kDir, last, Even, 50);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Names(), before);
}

TEST_F(CheckpointTest, ReplayPlanListsTheCheckpointThenLaterSegments) {
  WriteHistory();
  uint32_t last = *writer_->NextSegment();
  ASSERT_TRUE(Checkpoint(fs_, kDir, last, Even, 0).ok());
  auto plan = PlanReplay(fs_, kDir);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->checkpoint_last, last);
  EXPECT_EQ(plan->checkpoint_dir, fs::JoinPath(kDir, CheckpointName(last)));
  EXPECT_EQ(plan->checkpoint_segments, (SegmentRange{1, 1}));
  EXPECT_EQ(plan->segments, (SegmentRange{last + 1, last + 1}));
  // A restarted writer continues the numbering after the checkpoint.
  writer_.reset();
  ASSERT_TRUE(fs_->Remove(fs::JoinPath(kDir, SegmentName(last + 1))).ok());
  auto w = Writer::Open(fs_, kDir);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ((*w)->current_segment(), last + 1);
}

TEST_F(CheckpointTest, CorruptCheckpointIsRepairedLikeASegment) {
  WriteHistory();
  uint32_t last = *writer_->NextSegment();
  ASSERT_TRUE(Checkpoint(fs_, kDir, last, Even, 0).ok());
  Log(std::vector<RefSample>{{2, 1000, 1.0}});
  writer_.reset();
  std::string cp = fs::JoinPath(fs::JoinPath(kDir, CheckpointName(last)), SegmentName(1));
  ASSERT_TRUE(base_->Truncate(cp, *base_->FileSize(cp) - 2).ok());
  Content c = ReplayAll(fs_);
  ASSERT_TRUE(c.corruption);
  EXPECT_TRUE(c.corruption->in_checkpoint);
  auto r = Repair(fs_, kDir, *c.corruption);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments_removed, 1u) << "the segment after the checkpoint";
  Content again = ReplayAll(fs_);
  EXPECT_FALSE(again.corruption);
  EXPECT_EQ(again.samples.size(), c.samples.size());
}

}  // namespace
}  // namespace vigil::storage::wal
