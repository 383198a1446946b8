// The HTTP endpoints Vigil serves today, registered on a Router:
//
//   GET  /-/healthy, /-/ready (503 until the DB is attached), /metrics
//   POST /api/v1/write                             remote_write 1.0 (snappy protobuf)
//   GET|POST /api/v1/series, /api/v1/labels, GET /api/v1/label/:name/values
//   GET  /api/v1/export                            VictoriaMetrics-style JSON lines
//   POST|PUT /api/v1/admin/tsdb/snapshot, delete_series, clean_tombstones
//   GET  /api/v1/status/tsdb, /api/v1/status/buildinfo
//
// JSON shapes and error bodies follow Prometheus's API ({"status":"success","data":...}
// and {"status":"error","errorType":"bad_data","error":"..."} with 400).
//
// Every request acts for its tenant (Request::tenant, set from its credentials by the
// Router; "default" without authentication); queriers strip the reserved __tenant__
// label, so it never shows in answers. remote_write obeys the push guards (in-flight
// budget, the tenant's rate limit, per-tenant counters) shared with the other push
// endpoints: since it stores while decoding, a tenant in rate debt is refused up front
// (429 + Retry-After) and what it stored is charged afterwards.
//
// Thread-safety: handlers run concurrently. AttachStorage() and DetachStorage() may be
// called from any thread while the server runs; requests that need storage answer 503
// while none is attached.
#pragma once

#include <functional>

#include <atomic>
#include <string>

#include "base/metrics.h"
#include "http/ingest_api.h"
#include "http/server.h"
#include "storage/db.h"

namespace vigil::ingest {
class RemoteWriteIngester;
}

namespace vigil::http {

struct BuildInfo {
  std::string version;
  std::string revision;
  std::string branch;
  std::string build_user;
  std::string build_date;
};

class Api {
 public:
  Api(BuildInfo build, metrics::Registry* registry);
  ~Api();

  // Registers every endpoint. The Api must outlive the router's use.
  void Register(Router* router);
  // Limits and counters for /api/v1/write (IngestApi::guards()); call before serving.
  // Without them remote_write is unlimited.
  void SetPushGuards(PushGuards guards) { guards_ = guards; }

  // Makes storage available and /-/ready answer 200. Both must stay valid until
  // DetachStorage() returns.
  void AttachStorage(storage::DB* db, ingest::RemoteWriteIngester* ingester);
  // Makes new requests that need storage answer 503, then waits for those already using
  // it to finish, so the caller may close the DB right after. Used at shutdown.
  void DetachStorage();

  // Public so that the other endpoint groups (query_api.h, remote_read.h) share one
  // attach/detach protocol.
  // A request's hold on storage: while any Lease lives, DetachStorage waits.
  class Lease {
   public:
    Lease(const Api* api, storage::DB* db, ingest::RemoteWriteIngester* ing)
        : api_(api), db_(db), ingester_(ing) {}
    Lease(Lease&& o) noexcept : api_(o.api_), db_(o.db_), ingester_(o.ingester_) { o.api_ = nullptr; }
    Lease(const Lease&) = delete;
    ~Lease() {
      if (api_ != nullptr) api_->in_use_.fetch_sub(1);
    }
    storage::DB* db() const { return db_; }
    ingest::RemoteWriteIngester* ingester() const { return ingester_; }
    explicit operator bool() const { return db_ != nullptr; }

   private:
    const Api* api_;
    storage::DB* db_;
    ingest::RemoteWriteIngester* ingester_;
  };
  // The lease, or an empty one after answering 503 while storage is not attached.
  Lease NeedDb(Response* resp) const;

 private:
  void Series(const Request& req, Response* resp);
  void Labels(const Request& req, Response* resp);
  void LabelValues(const Request& req, Response* resp);
  // Shared body of /labels and /label/<name>/values: the sorted union of `list` over every
  // match[] set (or all series), cut at `limit` with a warning.
  using NameLister = std::function<absl::StatusOr<std::vector<std::string>>(
      storage::Querier&, const model::Matchers&)>;
  void RespondNameUnion(const Request& req, Response* resp, const NameLister& list) const;
  void Export(const Request& req, Response* resp);
  void Write(const Request& req, Response* resp);
  void Snapshot(const Request& req, Response* resp);
  void DeleteSeries(const Request& req, Response* resp);
  void CleanTombstones(const Request& req, Response* resp);
  void TsdbStatus(const Request& req, Response* resp);
  void BuildInfoHandler(const Request& req, Response* resp);
  void Metrics(const Request& req, Response* resp);

  const BuildInfo build_;
  metrics::Registry* const registry_;
  PushGuards guards_;
  // Sequentially consistent on purpose: a request increments in_use_ then reads db_,
  // DetachStorage clears db_ then reads in_use_, so one of them always sees the other.
  std::atomic<storage::DB*> db_{nullptr};
  std::atomic<ingest::RemoteWriteIngester*> ingester_{nullptr};
  mutable std::atomic<int64_t> in_use_{0};
};

}  // namespace vigil::http
