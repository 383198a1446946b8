#include "cmd/scrape_service.h"

#include "gtest/gtest.h"

namespace vigil::cmd {
namespace {

TEST(SelfScrapeAddress, ReplacesWildcardHostsByLoopback) {
  EXPECT_EQ(SelfScrapeAddress("127.0.0.1:9460"), "127.0.0.1:9460");
  EXPECT_EQ(SelfScrapeAddress("10.1.2.3:80"), "10.1.2.3:80");
  EXPECT_EQ(SelfScrapeAddress(":9460"), "127.0.0.1:9460");
  EXPECT_EQ(SelfScrapeAddress("0.0.0.0:9460"), "127.0.0.1:9460");
  EXPECT_EQ(SelfScrapeAddress("[::]:9460"), "[::1]:9460");
  EXPECT_EQ(SelfScrapeAddress("[::1]:9460"), "[::1]:9460");
}

}  // namespace
}  // namespace vigil::cmd
