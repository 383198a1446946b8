// Fuzzes the dashboards API's document handling (DashboardStore over an in-memory
// filesystem): any body may be refused, none may crash, and whatever is accepted must come
// back as a document the store accepts again (a PUT of what GET returned succeeds and
// bumps the version), so a saved dashboard can always be edited.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fs/file_system.h"
#include "http/dashboard_store.h"
#include "spdlog/spdlog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The store logs every open; at millions of runs that is all the fuzzer would do.
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::warn);
    return true;
  }();
  (void)quiet;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto fs = vigil::fs::NewMemFileSystem();
  vigil::http::DashboardStore store(fs.get(), "/d", [] { return int64_t{1'700'000'000'000}; });
  if (!store.Open({}).ok()) __builtin_trap();
  auto saved = store.Create(body);
  if (!saved.ok()) return 0;
  auto doc = store.Get(saved->uid);
  if (!doc.ok()) __builtin_trap();
  auto again = store.Put(saved->uid, *doc);
  if (!again.ok() || again->version != 2) __builtin_trap();
  if (store.List().size() != 1) __builtin_trap();
  return 0;
}
