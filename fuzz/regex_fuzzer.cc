// Fuzzes FastRegex: for any pattern RE2 accepts, Matches() (with its fast paths) must give
// RE2's own answer for any value. The input is the pattern, a NUL byte, then the value.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "model/fast_regex.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  if (nul == std::string_view::npos) return 0;
  std::string_view pattern = in.substr(0, nul), value = in.substr(nul + 1);
  auto re = vigil::model::FastRegex::Compile(pattern);
  if (!re.ok()) return 0;
  if ((*re)->Matches(value) != (*re)->MatchesWithRe2(value)) {
    std::fprintf(stderr, "BUG: fast path disagrees with RE2: pattern \"%.*s\" value \"%.*s\"\n",
                 static_cast<int>(pattern.size()), pattern.data(),
                 static_cast<int>(value.size()), value.data());
    std::abort();
  }
  return 0;
}
