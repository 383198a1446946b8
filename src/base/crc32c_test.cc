#include "base/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace vigil::crc32c {
namespace {

// Check values from RFC 3720 (iSCSI), appendix B.4.
TEST(Crc32c, MatchesRfc3720Vectors) {
  std::string zeros(32, '\0');
  EXPECT_EQ(Value(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(Value(ones), 0x62A8AB43u);
  std::string inc;
  for (int i = 0; i < 32; ++i) inc.push_back(static_cast<char>(i));
  EXPECT_EQ(Value(inc), 0x46DD794Eu);
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
}

TEST(Crc32c, ExtendEqualsWholeValue) {
  std::string s = "the quick brown fox jumps over the lazy dog, twice over";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t c = Extend(Value(s.data(), cut), s.data() + cut, s.size() - cut);
    EXPECT_EQ(c, Value(s)) << "cut at " << cut;
  }
}

}  // namespace
}  // namespace vigil::crc32c
