// The scrape endpoints, in Prometheus's shapes:
//
//   GET /api/v1/targets?state=active|dropped|any&scrapePool=<job>
//       {"activeTargets":[{discoveredLabels, labels, scrapePool, scrapeUrl, globalUrl,
//         lastError, lastScrape (RFC 3339), lastScrapeDuration (s), health, scrapeInterval,
//         scrapeTimeout}], "droppedTargets":[{discoveredLabels}]}
//   GET /api/v1/targets/metadata?match_target=<selector>&metric=<name>&limit=<n>
//       [{target, metric (omitted when `metric` is given), type, help, unit}]
//   POST|PUT /-/reload   runs the reload functions (scrape's, then those added with
//       AddReloader); 200 on success, 500 with the reasons (what failed keeps running).
//
// Thread-safety: handlers run concurrently; the manager is thread-safe. Attach() before
// the server starts, or while it runs (requests before it see empty lists).
#pragma once

#include <atomic>
#include <functional>
#include <vector>

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
  // Another part of the configuration that /-/reload reloads too (rules and notifier), run
  // after the scrape reload; the request fails with every reason if any part fails. Call
  // before the server starts.
  void AddReloader(ReloadFn fn) { extra_reloads_.push_back(std::move(fn)); }

 private:
  void Targets(const Request& req, Response* resp) const;
  void Metadata(const Request& req, Response* resp) const;
  void Reload(const Request& req, Response* resp) const;

  std::atomic<scrape::Manager*> manager_{nullptr};
  ReloadFn reload_;
  std::vector<ReloadFn> extra_reloads_;
};

}  // namespace vigil::http
