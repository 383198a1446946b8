// The PromQL function table: every function Prometheus 3 documents, with its argument
// types, how many optional arguments it takes and what it returns. The parser checks calls
// against it; the engine looks up the implementation by name.
//
// Thread-safety: the table is immutable static data.
#pragma once

#include <string_view>
#include <vector>

#include "promql/parser/ast.h"

namespace vigil::promql {

struct Function {
  std::string_view name;
  std::vector<ValueType> arg_types;
  // 0: exactly arg_types.size() arguments. n > 0: the last n of arg_types are optional.
  // -1: the last argument type repeats any number of times (at least zero more).
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
  // Experimental upstream (behind promql-experimental-functions); we accept them all.
  bool experimental = false;
};

// nullptr if no function has this name. `holt_winters` resolves to
// `double_exponential_smoothing`.
const Function* LookupFunction(std::string_view name);

}  // namespace vigil::promql
