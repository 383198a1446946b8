// DashboardStore: the web UI's dashboards, kept as JSON documents, one file per dashboard
// in a directory of the data dir (<storage.tsdb.path>/dashboards/<uid>.json), so they
// survive restarts. The model is documented in docs/api/dashboards.md.
//
// The server only cares about a few fields: "uid" (matches [A-Za-z0-9_-]{1,64}), "title"
// (a non-empty string), "panels" (an array), "tags" (an array of strings, optional),
// "version" (an integer it increments on every save) and "updated" (RFC 3339, set on every
// save). Every other field is stored as given; the UI owns its meaning.
//
// Writes go to "<uid>.json.tmp", which is fsynced and renamed over "<uid>.json", then the
// directory is synced: a crash leaves the old or the new document, never a torn one.
//
// On the first Open (the directory does not exist yet) the built-in dashboards are
// written; later opens never re-create one the user deleted.
//
// Thread-safety: all methods are thread-safe. Reads are served from memory; a save holds
// the store's lock for its file write, which is fine for a handful of saves a minute.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "http/embedded_files.h"

namespace vigil::fs {
class FileSystem;
}

namespace vigil::http {

struct DashboardSummary {
  std::string uid;
  std::string title;
  std::vector<std::string> tags;
  int64_t version = 0;
  int64_t updated_ms = 0;
};

struct DashboardSaved {
  std::string uid;
  int64_t version = 0;
};

class DashboardStore {
 public:
  // `fs` must outlive the store. `now_ms` is the clock for "updated" (tests fix it).
  DashboardStore(fs::FileSystem* fs, std::string dir, std::function<int64_t()> now_ms = nullptr);

  // Creates the directory and writes `seeds` (each a dashboard document, its uid inside)
  // if the directory does not exist, then loads every "<uid>.json". A file that cannot be
  // read or parsed is logged and skipped, so one bad file does not take the others down.
  absl::Status Open(std::span<const EmbeddedFile> seeds);

  // Summaries sorted by title (then uid).
  std::vector<DashboardSummary> List() const;
  // The stored document. NotFound if absent.
  absl::StatusOr<std::string> Get(std::string_view uid) const;
  // Stores a new dashboard at version 1. A missing or empty "uid" is generated.
  // InvalidArgument for a bad document, AlreadyExists for a taken uid.
  absl::StatusOr<DashboardSaved> Create(std::string_view json);
  // Replaces (or creates) dashboard `uid`; the document's version becomes stored+1 (1 when
  // new). Aborted when the document carries a "version" different from the stored one
  // (someone else saved meanwhile); InvalidArgument for a bad document or a body "uid"
  // that differs from `uid`.
  absl::StatusOr<DashboardSaved> Put(std::string_view uid, std::string_view json);
  // NotFound if absent.
  absl::Status Delete(std::string_view uid);

  const std::string& dir() const { return dir_; }

 private:
  struct Entry {
    DashboardSummary summary;
    std::string json;  // the stored document
  };
  absl::Status WriteLocked(const std::string& uid, const std::string& json);
  absl::Status LoadFile(const std::string& name);
  std::string NewUidLocked();

  fs::FileSystem* const fs_;
  const std::string dir_;
  const std::function<int64_t()> now_ms_;
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> dashboards_;  // GUARDED_BY(mu_)
  uint64_t uid_seed_ = 0;                                  // GUARDED_BY(mu_)
};

// Whether `uid` matches [A-Za-z0-9_-]{1,64}.
bool ValidDashboardUid(std::string_view uid);

// A UTC time as RFC 3339 with milliseconds, "2026-11-22T10:23:06.123Z".
std::string FormatRfc3339Millis(int64_t ms);

}  // namespace vigil::http
