// How the config file and the flags combine into the limits and auth the server applies.
#include "cmd/runtime_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::cmd {
namespace {

using ::testing::ElementsAre;

config::Config Parse(const char* yaml) {
  auto c = config::Parse(yaml);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : config::Config{};
}

constexpr const char* kTwoTenants = R"(
limits: {max_series_per_tenant: 1000, max_series_per_metric: 100, ingestion_rate: 500}
tenants:
  - name: team-a
    tokens: [ta]
    limits: {max_series: 50, ingestion_rate: 10, ingestion_burst: 20}
  - name: team-b
    tokens: [tb1, tb2]
    admin: true
)";

TEST(RuntimeConfig, TenantsOwnLimitsOverTheLimitsSection) {
  EffectiveLimits l = ResolveLimits(Parse(kTwoTenants), {});
  EXPECT_EQ(l.storage.max_series_per_tenant, 1000);
  EXPECT_EQ(l.rate.samples_per_second, 500);
  EXPECT_EQ(l.storage_tenants.at("team-a").max_series_per_tenant, 50);
  EXPECT_EQ(l.storage_tenants.at("team-a").max_series_per_metric, 100) << "from limits";
  EXPECT_EQ(l.rate_tenants.at("team-a").samples_per_second, 10);
  EXPECT_EQ(l.rate_tenants.at("team-a").burst, 20);
  EXPECT_EQ(l.storage_tenants.at("team-b").max_series_per_tenant, 1000);
  EXPECT_EQ(l.rate_tenants.at("team-b").samples_per_second, 500);
}

TEST(RuntimeConfig, FlagsOverrideTheFileButNotTenantsOwnLimits) {
  FlagOverrides f;
  f.max_series_per_tenant = 7;
  f.ingestion_rate = 99;
  config::Config cfg = Parse(kTwoTenants);
  EffectiveLimits l = ResolveLimits(cfg, f);
  EXPECT_EQ(l.storage.max_series_per_tenant, 7);
  EXPECT_EQ(l.storage.max_series_per_metric, 100) << "no flag: the file's";
  EXPECT_EQ(l.rate.samples_per_second, 99);
  EXPECT_EQ(l.storage_tenants.at("team-b").max_series_per_tenant, 7);
  EXPECT_EQ(l.storage_tenants.at("team-a").max_series_per_tenant, 50);
  EXPECT_THAT(DescribeOverrides(cfg, f),
              ElementsAre("limits.max_series_per_tenant: 1000 in the config file, "
                          "--storage.tsdb.max-series-per-tenant=7 wins",
                          "limits.ingestion_rate: 500 in the config file, --ingest.rate-limit=99 wins"));
}

TEST(RuntimeConfig, AuthPolicyFromTenants) {
  http::AuthPolicy p = ResolveAuth(Parse(kTwoTenants));
  ASSERT_EQ(p.tenants.size(), 2u);
  EXPECT_EQ(p.tenants[0].name, "team-a");
  EXPECT_THAT(p.tenants[1].tokens, ElementsAre("tb1", "tb2"));
  EXPECT_TRUE(p.tenants[1].admin);
  EXPECT_TRUE(p.tenant_header.empty());
  EXPECT_TRUE(ResolveAuth(Parse("")).tenants.empty()) << "no tenants: authentication off";
}

}  // namespace
}  // namespace vigil::cmd
