// Fuzzes the PromQL lexer, parser and printer. Any input may be rejected, but none may
// crash, and an accepted query must survive Format -> ParseExpr -> Format unchanged
// (the printer never produces text the parser reads differently), and so must Prettify.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "promql/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view q(reinterpret_cast<const char*>(data), size);
  auto e = vigil::promql::ParseExpr(q);
  if (!e.ok()) return 0;
  std::string once = vigil::promql::Format(**e);
  auto again = vigil::promql::ParseExpr(once);
  if (!again.ok()) {
    std::fprintf(stderr, "BUG: printed query does not parse: %s\n  -> %s\n",
                 once.c_str(), std::string(again.status().message()).c_str());
    std::abort();
  }
  std::string twice = vigil::promql::Format(**again);
  if (twice != once) {
    std::fprintf(stderr, "BUG: printing is not stable:\n  %s\n  %s\n", once.c_str(),
                 twice.c_str());
    std::abort();
  }
  // The prettified form must mean the same.
  auto pretty = vigil::promql::ParseExpr(vigil::promql::Prettify(**e));
  if (!pretty.ok() || vigil::promql::Format(**pretty) != once) {
    std::fprintf(stderr, "BUG: prettified query differs: %s\n", once.c_str());
    std::abort();
  }
  return 0;
}
