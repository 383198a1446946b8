// Fuzzes the Go text/template subset: parse, then execute over fixed rule data with a
// query function that returns two samples, and over notification-shaped data. Errors are fine; crashes and hangs are not.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rules/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2048) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto t = vigil::rules::Template::Parse(in);
  if (!t.ok()) return 0;
  vigil::rules::TemplateData d;
  d.labels = vigil::model::Labels{{"instance", "host:9100"}, {"job", "node"}};
  d.value = 0.5;
  auto q = [](std::string_view) -> absl::StatusOr<std::vector<vigil::rules::QuerySample>> {
    return std::vector<vigil::rules::QuerySample>{{vigil::model::Labels{{"a", "1"}}, 1},
                                                 {vigil::model::Labels{{"a", "2"}}, 2}};
  };
  (void)t->Execute(d, q);
  // As a notification template over Alertmanager-shaped data, in text and html mode.
  namespace tmpl = vigil::rules::tmpl;
  static const tmpl::Value am_data = tmpl::MakeStruct(
      "Data", {{"Status", tmpl::MakeString("firing")},
               {"Alerts", tmpl::MakeList({tmpl::MakeStruct(
                              "Alert", {{"Status", tmpl::MakeString("firing")},
                                        {"Labels", tmpl::MakeLabels(d.labels)},
                                        {"StartsAt", tmpl::MakeTime(1'000'000)}})})},
               {"CommonLabels", tmpl::MakeLabels(d.labels)}});
  (void)t->ExecuteWith(am_data, nullptr, false);
  (void)t->ExecuteWith(am_data, nullptr, true);
  return 0;
}
