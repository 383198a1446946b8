// DecodeText: text exposition / OpenMetrics -> DecodedBatch (see push_decoders.h).
#include <map>

#include "fmt/format.h"
#include "ingest/push_decoders.h"

namespace vigil::ingest {

absl::Status DecodeText(std::string_view body, const TextImportOptions& opts, int64_t now_ms,
                        DecodedBatch* out) {
  TextParser p(body, opts.format);
  const int64_t default_t = opts.timestamp_ms.value_or(now_ms);
  std::map<std::string, MetricMetadata, std::less<>> meta;
  auto meta_of = [&](std::string_view name) -> MetricMetadata& {
    auto it = meta.find(name);
    if (it == meta.end()) {
      it = meta.emplace(std::string(name), MetricMetadata{std::string(name), "unknown", "", ""}).first;
    }
    return it->second;
  };
  while (true) {
    absl::StatusOr<TextParser::Entry> e = p.Next();
    if (!e.ok()) {
      return absl::InvalidArgumentError(fmt::format("cannot parse {} text at {}",
                                                    opts.format == TextFormat::kOpenMetrics
                                                        ? "OpenMetrics"
                                                        : "Prometheus",
                                                    std::string(e.status().message())));
    }
    switch (*e) {
      case TextParser::Entry::kEof:
        for (auto& [name, m] : meta) out->metadata.push_back(std::move(m));
        return absl::OkStatus();
      case TextParser::Entry::kHelp:
        meta_of(p.meta_name()).help = std::string(p.help());
        break;
      case TextParser::Entry::kType:
        meta_of(p.meta_name()).type = std::string(MetricTypeName(p.type()));
        break;
      case TextParser::Entry::kUnit:
        meta_of(p.meta_name()).unit = std::string(p.unit());
        break;
      case TextParser::Entry::kSeries: {
        PendingSample& s = out->samples.emplace_back();
        p.FillLabels(&s.labels);
        for (const auto& l : opts.extra_labels) {
          bool replaced = false;
          for (auto& have : s.labels.mutable_vec()) {
            if (have.name == l.name) {
              have.value = l.value;
              replaced = true;
            }
          }
          if (!replaced) s.labels.mutable_vec().push_back(l);
        }
        s.t = p.timestamp_ms().value_or(default_t);
        s.v = p.value();
        if (p.has_exemplar()) {
          // An exemplar without its own timestamp takes its sample's, as scrapes do.
          DecodedBatch::SampleExemplar& x = out->exemplars.emplace_back();
          x.sample = out->samples.size() - 1;
          p.FillExemplarLabels(&x.exemplar.labels);
          x.exemplar.value = p.exemplar_value();
          x.exemplar.t = p.exemplar_timestamp_ms().value_or(s.t);
        }
        break;
      }
    }
  }
}

}  // namespace vigil::ingest
