// Fuzzes the Alertmanager-compatible config parser and the matcher parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "notify/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)vigil::notify::ParseConfig(in, "fuzz.yml");
  (void)vigil::notify::ParseMatcher(in);
  return 0;
}
