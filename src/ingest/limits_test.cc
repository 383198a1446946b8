// Token bucket per tenant and the in-flight byte budget.
#include "ingest/limits.h"

#include "gtest/gtest.h"

namespace vigil::ingest {
namespace {

TEST(TenantRateLimiter, AdmitsTheBurstThenAsksToWaitForTheDebt) {
  int64_t now = 0;
  TenantRateLimiter l({100, 200}, [&] { return now; });
  EXPECT_TRUE(l.Take("a", 150).allowed);
  EXPECT_TRUE(l.Take("a", 150).allowed);  // 50 tokens left: admitted, now 100 in debt
  auto v = l.Take("a", 1);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_after_s, 2);  // (100 debt + 1) / 100 per second
  EXPECT_TRUE(l.Take("b", 10).allowed) << "tenants have their own buckets";
  now += 1500;  // +150 tokens: 50
  EXPECT_TRUE(l.Take("a", 10).allowed);
  now += 100'000;  // refill is capped at the burst
  EXPECT_TRUE(l.Take("a", 200).allowed);
  EXPECT_FALSE(l.Take("a", 1).allowed);
}

TEST(TenantRateLimiter, UnlimitedByDefault) {
  TenantRateLimiter l({});
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(l.Take("a", 1'000'000).allowed);
}

TEST(InflightLimiter, RefusesPastTheBudgetAndReleasesOnScopeExit) {
  InflightLimiter l(100);
  {
    auto a = l.Acquire(60);
    ASSERT_TRUE(a.ok());
    EXPECT_FALSE(l.Acquire(60).ok());
    EXPECT_TRUE(l.Acquire(40).ok());
  }
  EXPECT_EQ(l.used(), 0);
  EXPECT_TRUE(l.Acquire(500).ok()) << "one request alone always passes";
}

}  // namespace
}  // namespace vigil::ingest
