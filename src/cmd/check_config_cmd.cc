#include "cmd/check_config_cmd.h"

#include <glob.h>

#include "fmt/format.h"
#include "scrape/config.h"

namespace vigil::cmd {

int RunCheckConfig(const std::vector<std::string>& files, std::FILE* out, std::FILE* err) {
  int rc = 0;
  for (const std::string& f : files) {
    std::fprintf(out, "Checking %s\n", f.c_str());
    auto loaded = scrape::LoadConfigFile(f);
    if (!loaded.ok()) {
      std::fprintf(err, "  FAILED: %s\n\n", std::string(loaded.status().message()).c_str());
      rc = 1;
      continue;
    }
    for (const std::string& pattern : loaded->config.rule_files) {
      glob_t g{};
      int grc = glob(pattern.c_str(), 0, nullptr, &g);
      std::fprintf(out, "  %s rule files matching %s\n",
                   grc == 0 ? fmt::format("{}", g.gl_pathc).c_str() : "no", pattern.c_str());
      globfree(&g);
    }
    size_t targets = 0;
    for (const auto& sc : loaded->scrape_configs) {
      for (const auto& g : sc.static_configs) targets += g.targets.size();
    }
    std::fprintf(out, " SUCCESS: %s is valid prometheus config file syntax (%zu scrape "
                 "job(s), %zu static target(s))\n\n",
                 f.c_str(), loaded->scrape_configs.size(), targets);
  }
  return rc;
}

}  // namespace vigil::cmd
