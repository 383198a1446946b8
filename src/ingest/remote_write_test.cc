#include "ingest/remote_write.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "fmt/format.h"
#include "gtest/gtest.h"
#include "ingest/decoded.h"
#include "model/sample.h"
#include "storage/exemplar/circular_storage.h"
#include "remote_write.pb.h"
#include "snappy.h"

namespace vigil::ingest {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000;

// A storage stand-in that keeps what was committed and refuses out-of-order samples the
// way the head does. It also checks the ingester hands back the refs it was given.
class FakeDb : public storage::Appendable {
 public:
  struct Stored {
    std::string tenant;
    model::Labels labels;
    model::Sample sample;
  };

  class App : public storage::Appender {
   public:
    App(FakeDb* db, std::string tenant) : db_(db), tenant_(std::move(tenant)) {}
    absl::StatusOr<storage::SeriesRef> Append(storage::SeriesRef ref, const model::Labels& labels,
                                              int64_t t, double v) override {
      ++db_->appends;
      if (db_->fail_appends) return absl::InternalError("disk on fire");
      std::string key = tenant_ + "/" + labels.ToString();
      auto it = db_->refs.find(key);
      if (ref != 0) {
        ++db_->appends_with_ref;
        // The ref must be the one this series got before.
        if (it == db_->refs.end() || it->second != ref) return absl::InternalError("wrong ref");
      }
      if (it == db_->refs.end()) {
        if (db_->max_series > 0 && static_cast<int>(db_->refs.size()) >= db_->max_series) {
          return storage::RejectError(storage::Reject::kSeriesLimit,
                                      "series limit of 1 per tenant reached");
        }
        it = db_->refs.emplace(key, db_->refs.size() + 1).first;
      }
      int64_t& last = db_->last_t[it->second];
      if (t <= last && last != 0) {
        return storage::RejectError(storage::Reject::kOutOfOrder, "out of order sample");
      }
      last = t;
      pending_.push_back({tenant_, labels, {t, v}});
      db_->labels_of[it->second] = {tenant_, labels};
      return it->second;
    }
    // By ref, as the head does it: the labels are the ones the ref was handed out for.
    absl::StatusOr<storage::SeriesRef> AppendRef(storage::SeriesRef ref, int64_t t,
                                                 double v) override {
      auto it = db_->labels_of.find(ref);
      if (it == db_->labels_of.end() || it->second.first != tenant_ || db_->forget_refs) {
        return storage::SeriesRef{0};
      }
      model::Labels labels = it->second.second;
      return Append(ref, labels, t, v);
    }
    absl::Status Commit() override {
      if (db_->fail_commit) return absl::DataLossError("wal write failed");
      for (auto& p : pending_) db_->stored.push_back(std::move(p));
      pending_.clear();
      return absl::OkStatus();
    }
    void Rollback() override { pending_.clear(); }

   private:
    FakeDb* db_;
    std::string tenant_;
    std::vector<Stored> pending_;
  };

  std::unique_ptr<storage::Appender> NewAppender(std::string_view tenant) override {
    return std::make_unique<App>(this, std::string(tenant));
  }

