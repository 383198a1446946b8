// The dashboards API over a DashboardStore (model and examples: docs/api/dashboards.md):
//
//   GET    /api/v1/dashboards        [{"uid","title","tags","version","updated"}] by title
//   POST   /api/v1/dashboards        create (uid generated when absent) -> {"uid","version":1};
//                                    409 if the uid exists
//   GET    /api/v1/dashboards/:uid   the stored document; 404 if absent
//   PUT    /api/v1/dashboards/:uid   replace or create -> {"uid","version"}; 409 when the
//                                    body's "version" differs from the stored one
//   DELETE /api/v1/dashboards/:uid   data null; 404 if absent
//
// Answers use Prometheus's envelope ({"status":"success","data":...} and
// {"status":"error","errorType":...,"error":...}). A body over 2 MiB is 413; a body that is
// not a valid dashboard is 400. Every change is logged as an audit line naming the client
// address ("audit: dashboard <uid> updated to version 4 by 127.0.0.1:50312").
//
// Thread-safety: handlers run concurrently. Until Attach() every endpoint answers 503;
// the attached store must outlive the server.
#pragma once

#include <atomic>
#include <cstdint>

#include "http/dashboard_store.h"
#include "http/server.h"

namespace vigil::http {

class DashboardsApi {
 public:
  static constexpr uint64_t kMaxBodyBytes = 2u << 20;

  void Register(Router* router);
  void Attach(DashboardStore* store) { store_.store(store); }

  void List(const Request& req, Response* resp) const;
  void Create(const Request& req, Response* resp) const;
  void Get(const Request& req, Response* resp) const;
  void Put(const Request& req, Response* resp) const;
  void Delete(const Request& req, Response* resp) const;

 private:
  // The store, or nullptr after answering 503.
  DashboardStore* Need(Response* resp) const;
  // Answers 413 and returns false for an oversized body.
  static bool BodyFits(const Request& req, Response* resp);

  std::atomic<DashboardStore*> store_{nullptr};
};

}  // namespace vigil::http
