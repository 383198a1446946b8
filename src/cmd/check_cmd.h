// `vigil check rules FILE...`: validates rule files as `promtool check rules` does.
//
// For each file prints "Checking FILE" then "  SUCCESS: N rules found" or "  FAILED:" and
// every error (file:line:col, group, rule). Returns the exit code: 0 when every file is
// valid, 1 otherwise. Also warns about duplicate rules (same name and labels) in a file.
//
// Thread-safety: call from main only.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace vigil::cmd {

int RunCheckRules(const std::vector<std::string>& files, std::FILE* out = stdout,
                  std::FILE* err = stderr);

}  // namespace vigil::cmd
