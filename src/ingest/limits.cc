#include "ingest/limits.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace vigil::ingest {

TenantRateLimiter::TenantRateLimiter(RateLimit limit, std::function<int64_t()> now_ms)
    : limit_{limit.samples_per_second,
             limit.burst > 0 ? limit.burst : limit.samples_per_second},
      now_ms_(std::move(now_ms)) {}

int64_t TenantRateLimiter::Now() const {
  if (now_ms_) return now_ms_();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

TenantRateLimiter::Verdict TenantRateLimiter::Take(std::string_view tenant, int64_t n) {
  if (limit_.samples_per_second <= 0) return {};
  const int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = buckets_.find(tenant);
  if (it == buckets_.end()) {
    it = buckets_.emplace(std::string(tenant), Bucket{limit_.burst, now}).first;
  }
  Bucket& b = it->second;
  const double elapsed_s = static_cast<double>(std::max<int64_t>(0, now - b.last_ms)) / 1000.0;
  b.tokens = std::min(limit_.burst, b.tokens + elapsed_s * limit_.samples_per_second);
  b.last_ms = now;
  if (b.tokens <= 0) {
    // Wait until the debt is paid and one token is back.
    const double wait = (1.0 - b.tokens) / limit_.samples_per_second;
    return {false, std::max(1, static_cast<int>(std::ceil(wait)))};
  }
  b.tokens -= static_cast<double>(n);
  return {};
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
