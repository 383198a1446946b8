#include "http/dashboard_store.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <random>

#include "base/log.h"
#include "fmt/format.h"
#include "fs/file_system.h"
#include "http/json.h"
#include "http/params.h"
#include "simdjson.h"

namespace vigil::http {
namespace {

constexpr std::string_view kSuffix = ".json";
constexpr std::string_view kTmpSuffix = ".json.tmp";

// A dashboard document taken apart: the fields the server reads, and every other field as
// minified JSON, in the order given.
struct Document {
  bool has_uid = false;
  std::string uid;
  bool has_version = false;
  int64_t version = 0;
  int64_t updated_ms = 0;
  std::string title;
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> fields;
};

absl::StatusOr<Document> ParseDocument(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root); err) {
    return absl::InvalidArgumentError(
        fmt::format("cannot parse dashboard: invalid JSON: {}", simdjson::error_message(err)));
  }
  simdjson::dom::object obj;
  if (root.get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("cannot parse dashboard: the body must be a JSON object");
  }
  Document d;
  bool has_title = false, has_panels = false;
  for (auto field : obj) {
    const std::string key(field.key);
    simdjson::dom::element v = field.value;
    if (key == "uid") {
      if (v.is_null()) continue;
      std::string_view s;
      if (v.get(s) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("invalid dashboard: \"uid\" must be a string");
      }
      d.has_uid = !s.empty();
      d.uid = std::string(s);
      continue;
    }
    if (key == "version") {
      if (v.is_null()) continue;
      int64_t n = 0;
      if (v.get(n) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("invalid dashboard: \"version\" must be an integer");
      }
      d.has_version = true;
      d.version = n;
      continue;
    }
    if (key == "updated") {
      // Set by the server on every save; a client's value is ignored.
      std::string_view s;
      if (v.get(s) == simdjson::SUCCESS) {
        if (auto t = ParseTime(s); t.ok()) d.updated_ms = *t;
      }
      continue;
    }
    if (key == "title") {
      std::string_view s;
      if (v.get(s) != simdjson::SUCCESS || s.empty()) {
        return absl::InvalidArgumentError("invalid dashboard: \"title\" must be a non-empty string");
      }
      d.title = std::string(s);
      has_title = true;
    } else if (key == "panels") {
      if (!v.is_array()) {
        return absl::InvalidArgumentError("invalid dashboard: \"panels\" must be an array");
      }
      has_panels = true;
    } else if (key == "tags" && !v.is_null()) {
      simdjson::dom::array tags;
      if (v.get(tags) != simdjson::SUCCESS) {
        return absl::InvalidArgumentError("invalid dashboard: \"tags\" must be an array of strings");
      }
      for (auto t : tags) {
        std::string_view s;
        if (t.get(s) != simdjson::SUCCESS) {
          return absl::InvalidArgumentError("invalid dashboard: \"tags\" must be an array of strings");
        }
        d.tags.emplace_back(s);
      }
    }
    d.fields.emplace_back(key, simdjson::minify(v));
  }
  if (!has_title) return absl::InvalidArgumentError("invalid dashboard: \"title\" is missing");
  if (!has_panels) return absl::InvalidArgumentError("invalid dashboard: \"panels\" is missing");
  return d;
}

// The stored form: "uid" first, the document's own fields as given, then the server's
// "version" and "updated".
std::string Render(const Document& d, std::string_view uid, int64_t version, int64_t updated_ms) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("uid").String(uid);
  for (const auto& [k, v] : d.fields) w.Key(k).Raw(v);
  w.Key("version").Int(version);
  w.Key("updated").String(FormatRfc3339Millis(updated_ms));
  w.EndObject();
  return out;
}

