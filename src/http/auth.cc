#include "http/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "fmt/format.h"
#include "http/json.h"

namespace vigil::http {
namespace {

using Digest = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

Digest Sha256(std::string_view s) {
  Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Standard base64 with optional padding; false on any other character.
bool Base64Decode(std::string_view in, std::string* out) {
  uint32_t acc = 0;
  int bits = 0;
  out->clear();
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+') {
      v = 62;
    } else if (c == '/') {
      v = 63;
    } else {
      return false;
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

constexpr std::string_view kDefaultTenant = "default";

}  // namespace

Access AccessForRoute(std::string_view pattern) {
  // Server-wide operations: they touch every tenant's data or the configuration.
  static const std::set<std::string_view, std::less<>> kAdminRoutes = {
      "/api/v1/admin/tsdb/snapshot", "/api/v1/admin/tsdb/clean_tombstones", "/-/reload",
      "/-/quit", "/api/v1/status/config"};
  // Scraping, rules and notifications run for tenant "default".
  static const std::set<std::string_view, std::less<>> kDefaultTenantRoutes = {
      "/api/v1/targets", "/api/v1/targets/metadata", "/api/v1/rules", "/api/v1/alerts",
      "/alerts/rules",   "/alerts/rules/:name"};
  if (kAdminRoutes.count(pattern)) return Access::kAdmin;
  // /api/v2/* is Alertmanager's API, except InfluxDB 2's write endpoint.
  if (kDefaultTenantRoutes.count(pattern) ||
      (pattern.starts_with("/api/v2/") && pattern != "/api/v2/write")) {
    return Access::kDefaultTenant;
  }
  return Access::kTenant;
}

struct Auth::State {
  struct Tenant {
    std::string name;
    bool admin = false;
  };
  struct Token {
    Digest digest;
    size_t tenant;
  };
  bool enabled = false;
  std::vector<Tenant> tenants;
  std::vector<Token> tokens;
  std::string tenant_header;  // lower-cased, as Request stores header names
  std::set<std::string, std::less<>> open_paths;

  // The tenant index of `token`, or -1. Every digest is compared, each in constant time.
  int64_t Lookup(std::string_view token) const {
    const Digest d = Sha256(token);
    int64_t found = -1;
    for (const Token& t : tokens) {
      const int64_t match = CRYPTO_memcmp(d.data(), t.digest.data(), d.size()) == 0;
      // Branch-free select: found = match ? t.tenant : found.
      found = match * static_cast<int64_t>(t.tenant) + (1 - match) * found;
    }
    return found;
  }
};

Auth::Auth(metrics::Registry* registry) : state_(std::make_shared<State>()) {
  if (registry != nullptr) {
    refused_ = registry->NewCounterFamily(
        "vigil_auth_refused_requests_total",
        "HTTP requests refused by authentication, by reason (missing, malformed, "
        "invalid_token, unknown_tenant, forbidden).",
        {"reason"});
  }
}

Auth::~Auth() = default;

void Auth::Update(const AuthPolicy& policy) {
  auto st = std::make_shared<State>();
  st->enabled = !policy.tenants.empty();
  for (const TenantCredentials& t : policy.tenants) {
    st->tenants.push_back({t.name, t.admin});
    for (const std::string& tok : t.tokens) st->tokens.push_back({Sha256(tok), st->tenants.size() - 1});
  }
  st->tenant_header = policy.tenant_header;
  for (char& c : st->tenant_header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  st->open_paths.insert(policy.open_paths.begin(), policy.open_paths.end());
  std::lock_guard lock(mu_);
  state_ = std::move(st);
}

std::shared_ptr<const Auth::State> Auth::Snapshot() const {
  std::lock_guard lock(mu_);
  return state_;
}

bool Auth::enabled() const { return Snapshot()->enabled; }

Auth::Decision Auth::Authorize(const Request& req, std::string_view route_pattern) const {
  std::shared_ptr<const State> st = Snapshot();
  if (!st->enabled) return {200, std::string(kDefaultTenant), ""};
  if (st->open_paths.count(route_pattern)) return {200, std::string(kDefaultTenant), ""};

  auto refuse = [&](int status, std::string_view reason, std::string msg) {
    if (refused_ != nullptr) refused_->WithLabelValues({std::string(reason)})->Inc();
    return Decision{status, "", std::move(msg)};
  };

  int64_t tenant = -1;
  std::string_view authz = Trim(req.Header("authorization"));
  if (!authz.empty()) {
    const size_t sp = authz.find(' ');
    std::string_view scheme = authz.substr(0, sp);
    std::string_view cred = sp == std::string_view::npos ? "" : Trim(authz.substr(sp + 1));
    std::string token;
    if (EqualsIgnoreCase(scheme, "bearer") && !cred.empty()) {
      token = std::string(cred);
    } else if (EqualsIgnoreCase(scheme, "basic") && !cred.empty()) {
      std::string userpass;
      const size_t colon = Base64Decode(cred, &userpass) ? userpass.find(':') : std::string::npos;
      if (colon == std::string::npos) {
        return refuse(401, "malformed", "malformed basic credentials: want base64(user:token)");
      }
      token = userpass.substr(colon + 1);
    } else {
      return refuse(401, "malformed",
                    "malformed Authorization header: want \"Bearer <token>\" or Basic credentials "
                    "with the token as the password");
    }
    tenant = st->Lookup(token);
    if (tenant < 0) return refuse(401, "invalid_token", "invalid token");
  }
  if (!st->tenant_header.empty()) {
    std::string_view named = Trim(req.Header(st->tenant_header));
    if (!named.empty()) {
      if (tenant >= 0 && st->tenants[tenant].name != named) {
        return refuse(403, "forbidden",
                      fmt::format("the token of tenant \"{}\" cannot act for tenant \"{}\"",
                                  st->tenants[tenant].name, named));
      }
      if (tenant < 0) {
        for (size_t i = 0; i < st->tenants.size(); ++i) {
          if (st->tenants[i].name == named) tenant = static_cast<int64_t>(i);
        }
        if (tenant < 0) {
          return refuse(401, "unknown_tenant", fmt::format("unknown tenant \"{}\"", named));
        }
      }
    }
  }
  if (tenant < 0) {
    return refuse(401, "missing",
                  "authentication required: send \"Authorization: Bearer <token>\" (or basic "
                  "auth with the token as the password)");
  }
  const State::Tenant& t = st->tenants[tenant];
  switch (AccessForRoute(route_pattern)) {
    case Access::kOpen:
    case Access::kTenant:
      break;
    case Access::kDefaultTenant:
      if (!t.admin && t.name != kDefaultTenant) {
        return refuse(403, "forbidden",
                      fmt::format("tenant \"{}\" may not call {}: it acts for tenant \"default\" "
                                  "(allowed to tenant \"default\" and admin tenants)",
                                  t.name, route_pattern));
      }
      break;
    case Access::kAdmin:
      if (!t.admin) {
        return refuse(403, "forbidden",
                      fmt::format("tenant \"{}\" may not call {}: admin tenants only", t.name,
                                  route_pattern));
      }
      break;
  }
  return {200, t.name, ""};
}

void Auth::Refuse(const Decision& d, Response* resp) {
  resp->Json(d.status, ErrorJson(d.status == 401 ? "unauthorized" : "forbidden", d.error));
  if (d.status == 401) {
    // Bearer for API clients; Basic so that a browser asks for the token (as the password).
    resp->headers.emplace_back("WWW-Authenticate", "Bearer realm=\"vigil\"");
    resp->headers.emplace_back("WWW-Authenticate", "Basic realm=\"vigil\", charset=\"UTF-8\"");
  }
}

}  // namespace vigil::http
