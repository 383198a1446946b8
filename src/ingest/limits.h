// Ingestion limits that protect Vigil before a sample reaches storage:
//
//   TenantRateLimiter  samples per second per tenant, as a token bucket holding at most
//                      `burst` tokens and refilled at `samples_per_second`. A request is
//                      admitted while the bucket is not empty and then takes all its
//                      samples, possibly leaving the bucket in debt; so a request larger
//                      than the burst still passes when the tenant has been quiet, and the
//                      long-run rate is exact. A refused request learns how many seconds
//                      until the debt is paid (Retry-After). Each tenant may have its own
//                      limit (SetLimits, also while running: a config reload). Decoders
//                      that store as they decode (remote_write) ask Admit() first and
//                      Charge() what they stored: the same rule, paid afterwards.
//   InflightLimiter    bytes of request bodies being decoded at once, across all push
//                      endpoints. Past the cap, new requests are refused at once (429)
//                      rather than queued, so memory stays bounded under overload.
//
// Thread-safety: both are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace vigil::ingest {

struct RateLimit {
  double samples_per_second = 0;  // 0: unlimited
  double burst = 0;               // 0: one second's worth

  bool operator==(const RateLimit&) const = default;
};

class TenantRateLimiter {
 public:
  // `now_ms` is a monotonic clock in milliseconds; tests replace it.
  explicit TenantRateLimiter(RateLimit limit, std::function<int64_t()> now_ms = {});

  struct Verdict {
    bool allowed = true;
    int retry_after_s = 0;  // when !allowed, >= 1
    RateLimit limit;        // the tenant's limit (burst resolved), for messages
  };
  // Admits `n` samples for `tenant`, or says how long to wait.
  Verdict Take(std::string_view tenant, int64_t n);
  // Whether `tenant` may send now (its bucket is not in debt); takes nothing.
  Verdict Admit(std::string_view tenant);
  // Takes `n` samples already stored for `tenant` (after Admit).
  void Charge(std::string_view tenant, int64_t n);

  // Replaces the limits: `defaults` for every tenant not in `per_tenant`. A bucket keeps
  // its debt; its credit is cut to the new burst.
  void SetLimits(RateLimit defaults, std::map<std::string, RateLimit, std::less<>> per_tenant);
  // The limit of `tenant`, burst resolved.
  RateLimit LimitFor(std::string_view tenant) const;
  // The default limit, burst resolved.
  RateLimit limit() const;

 private:
  struct Bucket {
    double tokens;
    int64_t last_ms;
  };
  int64_t Now() const;
  static RateLimit Resolve(RateLimit l);
  const RateLimit& LimitLocked(std::string_view tenant) const;
  // Refills `tenant`'s bucket up to `now`; null when the tenant is unlimited.
  Bucket* RefillLocked(std::string_view tenant, const RateLimit& l, int64_t now);

  const std::function<int64_t()> now_ms_;
  mutable std::mutex mu_;
  RateLimit limit_;                                         // guarded by mu_
  std::map<std::string, RateLimit, std::less<>> tenant_limits_;  // guarded by mu_
  std::map<std::string, Bucket, std::less<>> buckets_;      // guarded by mu_
};

class InflightLimiter {
 public:
  // `max_bytes` 0: unlimited.
  explicit InflightLimiter(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // Holds `bytes` of the budget until destroyed; `ok()` is false when over budget.
  class Grant {
   public:
    Grant(InflightLimiter* l, int64_t bytes) : l_(l), bytes_(bytes) {}
    Grant(Grant&& o) noexcept : l_(o.l_), bytes_(o.bytes_) { o.l_ = nullptr; }
    Grant(const Grant&) = delete;
    ~Grant() {
      if (l_ != nullptr) l_->used_.fetch_sub(bytes_);
    }
    bool ok() const { return l_ != nullptr; }

   private:
    InflightLimiter* l_;
    int64_t bytes_;
  };
  Grant Acquire(int64_t bytes);
  int64_t used() const { return used_.load(); }

 private:
  const int64_t max_bytes_;
  std::atomic<int64_t> used_{0};
};

}  // namespace vigil::ingest