DashboardSummary Summarize(const Document& d, std::string uid, int64_t version, int64_t updated_ms) {
  return DashboardSummary{std::move(uid), d.title, d.tags, version, updated_ms};
}

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool ValidDashboardUid(std::string_view uid) {
  if (uid.empty() || uid.size() > 64) return false;
  return std::all_of(uid.begin(), uid.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

std::string FormatRfc3339Millis(int64_t ms) {
  int64_t secs = ms / 1000, frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  const time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, frac);
}

DashboardStore::DashboardStore(fs::FileSystem* fs, std::string dir, std::function<int64_t()> now_ms)
    : fs_(fs), dir_(std::move(dir)), now_ms_(now_ms ? std::move(now_ms) : SystemNowMs) {
  uid_seed_ = std::random_device{}();
  uid_seed_ = (uid_seed_ << 32) ^ std::random_device{}();
}

absl::Status DashboardStore::Open(std::span<const EmbeddedFile> seeds) {
  std::lock_guard lock(mu_);
  auto is_dir = fs_->IsDir(dir_);
  if (!is_dir.ok()) {
    return absl::InternalError(fmt::format("cannot open dashboards directory {}: {}", dir_,
                                           std::string(is_dir.status().message())));
  }
  if (!*is_dir) {
    if (auto s = fs_->MkdirAll(dir_); !s.ok()) {
      return absl::InternalError(fmt::format("cannot create dashboards directory {}: {}", dir_,
                                             std::string(s.message())));
    }
    for (const EmbeddedFile& seed : seeds) {
      auto doc = ParseDocument(seed.data);
      if (!doc.ok() || !ValidDashboardUid(doc->uid)) {
        // The built-in files are checked by a unit test; this is a broken build.
        return absl::InternalError(fmt::format("BUG: built-in dashboard {} is invalid: {}", seed.path,
                                               doc.ok() ? "bad uid" : std::string(doc.status().message())));
      }
      if (auto s = WriteLocked(doc->uid, Render(*doc, doc->uid, 1, now_ms_())); !s.ok()) return s;
      VLOG_INFO("dashboards", "seeded built-in dashboard {} ({})", doc->uid, doc->title);
    }
  }
  auto names = fs_->ListDir(dir_);
  if (!names.ok()) {
    return absl::InternalError(fmt::format("cannot list dashboards directory {}: {}", dir_,
                                           std::string(names.status().message())));
  }
  dashboards_.clear();
  for (const std::string& name : *names) {
    if (name.ends_with(kTmpSuffix)) {
      // A save that did not reach its rename: the old document is still in place.
      (void)fs_->Remove(fs::JoinPath(dir_, name));
      continue;
    }
    if (!name.ends_with(kSuffix)) continue;
    if (auto s = LoadFile(name); !s.ok()) {
      VLOG_WARN("dashboards", "skipping {}: {}", fs::JoinPath(dir_, name), std::string(s.message()));
    }
  }
  VLOG_INFO("dashboards", "loaded {} dashboard(s) from {}", dashboards_.size(), dir_);
  return absl::OkStatus();
}

absl::Status DashboardStore::LoadFile(const std::string& name) {
  const std::string uid = name.substr(0, name.size() - kSuffix.size());
  if (!ValidDashboardUid(uid)) return absl::InvalidArgumentError("file name is not a valid uid");
  auto data = fs_->ReadFile(fs::JoinPath(dir_, name));
  if (!data.ok()) return data.status();
  auto doc = ParseDocument(*data);
  if (!doc.ok()) return doc.status();
  if (doc->uid != uid) {
    return absl::InvalidArgumentError(
        fmt::format("its \"uid\" \"{}\" differs from the file name", doc->uid));
  }
  const int64_t version = doc->has_version ? doc->version : 1;
  dashboards_[uid] = Entry{Summarize(*doc, uid, version, doc->updated_ms), std::move(*data)};
  return absl::OkStatus();
}

absl::Status DashboardStore::WriteLocked(const std::string& uid, const std::string& json) {
  const std::string path = fs::JoinPath(dir_, uid + std::string(kSuffix));
  const std::string tmp = path + ".tmp";
  auto fail = [&](std::string_view what, const absl::Status& s) {
    return absl::InternalError(fmt::format("cannot save dashboard {}: {} {}: {}", uid, what, tmp,
                                           std::string(s.message())));
  };
  auto f = fs_->NewWritableFile(tmp);
  if (!f.ok()) return fail("create", f.status());
  if (auto s = (*f)->Append(json); !s.ok()) return fail("write", s);
  if (auto s = (*f)->Sync(); !s.ok()) return fail("sync", s);
  if (auto s = (*f)->Close(); !s.ok()) return fail("close", s);
  if (auto s = fs_->Rename(tmp, path); !s.ok()) return fail("rename", s);
  if (auto s = fs_->SyncDir(dir_); !s.ok()) return fail("sync the directory of", s);
  return absl::OkStatus();
}

std::string DashboardStore::NewUidLocked() {
  static constexpr std::string_view kAlphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::mt19937_64 rng(uid_seed_++);
  for (;;) {
    std::string uid;
    for (int i = 0; i < 12; ++i) uid.push_back(kAlphabet[rng() % kAlphabet.size()]);
    if (!dashboards_.contains(uid)) return uid;
  }
}

std::vector<DashboardSummary> DashboardStore::List() const {
  std::vector<DashboardSummary> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(dashboards_.size());
    for (const auto& [uid, e] : dashboards_) out.push_back(e.summary);
  }
  // By title as a person reads a list: case does not matter; the uid breaks ties (the map
  // is in uid order and the sort is stable).
  auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::stable_sort(out.begin(), out.end(), [&](const DashboardSummary& a, const DashboardSummary& b) {
    return lower(a.title) < lower(b.title);
  });
  return out;
}

