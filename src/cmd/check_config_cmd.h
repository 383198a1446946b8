// `vigil check config FILE...`: validates configuration files as `promtool check config`
// does: every section that Vigil parses, scrape configs with their relabeling, and that
// the files named by file_sd_configs and rule_files patterns are reachable.
//
// Prints "Checking FILE", then " SUCCESS: FILE is valid prometheus config file syntax" or
// "  FAILED: <reason with file:line:col>". Returns 0 when every file is valid, 1 otherwise.
//
// Thread-safety: call from main only.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace vigil::cmd {

int RunCheckConfig(const std::vector<std::string>& files, std::FILE* out = stdout,
                   std::FILE* err = stderr);

}  // namespace vigil::cmd
