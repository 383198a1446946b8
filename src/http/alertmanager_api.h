// Alertmanager API v2 endpoints, over notify::Notifier:
//
//   GET  /api/v2/alerts         gettableAlerts (filter[]=matcher, silenced, inhibited, active)
//   POST /api/v2/alerts         postableAlerts: a JSON list of {labels, annotations,
//                               startsAt, endsAt, generatorURL}
//   GET  /api/v2/silences       gettableSilences (filter[]=matcher)
//   POST /api/v2/silences       postableSilence -> {"silenceID": "..."}
//   GET  /api/v2/silence/:id    one silence
//   DELETE /api/v2/silence/:id  expires it
//   GET  /api/v2/status         a minimal status (cluster "disabled")
//
// Errors answer as Alertmanager does: 400 with a JSON string message, 404 for unknown ids.
//
// Thread-safety: handlers run concurrently; the Notifier is thread-safe.
#pragma once

#include <functional>
#include <vector>

#include "http/server.h"
#include "notify/notifier.h"

namespace vigil::http {

class AlertmanagerApi {
 public:
  // `forward` (may be empty) also receives posted alerts (external Alertmanagers).
  AlertmanagerApi(notify::Notifier* notifier,
                  std::function<void(const std::vector<notify::Alert>&)> forward = {})
      : notifier_(notifier), forward_(std::move(forward)) {}

  void Register(Router* router);

 private:
  void GetAlerts(const Request& req, Response* resp) const;
  void PostAlerts(const Request& req, Response* resp) const;
  void GetSilences(const Request& req, Response* resp) const;
  void PostSilence(const Request& req, Response* resp) const;
  void GetSilence(const Request& req, Response* resp) const;
  void DeleteSilence(const Request& req, Response* resp) const;
  void Status(const Request& req, Response* resp) const;

  notify::Notifier* notifier_;
  std::function<void(const std::vector<notify::Alert>&)> forward_;
};

}  // namespace vigil::http