absl::StatusOr<std::string> DashboardStore::Get(std::string_view uid) const {
  std::lock_guard lock(mu_);
  auto it = dashboards_.find(uid);
  if (it == dashboards_.end()) {
    return absl::NotFoundError(fmt::format("dashboard \"{}\" not found", uid));
  }
  return it->second.json;
}

absl::StatusOr<DashboardSaved> DashboardStore::Create(std::string_view json) {
  auto doc = ParseDocument(json);
  if (!doc.ok()) return doc.status();
  std::lock_guard lock(mu_);
  std::string uid = doc->has_uid ? doc->uid : NewUidLocked();
  if (!ValidDashboardUid(uid)) {
    return absl::InvalidArgumentError(
        fmt::format("invalid dashboard: \"uid\" \"{}\" must match [A-Za-z0-9_-]{{1,64}}", uid));
  }
  if (dashboards_.contains(uid)) {
    return absl::AlreadyExistsError(fmt::format("dashboard \"{}\" already exists", uid));
  }
  const int64_t now = now_ms_();
  std::string stored = Render(*doc, uid, 1, now);
  if (auto s = WriteLocked(uid, stored); !s.ok()) return s;
  dashboards_[uid] = Entry{Summarize(*doc, uid, 1, now), std::move(stored)};
  return DashboardSaved{uid, 1};
}

absl::StatusOr<DashboardSaved> DashboardStore::Put(std::string_view uid_view, std::string_view json) {
  const std::string uid(uid_view);
  if (!ValidDashboardUid(uid)) {
    return absl::InvalidArgumentError(
        fmt::format("invalid dashboard uid \"{}\": must match [A-Za-z0-9_-]{{1,64}}", uid));
  }
  auto doc = ParseDocument(json);
  if (!doc.ok()) return doc.status();
  if (doc->has_uid && doc->uid != uid) {
    return absl::InvalidArgumentError(
        fmt::format("invalid dashboard: \"uid\" \"{}\" in the body differs from \"{}\" in the path",
                    doc->uid, uid));
  }
  std::lock_guard lock(mu_);
  auto it = dashboards_.find(uid);
  const int64_t stored_version = it == dashboards_.end() ? 0 : it->second.summary.version;
  if (doc->has_version && it != dashboards_.end() && doc->version != stored_version) {
    return absl::AbortedError(fmt::format(
        "dashboard \"{}\" was changed by someone else: it is at version {}, this edit is based on "
        "version {}; reload it and apply the change again",
        uid, stored_version, doc->version));
  }
  const int64_t version = stored_version + 1;
  const int64_t now = now_ms_();
  std::string stored = Render(*doc, uid, version, now);
  if (auto s = WriteLocked(uid, stored); !s.ok()) return s;
  dashboards_[uid] = Entry{Summarize(*doc, uid, version, now), std::move(stored)};
  return DashboardSaved{uid, version};
}

absl::Status DashboardStore::Delete(std::string_view uid) {
  std::lock_guard lock(mu_);
  auto it = dashboards_.find(uid);
  if (it == dashboards_.end()) {
    return absl::NotFoundError(fmt::format("dashboard \"{}\" not found", uid));
  }
  const std::string path = fs::JoinPath(dir_, it->first + std::string(kSuffix));
  if (auto s = fs_->Remove(path); !s.ok()) {
    return absl::InternalError(
        fmt::format("cannot delete dashboard {}: {}", it->first, std::string(s.message())));
  }
  (void)fs_->SyncDir(dir_);
  dashboards_.erase(it);
  return absl::OkStatus();
}

}  // namespace vigil::http
