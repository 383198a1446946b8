#include "http/dashboard_store.h"

#include "fs/file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"

namespace vigil::http {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
constexpr EmbeddedFile kSeeds[] = {
    {"seed.json", R"({"uid":"seed","title":"Seeded","tags":["built-in"],"panels":[]})", "", ""},
};

std::string Field(const std::string& json, const char* key) {
  simdjson::dom::parser p;
  auto el = p.parse(json)[key];
  if (el.error()) return "<absent>";
  return simdjson::minify(el.value());
}

class DashboardStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<DashboardStore> Open() {
    auto s = std::make_unique<DashboardStore>(fs_.get(), "/data/dashboards", [this] { return now_; });
    EXPECT_TRUE(s->Open(kSeeds).ok());
    return s;
  }

  std::unique_ptr<fs::FileSystem> fs_ = fs::NewMemFileSystem();
  int64_t now_ = kT0;
};

TEST_F(DashboardStoreTest, SeedsBuiltinsOnFirstOpenOnly) {
  auto store = Open();
  auto list = store->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].uid, "seed");
  EXPECT_EQ(list[0].title, "Seeded");
  EXPECT_THAT(list[0].tags, ElementsAre("built-in"));
  EXPECT_EQ(list[0].version, 1);
  EXPECT_EQ(list[0].updated_ms, kT0);
  EXPECT_TRUE(fs_->Exists("/data/dashboards/seed.json").value());

  // Deleted by the user: a restart does not bring it back.
  ASSERT_TRUE(store->Delete("seed").ok());
  store = Open();
  EXPECT_TRUE(store->List().empty());
}

TEST_F(DashboardStoreTest, CreateGeneratesUidsAndStoresOtherFieldsAsGiven) {
  auto store = Open();
  auto saved = store->Create(
      R"({"title":"Mine","panels":[{"id":1,"type":"stat"}],"time":{"from":"now-1h","to":"now"},)"
      R"("refresh":"","x-custom":[1,2.5,null,true],"version":7,"updated":"1999-01-01T00:00:00Z"})");
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(saved->version, 1);
  EXPECT_TRUE(ValidDashboardUid(saved->uid));
  EXPECT_EQ(saved->uid.size(), 12u);
  auto doc = store->Get(saved->uid);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(Field(*doc, "uid"), "\"" + saved->uid + "\"");
  EXPECT_EQ(Field(*doc, "panels"), R"([{"id":1,"type":"stat"}])");
  EXPECT_EQ(Field(*doc, "time"), R"({"from":"now-1h","to":"now"})");
  EXPECT_EQ(Field(*doc, "x-custom"), "[1,2.5,null,true]");
  // The server owns version and updated.
  EXPECT_EQ(Field(*doc, "version"), "1");
  EXPECT_EQ(Field(*doc, "updated"), "\"2023-11-14T22:13:20.000Z\"");

  auto other = store->Create(R"({"title":"Mine too","panels":[]})");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->uid, saved->uid);
}

TEST_F(DashboardStoreTest, CreateRefusesTakenUids) {
  auto store = Open();
  ASSERT_TRUE(store->Create(R"({"uid":"a","title":"A","panels":[]})").ok());
  auto again = store->Create(R"({"uid":"a","title":"A again","panels":[]})");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store->Get("a").value().find("A again"), std::string::npos);
}

TEST_F(DashboardStoreTest, RefusesInvalidDocuments) {
  auto store = Open();
  struct Case {
    const char* body;
    const char* error;
  };
  const Case cases[] = {
      {"", "invalid JSON"},
      {"{\"title\":", "invalid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"panels":[]})", "\"title\" is missing"},
      {R"({"title":"","panels":[]})", "\"title\" must be a non-empty string"},
      {R"({"title":3,"panels":[]})", "\"title\" must be a non-empty string"},
      {R"({"title":"t"})", "\"panels\" is missing"},
      {R"({"title":"t","panels":{}})", "\"panels\" must be an array"},
      {R"({"title":"t","panels":[],"tags":"a"})", "\"tags\" must be an array of strings"},
      {R"({"title":"t","panels":[],"tags":[1]})", "\"tags\" must be an array of strings"},
      {R"({"title":"t","panels":[],"uid":"has space"})", "must match [A-Za-z0-9_-]{1,64}"},
      {R"({"title":"t","panels":[],"uid":7})", "\"uid\" must be a string"},
      {R"({"title":"t","panels":[],"version":"3"})", "\"version\" must be an integer"},
      {R"({"title":"t","panels":[],"version":1.5})", "\"version\" must be an integer"},
  };
  for (const Case& c : cases) {
    auto r = store->Create(c.body);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.error)) << c.body;
  }
  const std::string long_uid(65, 'a');
  EXPECT_FALSE(store->Create(R"({"title":"t","panels":[],"uid":")" + long_uid + "\"}").ok());
  EXPECT_TRUE(store->Create(R"({"title":"t","panels":[],"uid":")" + long_uid.substr(1) + "\"}").ok());
  EXPECT_EQ(store->List().size(), 2u);  // the seed and the 64-character one
}

