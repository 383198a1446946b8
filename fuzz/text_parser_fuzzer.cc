// Fuzzes TextParser in both formats: no crash, no read past the input, every accessor of
// every entry usable, errors carry a line:col position.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ingest/text_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto format = (data[0] & 1) ? vigil::ingest::TextFormat::kOpenMetrics
                                    : vigil::ingest::TextFormat::kPrometheus;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  vigil::ingest::TextParser p(in, format);
  vigil::model::Labels labels;
  for (int i = 0; i < 1'000'000; ++i) {
    auto e = p.Next();
    if (!e.ok()) {
      // "line:col: ..."
      std::string_view msg(e.status().message().data(), e.status().message().size());
      if (msg.find(':') == std::string_view::npos) abort();
      break;
    }
    if (*e == vigil::ingest::TextParser::Entry::kEof) break;
    if (*e == vigil::ingest::TextParser::Entry::kSeries) {
      p.FillLabels(&labels);
      if (labels.vec().empty() || labels.vec()[0].value != p.metric_name()) abort();
      for (size_t j = 0; j < p.num_labels(); ++j) (void)p.label_value(j).size();
      if (p.has_exemplar()) {
        if (format != vigil::ingest::TextFormat::kOpenMetrics) abort();  // OpenMetrics only
        vigil::model::Labels ex;
        p.FillExemplarLabels(&ex);
        (void)p.exemplar_value();
        (void)p.exemplar_timestamp_ms();
      }
    } else {
      (void)p.help().size();
      (void)p.unit().size();
      (void)vigil::ingest::MetricTypeName(p.type());
    }
  }
  return 0;
}
