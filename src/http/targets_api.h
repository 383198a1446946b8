// The scrape endpoints, in Prometheus's shapes:
//
//   GET /api/v1/targets?state=active|dropped|any&scrapePool=<job>
//       {"activeTargets":[{discoveredLabels, labels, scrapePool, scrapeUrl, globalUrl,
//         lastError, lastScrape (RFC 3339), lastScrapeDuration (s), health, scrapeInterval,
//         scrapeTimeout}], "droppedTargets":[{discoveredLabels}]}
//   GET /api/v1/targets/metadata?match_target=<selector>&metric=<name>&limit=<n>
//       [{target, metric (omitted when `metric` is given), type, help, unit}]
//   POST|PUT /-/reload   runs the reload function; 200 on success, 500 with the reason
//       (the old configuration keeps running).
//
// Thread-safety: handlers run concurrently; the manager is thread-safe. Attach() before
// the server starts, or while it runs (requests before it see empty lists).
#pragma once

#include <atomic>
#include <functional>

#include "absl/status/status.h"
#include "http/server.h"

namespace vigil::scrape {
class Manager;
}

namespace vigil::http {

class TargetsApi {
 public:
  using ReloadFn = std::function<absl::Status()>;

  TargetsApi() = default;

  // `manager` must stay valid until Detach(). `reload` may be empty (reload answers 500).
  void Attach(scrape::Manager* manager, ReloadFn reload);
  void Detach();

  // Registers the routes; `with_reload` also registers /-/reload.
  void Register(Router* router, bool with_reload = true);

 private:
  void Targets(const Request& req, Response* resp) const;
  void Metadata(const Request& req, Response* resp) const;
  void Reload(const Request& req, Response* resp) const;

  std::atomic<scrape::Manager*> manager_{nullptr};
  ReloadFn reload_;
};

}  // namespace vigil::http