TEST_F(DashboardStoreTest, PutIncrementsVersionsAndDetectsConflicts) {
  auto store = Open();
  // PUT to an absent uid creates it, whatever version the body names.
  auto v1 = store->Put("p", R"({"title":"P","panels":[],"version":5})");
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version, 1);
  now_ += 1000;
  auto v2 = store->Put("p", R"({"title":"P2","panels":[],"version":1})");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version, 2);
  // Someone else edited version 1 meanwhile.
  auto stale = store->Put("p", R"({"title":"P-stale","panels":[],"version":1})");
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(stale.status().message()), HasSubstr("at version 2"));
  // Without a version the save always wins.
  auto v3 = store->Put("p", R"({"title":"P3","panels":[]})");
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(v3->version, 3);
  auto list = store->List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].title, "P3");
  EXPECT_EQ(list[0].version, 3);
  EXPECT_EQ(list[0].updated_ms, kT0 + 1000);
  EXPECT_EQ(Field(store->Get("p").value(), "version"), "3");

  auto mismatch = store->Put("p", R"({"uid":"q","title":"P","panels":[]})");
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Put("bad uid", R"({"title":"P","panels":[]})").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(DashboardStoreTest, SurvivesReopenAndSkipsBrokenFiles) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Create(R"({"uid":"keep","title":"Keep me","panels":[{"id":1}]})").ok());
    ASSERT_TRUE(store->Put("keep", R"({"title":"Kept","panels":[{"id":2}],"version":1})").ok());
    ASSERT_TRUE(store->Delete("seed").ok());
  }
  // A torn save of another dashboard and a foreign file are ignored; a stale temp file is
  // removed.
  auto w = fs_->NewWritableFile("/data/dashboards/torn.json");
  ASSERT_TRUE((*w)->Append("{\"uid\":\"torn\",\"tit").ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto t = fs_->NewWritableFile("/data/dashboards/keep.json.tmp");
  ASSERT_TRUE((*t)->Close().ok());
  auto o = fs_->NewWritableFile("/data/dashboards/README");
  ASSERT_TRUE((*o)->Close().ok());

  auto store = Open();
  auto list = store->List();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].uid, "keep");
  EXPECT_EQ(list[0].title, "Kept");
  EXPECT_EQ(list[0].version, 2);
  EXPECT_EQ(list[0].updated_ms, kT0);
  EXPECT_EQ(Field(store->Get("keep").value(), "panels"), R"([{"id":2}])");
  EXPECT_FALSE(fs_->Exists("/data/dashboards/keep.json.tmp").value());
  // The next save continues from the persisted version.
  EXPECT_EQ(store->Put("keep", R"({"title":"K","panels":[],"version":2})").value().version, 3);
}

TEST_F(DashboardStoreTest, ListIsSortedByTitleIgnoringCase) {
  auto store = Open();
  for (const char* t : {"beta", "Alpha", "gamma", "alpha"}) {
    ASSERT_TRUE(store->Create(std::string(R"({"title":")") + t + R"(","panels":[]})").ok());
  }
  std::vector<std::string> titles;
  for (const auto& d : store->List()) titles.push_back(d.title);
  EXPECT_EQ(titles.size(), 5u);
  EXPECT_EQ(titles[2], "beta");
  EXPECT_EQ(titles[3], "gamma");
  EXPECT_EQ(titles[4], "Seeded");
}

TEST_F(DashboardStoreTest, DeleteOfAnAbsentUidIsNotFound) {
  auto store = Open();
  EXPECT_EQ(store->Delete("nope").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(DashboardUid, Validation) {
  EXPECT_TRUE(ValidDashboardUid("vigil-overview"));
  EXPECT_TRUE(ValidDashboardUid("A_b-9"));
  EXPECT_FALSE(ValidDashboardUid(""));
  EXPECT_FALSE(ValidDashboardUid("a.b"));
  EXPECT_FALSE(ValidDashboardUid("a/b"));
  EXPECT_FALSE(ValidDashboardUid(std::string(65, 'x')));
}

TEST(DashboardTime, FormatsRfc3339WithMilliseconds) {
  EXPECT_EQ(FormatRfc3339Millis(kT0 + 5), "2023-11-14T22:13:20.005Z");
  EXPECT_EQ(FormatRfc3339Millis(0), "1970-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace vigil::http
