// Fuzzes rule file parsing and validation (yaml-cpp, the PromQL parser and the template
// parser behind it). Any input may be rejected with a Status; none may crash, and an
// accepted file must have exactly one of record/alert and a non-empty expr in every rule.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "rules/rule_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto f = vigil::rules::ParseRuleFile(in, "fuzz.yml");
  if (!f.ok()) return 0;
  for (const auto& g : f->groups) {
    for (const auto& r : g.rules) {
      if (r.record.empty() == r.alert.empty() || r.expr.empty()) {
        std::fprintf(stderr, "BUG: accepted an invalid rule in group %s\n", g.name.c_str());
        std::abort();
      }
    }
  }
  return 0;
}
