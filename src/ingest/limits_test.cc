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

TEST(TenantRateLimiter, TenantsHaveTheirOwnLimitsAndReloadKeepsDebt) {
  int64_t now = 0;
  TenantRateLimiter l({100, 0}, [&] { return now; });
  l.SetLimits({100, 0}, {{"big", {1000, 5000}}, {"free", {0, 0}}});
  EXPECT_EQ(l.LimitFor("big").burst, 5000);
  EXPECT_EQ(l.LimitFor("other").burst, 100) << "burst 0 means one second's worth";
  EXPECT_TRUE(l.Take("big", 4000).allowed);
  EXPECT_TRUE(l.Take("big", 3000).allowed);  // 2000 in debt
  EXPECT_FALSE(l.Take("big", 1).allowed);
  EXPECT_TRUE(l.Take("other", 150).allowed);
  auto v = l.Take("other", 1);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.limit.samples_per_second, 100);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(l.Take("free", 1'000'000).allowed);
  // A reload lowers "big": its debt stays, its new rate refills it.
  l.SetLimits({100, 0}, {{"big", {10, 10}}});
  now += 1000;
  auto big = l.Take("big", 1);
  EXPECT_FALSE(big.allowed);
  EXPECT_EQ(big.retry_after_s, 200);  // (1990 debt + 1) / 10 per second
  EXPECT_TRUE(l.Take("free", 150).allowed) << "\"free\" now has the default limit";
  EXPECT_FALSE(l.Take("free", 1).allowed);
}

TEST(TenantRateLimiter, AdmitThenChargeIsTakeInTwoSteps) {
  int64_t now = 0;
  TenantRateLimiter l({100, 200}, [&] { return now; });
  EXPECT_TRUE(l.Admit("a").allowed);
  l.Charge("a", 250);  // stored 250 samples: 50 in debt
  auto v = l.Admit("a");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.retry_after_s, 1);
  now += 600;  // +60 tokens: 10
  EXPECT_TRUE(l.Admit("a").allowed);
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