  std::vector<Stored> stored;
  std::map<std::string, storage::SeriesRef> refs;
  std::map<storage::SeriesRef, int64_t> last_t;
  std::map<storage::SeriesRef, std::pair<std::string, model::Labels>> labels_of;
  bool forget_refs = false;  // AppendRef answers 0, as after garbage collection
  int max_series = 0;
  int appends = 0;
  int appends_with_ref = 0;
  bool fail_appends = false;
  bool fail_commit = false;
};

struct SeriesSpec {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<int64_t, double>> samples;
};

std::string Body(const std::vector<SeriesSpec>& series) {
  prometheus::WriteRequest req;
  for (const auto& s : series) {
    auto* ts = req.add_timeseries();
    for (const auto& [n, v] : s.labels) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    }
    for (const auto& [t, v] : s.samples) {
      auto* smp = ts->add_samples();
      smp->set_timestamp(t);
      smp->set_value(v);
    }
  }
  std::string raw = req.SerializeAsString();
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

class RemoteWriteTest : public ::testing::Test {
 protected:
  RemoteWriteIngester MakeIngester() {
    RemoteWriteOptions opts;
    opts.now_ms = [] { return kNow; };
    return RemoteWriteIngester(&db_, &registry_, opts);
  }
  FakeDb db_;
  metrics::Registry registry_;
};

TEST_F(RemoteWriteTest, StoresEverySampleAndAnswers204) {
  auto ing = MakeIngester();
  WriteResult r = ing.Write("default", Body({{{{"__name__", "up"}, {"job", "a"}}, {{1, 1}, {2, 0}}},
                                             {{{"__name__", "up"}, {"job", "b"}}, {{1, 1}}}}));
  EXPECT_EQ(r.http_status, 204);
  EXPECT_EQ(r.message, "");
  EXPECT_EQ(r.samples_stored, 3);
  ASSERT_EQ(db_.stored.size(), 3u);
  EXPECT_EQ(db_.stored[0].tenant, "default");
  EXPECT_EQ(db_.stored[0].labels, (model::Labels{{"__name__", "up"}, {"job", "a"}}));
  EXPECT_EQ(db_.stored[1].sample, (model::Sample{2, 0}));
  EXPECT_THAT(registry_.Render(),
              HasSubstr("vigil_ingest_samples_total{protocol=\"remote_write\"} 3\n"));
}

TEST_F(RemoteWriteTest, SortsUnsortedLabelsAndDropsEmptyValues) {
  auto ing = MakeIngester();
  WriteResult r =
      ing.Write("default", Body({{{{"zone", "z"}, {"__name__", "m"}, {"empty", ""}}, {{1, 1}}}}));
  EXPECT_EQ(r.http_status, 204) << r.message;
  ASSERT_EQ(db_.stored.size(), 1u);
  EXPECT_EQ(db_.stored[0].labels, (model::Labels{{"__name__", "m"}, {"zone", "z"}}));
}

TEST_F(RemoteWriteTest, ReusesSeriesRefsAcrossRequests) {
  auto ing = MakeIngester();
  auto body1 = Body({{{{"__name__", "up"}}, {{1, 1}}}});
  auto body2 = Body({{{{"__name__", "up"}}, {{2, 1}}}});
  ASSERT_EQ(ing.Write("default", body1).http_status, 204);
  EXPECT_EQ(db_.appends_with_ref, 0);
  ASSERT_EQ(ing.Write("default", body2).http_status, 204);
  EXPECT_EQ(db_.appends_with_ref, 1);
  // Another tenant with the same labels is another series: no ref from the cache.
  ASSERT_EQ(ing.Write("other", body2).http_status, 204);
  EXPECT_EQ(db_.appends_with_ref, 1);
  EXPECT_EQ(db_.refs.size(), 2u);
}

TEST_F(RemoteWriteTest, FallsBackToLabelsWhenStorageForgotTheRef) {
  auto ing = MakeIngester();
  ASSERT_EQ(ing.Write("default", Body({{{{"__name__", "up"}, {"job", "a"}}, {{1, 1}}}})).http_status,
            204);
  db_.forget_refs = true;  // as if the series had been garbage-collected
  WriteResult r = ing.Write("default", Body({{{{"__name__", "up"}, {"job", "a"}}, {{2, 5}}}}));
  EXPECT_EQ(r.http_status, 204) << r.message;
  ASSERT_EQ(db_.stored.size(), 2u);
  EXPECT_EQ(db_.stored[1].labels, (model::Labels{{"__name__", "up"}, {"job", "a"}}));
  EXPECT_EQ(db_.stored[1].sample.v, 5);
}

TEST_F(RemoteWriteTest, RefusesBadSeriesWith400AndStoresTheRest) {
  struct Case {
    const char* name;
    SeriesSpec bad;
    const char* reason;
    const char* detail;
  };
  std::vector<Case> cases = {
      {"invalid metric name", {{{"__name__", "1up"}}, {{1, 1}}}, "invalid_labels",
       "invalid metric name"},
      {"invalid label name", {{{"__name__", "up"}, {"a-b", "x"}}, {{1, 1}}}, "invalid_labels",
       "invalid label name"},
      {"reserved tenant label", {{{"__name__", "up"}, {"__tenant__", "evil"}}, {{1, 1}}},
       "invalid_labels", "reserved"},
      {"invalid utf-8", {{{"__name__", "up"}, {"a", "\xff"}}, {{1, 1}}}, "invalid_labels",
       "UTF-8"},
      {"duplicate names", {{{"__name__", "up"}, {"a", "1"}, {"a", "2"}}, {{1, 1}}},
       "invalid_labels", "duplicate label name"},
      {"no labels", {{}, {{1, 1}}}, "invalid_labels", "no labels"},
      {"too far in the future", {{{"__name__", "up"}}, {{kNow + 11 * 60 * 1000, 1}}},
       "too_far_in_future", "too far in the future"},
  };
  for (const auto& c : cases) {
    FakeDb db;
    metrics::Registry reg;
    RemoteWriteOptions opts;
    opts.now_ms = [] { return kNow; };
    RemoteWriteIngester ing(&db, &reg, opts);
    WriteResult r = ing.Write("default", Body({{{{"__name__", "good"}}, {{1, 1}}}, c.bad}));
    EXPECT_EQ(r.http_status, 400) << c.name;
    EXPECT_THAT(r.message, HasSubstr(c.detail)) << c.name;
    EXPECT_THAT(r.message, HasSubstr(fmt::format("1 of 2 samples refused (1 {})", c.reason)))
        << c.name;
    EXPECT_EQ(db.stored.size(), 1u) << c.name;
    EXPECT_THAT(reg.Render(), HasSubstr(fmt::format(
                                  "vigil_ingest_samples_rejected_total{{protocol=\"remote_write\","
                                  "reason=\"{}\"}} 1\n",
                                  c.reason)))
        << c.name;
  }
}

TEST_F(RemoteWriteTest, AcceptsSamplesUpToTenMinutesAhead) {
  auto ing = MakeIngester();
  WriteResult r = ing.Write("default", Body({{{{"__name__", "up"}}, {{kNow + 10 * 60 * 1000, 1}}}}));
  EXPECT_EQ(r.http_status, 204) << r.message;
}

TEST_F(RemoteWriteTest, ReportsStorageRefusalsByReason) {
  auto ing = MakeIngester();
  ASSERT_EQ(ing.Write("default", Body({{{{"__name__", "up"}}, {{10, 1}}}})).http_status, 204);
  WriteResult r = ing.Write("default", Body({{{{"__name__", "up"}}, {{5, 1}, {11, 2}}}}));
  EXPECT_EQ(r.http_status, 400);
  EXPECT_THAT(r.message, HasSubstr("1 of 2 samples refused (1 out_of_order)"));
  EXPECT_THAT(r.message, HasSubstr("up{}: out of order sample"));
  EXPECT_EQ(db_.stored.size(), 2u);
}

TEST_F(RemoteWriteTest, SeriesLimitIsAPermanentRefusalNamingTheLimit) {
  db_.max_series = 1;
  auto ing = MakeIngester();
  WriteResult r =
      ing.Write("default", Body({{{{"__name__", "a"}}, {{1, 1}}}, {{{"__name__", "b"}}, {{1, 1}}}}));
  EXPECT_EQ(r.http_status, 400);
  EXPECT_THAT(r.message, HasSubstr("series_limit"));
  EXPECT_THAT(r.message, HasSubstr("series limit of 1 per tenant"));
}

TEST_F(RemoteWriteTest, MalformedBodiesAre400CannotDecode) {
  auto ing = MakeIngester();
  std::string not_proto;
  std::string raw = "\x0a\x05\x0a";  // a series whose length runs past the end
  snappy::Compress(raw.data(), raw.size(), &not_proto);
  for (const std::string& body : {std::string("definitely not snappy"), not_proto}) {
    WriteResult r = ing.Write("default", body);
    EXPECT_EQ(r.http_status, 400);
    EXPECT_THAT(r.message, HasSubstr("cannot decode remote write request: "));
  }
  EXPECT_TRUE(db_.stored.empty());
}

TEST_F(RemoteWriteTest, BodyDecompressingPastTheLimitIs413) {
  RemoteWriteOptions opts;
  opts.now_ms = [] { return kNow; };
  opts.max_decompressed_bytes = 100;
  RemoteWriteIngester ing(&db_, &registry_, opts);
  WriteResult r = ing.Write("default", Body({{{{"__name__", std::string(200, 'x')}}, {{1, 1}}}}));
  EXPECT_EQ(r.http_status, 413);
  EXPECT_THAT(r.message, HasSubstr("exceeds the limit of 100 bytes"));
  EXPECT_TRUE(db_.stored.empty());
}

TEST_F(RemoteWriteTest, StorageFailuresAre500AndStoreNothing) {
  auto ing = MakeIngester();
  db_.fail_commit = true;
  WriteResult r = ing.Write("default", Body({{{{"__name__", "up"}}, {{1, 1}}}}));
  EXPECT_EQ(r.http_status, 500);
  EXPECT_THAT(r.message, HasSubstr("wal write failed"));
  db_.fail_commit = false;
  db_.fail_appends = true;
  r = ing.Write("default", Body({{{{"__name__", "up"}}, {{2, 1}}}}));
  EXPECT_EQ(r.http_status, 500);
  EXPECT_THAT(r.message, HasSubstr("disk on fire"));
  EXPECT_TRUE(db_.stored.empty());
}

TEST_F(RemoteWriteTest, SeriesWithoutSamplesAreIgnored) {
  auto ing = MakeIngester();
  WriteResult r = ing.Write("default", Body({{{{"__name__", "1bad"}}, {}}}));
  EXPECT_EQ(r.http_status, 204);
  EXPECT_EQ(db_.appends, 0);
}

}  // namespace
}  // namespace vigil::ingest

