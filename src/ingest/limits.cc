#include "ingest/limits.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace vigil::ingest {

TenantRateLimiter::TenantRateLimiter(RateLimit limit, std::function<int64_t()> now_ms)
    : now_ms_(std::move(now_ms)), limit_(Resolve(limit)) {}

RateLimit TenantRateLimiter::Resolve(RateLimit l) {
  return {l.samples_per_second, l.burst > 0 ? l.burst : l.samples_per_second};
}

int64_t TenantRateLimiter::Now() const {
  if (now_ms_) return now_ms_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void TenantRateLimiter::SetLimits(RateLimit defaults,
                                  std::map<std::string, RateLimit, std::less<>> per_tenant) {
  for (auto& [name, l] : per_tenant) l = Resolve(l);
  std::lock_guard<std::mutex> lock(mu_);
  limit_ = Resolve(defaults);
  tenant_limits_ = std::move(per_tenant);
  for (auto& [tenant, b] : buckets_) b.tokens = std::min(b.tokens, LimitLocked(tenant).burst);
}

const RateLimit& TenantRateLimiter::LimitLocked(std::string_view tenant) const {
  auto it = tenant_limits_.find(tenant);
  return it == tenant_limits_.end() ? limit_ : it->second;
}

RateLimit TenantRateLimiter::LimitFor(std::string_view tenant) const {
  std::lock_guard<std::mutex> lock(mu_);
  return LimitLocked(tenant);
}

RateLimit TenantRateLimiter::limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return limit_;
}

TenantRateLimiter::Bucket* TenantRateLimiter::RefillLocked(std::string_view tenant,
                                                           const RateLimit& l, int64_t now) {
  if (l.samples_per_second <= 0) return nullptr;
  auto it = buckets_.find(tenant);
  if (it == buckets_.end()) it = buckets_.emplace(std::string(tenant), Bucket{l.burst, now}).first;
  Bucket& b = it->second;
  const double elapsed_s = static_cast<double>(std::max<int64_t>(0, now - b.last_ms)) / 1000.0;
  b.tokens = std::min(l.burst, b.tokens + elapsed_s * l.samples_per_second);
  b.last_ms = now;
  return &b;
}

TenantRateLimiter::Verdict TenantRateLimiter::Admit(std::string_view tenant) {
  const int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  const RateLimit& l = LimitLocked(tenant);
  Bucket* b = RefillLocked(tenant, l, now);
  if (b == nullptr || b->tokens > 0) return {true, 0, l};
  // Wait until the debt is paid and one token is back.
  const double wait = (1.0 - b->tokens) / l.samples_per_second;
  return {false, std::max(1, static_cast<int>(std::ceil(wait))), l};
}

void TenantRateLimiter::Charge(std::string_view tenant, int64_t n) {
  const int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  if (Bucket* b = RefillLocked(tenant, LimitLocked(tenant), now); b != nullptr) {
    b->tokens -= static_cast<double>(n);
  }
}

TenantRateLimiter::Verdict TenantRateLimiter::Take(std::string_view tenant, int64_t n) {
  const int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  const RateLimit& l = LimitLocked(tenant);
  Bucket* b = RefillLocked(tenant, l, now);
  if (b == nullptr) return {true, 0, l};
  if (b->tokens <= 0) {
    const double wait = (1.0 - b->tokens) / l.samples_per_second;
    return {false, std::max(1, static_cast<int>(std::ceil(wait))), l};
  }
  b->tokens -= static_cast<double>(n);
  return {true, 0, l};
}

InflightLimiter::Grant InflightLimiter::Acquire(int64_t bytes) {
  if (max_bytes_ <= 0) return Grant(this, 0);
  const int64_t now = used_.fetch_add(bytes) + bytes;
  // One request alone is always admitted, however big (the body size limit bounds it).
  if (now > max_bytes_ && now != bytes) {
    used_.fetch_sub(bytes);
    return Grant(nullptr, 0);
  }
  return Grant(this, bytes);
}

}  // namespace vigil::ingest
