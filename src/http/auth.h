// Auth: which tenant an HTTP request acts for, and whether it may call the route.
//
// With no tenants configured, authentication is off: every request is tenant "default"
// and every route is open, as before tenants existed. With tenants (config `tenants:`,
// docs/tenants.md), every route except the open paths needs credentials:
//
//   Authorization: Bearer <token>                 what Prometheus and most clients send
//   Authorization: Basic base64(<any user>:<token>)  the token as the password, for
//                                                 Grafana, remote_write basic_auth, browsers
//   <auth.tenant_header>: <tenant name>           only when the config names such a header
//                                                 (behind a proxy that authenticates)
//
// A missing, malformed or unknown credential answers 401 with `WWW-Authenticate` and a
// Prometheus-style JSON error; a known tenant calling a route beyond its rights answers
// 403. Routes fall in four classes (AccessForRoute):
//   open            the configured open paths (default /-/healthy, /-/ready, /metrics, /ping);
//   tenant          everything else: reads and writes only the caller's own series;
//   default-tenant  scrape targets, rules, alerts and the Alertmanager API, which act for
//                   tenant "default": a tenant named "default" or an admin tenant;
//   admin           server-wide operations (snapshot, clean_tombstones, reload,
//                   status/config): admin tenants only.
//
// Tokens are kept only as SHA-256 digests and compared in constant time against every
// known digest (no early exit), so neither timing nor memory dumps reveal them. No token
// is ever logged or put in an answer.
//
// Thread-safety: Authorize() runs concurrently with Update() (a reload swaps the whole
// state at once; a request sees either the old or the new one).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/metrics.h"
#include "http/server.h"

namespace vigil::http {

enum class Access { kOpen, kTenant, kDefaultTenant, kAdmin };

// The class of a route pattern as registered on the Router (open paths aside).
Access AccessForRoute(std::string_view pattern);

struct TenantCredentials {
  std::string name;
  std::vector<std::string> tokens;
  bool admin = false;
};

struct AuthPolicy {
  std::vector<TenantCredentials> tenants;  // empty: authentication off
  std::string tenant_header;               // empty: not accepted
  std::vector<std::string> open_paths = {"/-/healthy", "/-/ready", "/metrics", "/ping"};
};

class Auth {
 public:
  // Starts with authentication off. `registry` may be nullptr.
  explicit Auth(metrics::Registry* registry = nullptr);
  ~Auth();

  // Replaces the policy (startup and reload).
  void Update(const AuthPolicy& policy);
  bool enabled() const;

  struct Decision {
    int status = 200;  // 200 (go on), 401 or 403
    std::string tenant;
    std::string error;  // for the answer; never holds a token
  };
  Decision Authorize(const Request& req, std::string_view route_pattern) const;

  // Writes the 401/403 answer for a refused decision.
  static void Refuse(const Decision& d, Response* resp);

 private:
  struct State;
  std::shared_ptr<const State> Snapshot() const;

  mutable std::mutex mu_;
  std::shared_ptr<const State> state_;  // guarded by mu_
  metrics::CounterFamily* refused_ = nullptr;
};

}  // namespace vigil::http
