// Status helpers shared by every module.
//
// Errors are values (absl::Status / absl::StatusOr). These macros keep the early-return
// style short and add context on the way up, so a failure reads like a path:
// "open db: replay wal segment 12: crc mismatch at offset 4096".
//
// Thread-safety: stateless.
#pragma once

#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fmt/format.h"

namespace vigil {

// Returns `s` with "context: " prefixed to its message; OK stays OK.
inline absl::Status Annotate(const absl::Status& s, std::string_view context) {
  if (s.ok()) return s;
  return absl::Status(s.code(), fmt::format("{}: {}", context, std::string_view(s.message().data(), s.message().size())));
}

}  // namespace vigil

#define VIGIL_CONCAT_INNER_(a, b) a##b
#define VIGIL_CONCAT_(a, b) VIGIL_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status _vigil_st = (expr);           \
    if (!_vigil_st.ok()) return _vigil_st;       \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares x from a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(VIGIL_CONCAT_(_vigil_sor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.ok()) return tmp.status();          \
  lhs = std::move(tmp).value()

// A broken invariant: a bug in Vigil, never bad input. Aborts with a "BUG:" message.
#define VIGIL_CHECK(cond)                                                          \
  do {                                                                             \
    if (!(cond)) ::vigil::internal::CheckFailed(__FILE__, __LINE__, #cond);        \
  } while (0)

namespace vigil::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* cond);
}  // namespace vigil::internal
