#include "cmd/check_config_cmd.h"

#include <glob.h>

#include <fstream>
#include <sstream>

#include "config/config.h"
#include "fmt/format.h"
#include "notify/config.h"
#include "scrape/config.h"

namespace vigil::cmd {

int RunCheckConfig(const std::vector<std::string>& files, std::FILE* out, std::FILE* err) {
  int rc = 0;
  for (const std::string& f : files) {
    std::fprintf(out, "Checking %s\n", f.c_str());
    auto loaded = scrape::LoadConfigFile(f);
    if (loaded.ok()) {
      if (absl::Status st = config::ReadTokenFiles(&loaded->config, f); !st.ok()) loaded = st;
    }
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
    if (!loaded->config.notify_yaml.empty()) {
      // The notifier's section, checked as the server reads it (templates included).
      std::ifstream in(f);
      std::stringstream text;
      text << in.rdbuf();
      auto nc = notify::ParseConfigSection(text.str(), "notify", f);
      if (!nc.ok()) {
        std::fprintf(err, "  FAILED: %s\n\n", std::string(nc.status().message()).c_str());
        rc = 1;
        continue;
      }
      std::fprintf(out, "  notify: %zu receiver(s), %zu inhibit rule(s), %zu time interval(s)\n",
                   nc->receivers.size(), nc->inhibit_rules.size(), nc->time_intervals.size());
    }
    size_t targets = 0;
    for (const auto& sc : loaded->scrape_configs) {
      for (const auto& g : sc.static_configs) targets += g.targets.size();
    }
    std::fprintf(out, " SUCCESS: %s is valid prometheus config file syntax (%zu scrape "
                 "job(s), %zu static target(s), %zu tenant(s))\n\n",
                 f.c_str(), loaded->scrape_configs.size(), targets, loaded->config.tenants.size());
  }
  return rc;
}

}  // namespace vigil::cmd