namespace vigil::ingest {
namespace {

TEST(RemoteWriteExtras, StoresExemplarsAndHandsOverMetadata) {
  FakeDb db;
  metrics::Registry registry;
  storage::exemplar::CircularExemplarStorage exemplars(100);
  std::vector<std::pair<std::string, MetricMetadata>> got_md;
  RemoteWriteOptions opts;
  opts.now_ms = [] { return kNow; };
  opts.exemplars = &exemplars;
  opts.on_metadata = [&](std::string_view tenant, const std::vector<MetricMetadata>& md) {
    for (const MetricMetadata& m : md) got_md.push_back({std::string(tenant), m});
  };
  RemoteWriteIngester ing(&db, &registry, opts);

  prometheus::WriteRequest req;
  // A series with a sample and an exemplar; unsorted labels are sorted for the exemplar too.
  auto* ts = req.add_timeseries();
  ts->add_labels()->set_name("job");
  ts->mutable_labels(0)->set_value("a");
  ts->add_labels()->set_name("__name__");
  ts->mutable_labels(1)->set_value("req_total");
  auto* smp = ts->add_samples();
  smp->set_timestamp(1000);
  smp->set_value(5);
  auto* ex = ts->add_exemplars();
  ex->add_labels()->set_name("trace_id");
  ex->mutable_labels(0)->set_value("abc");
  ex->set_value(1.5);
  ex->set_timestamp(900);
  // Exemplars only, as Prometheus sends them in their own TimeSeries; the second is out
  // of order and refused without failing the request.
  ts = req.add_timeseries();
  ts->add_labels()->set_name("__name__");
  ts->mutable_labels(0)->set_value("req_total");
  ts->add_labels()->set_name("job");
  ts->mutable_labels(1)->set_value("a");
  ex = ts->add_exemplars();
  ex->set_value(2);
  ex->set_timestamp(950);
  ex = ts->add_exemplars();
  ex->set_value(3);
  ex->set_timestamp(10);
  // A series with invalid labels keeps no exemplar.
  ts = req.add_timeseries();
  ts->add_labels()->set_name("__name__");
  ts->mutable_labels(0)->set_value("bad-name");
  ex = ts->add_exemplars();
  ex->set_value(4);
  ex->set_timestamp(1000);
  auto* md = req.add_metadata();
  md->set_type(prometheus::MetricMetadata::COUNTER);
  md->set_metric_family_name("req");
  md->set_help("Requests.");
  md = req.add_metadata();
  md->set_type(prometheus::MetricMetadata::GAUGEHISTOGRAM);
  md->set_metric_family_name("gh");
  md->set_unit("seconds");
  std::string raw = req.SerializeAsString(), body;
  snappy::Compress(raw.data(), raw.size(), &body);

  WriteResult r = ing.Write("t1", body);
  EXPECT_EQ(r.http_status, 204) << r.message;
  EXPECT_EQ(r.samples_stored, 1);

  auto sel = exemplars.SelectExemplars(
      "t1", 0, 10000, {{model::Matcher::MustMake(model::MatchType::kRegexMatch, "__name__", ".+")}});
  ASSERT_EQ(sel.size(), 1u);
  EXPECT_EQ(sel[0].series_labels, (model::Labels{{"__name__", "req_total"}, {"job", "a"}}));
  EXPECT_EQ(sel[0].exemplars,
            (std::vector<storage::Exemplar>{{model::Labels{{"trace_id", "abc"}}, 1.5, 900},
                                            {model::Labels{}, 2, 950}}));
  EXPECT_THAT(registry.Render(),
              HasSubstr("vigil_ingest_exemplars_total{protocol=\"remote_write\",result=\"stored\"} 2\n"));
  EXPECT_THAT(registry.Render(),
              HasSubstr("vigil_ingest_exemplars_total{protocol=\"remote_write\",result=\"refused\"} 2\n"));

  ASSERT_EQ(got_md.size(), 2u);
  EXPECT_EQ(got_md[0].first, "t1");
  EXPECT_EQ(got_md[0].second, (MetricMetadata{"req", "counter", "Requests.", ""}));
  EXPECT_EQ(got_md[1].second, (MetricMetadata{"gh", "gaugehistogram", "", "seconds"}));
}

}  // namespace
}  // namespace vigil::ingest
