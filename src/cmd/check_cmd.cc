#include "cmd/check_cmd.h"

#include <map>

#include "fmt/format.h"
#include "rules/rule_file.h"

namespace vigil::cmd {

int RunCheckRules(const std::vector<std::string>& files, std::FILE* out, std::FILE* err) {
  int rc = 0;
  for (const std::string& f : files) {
    std::fprintf(out, "Checking %s\n", f.c_str());
    auto rf = rules::LoadRuleFile(f);
    if (!rf.ok()) {
      std::fprintf(err, "  FAILED:\n%s\n\n", std::string(rf.status().message()).c_str());
      rc = 1;
      continue;
    }
    size_t n = 0;
    std::map<std::string, int> seen;
    for (const auto& g : rf->groups) {
      n += g.rules.size();
      for (const auto& r : g.rules) {
        std::string key = g.name + "\xff" + r.name();
        for (const auto& [k, v] : r.labels) key += "\xff" + k + "=" + v;
        ++seen[key];
      }
    }
    for (const auto& [k, count] : seen) {
      if (count > 1) {
        std::string shown = k;
        for (char& c : shown) {
          if (c == '\xff') c = ' ';
        }
        std::fprintf(out, "  WARNING: rule repeated %d times in the same group: %s\n", count,
                     shown.c_str());
      }
    }
    std::fprintf(out, "  SUCCESS: %zu rules found\n\n", n);
  }
  return rc;
}

}  // namespace vigil::cmd
