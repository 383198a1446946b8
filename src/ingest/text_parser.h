// TextParser: the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text, as a
// pull parser shared by push import (/api/v1/import/prometheus) and the scraper.
//
// Next() steps through the input entry by entry: a sample line (kSeries), a HELP, TYPE or
// UNIT line, and finally kEof. Plain comments are skipped (OpenMetrics allows none). The
// accessors describe the current entry and return views into the input (zero copy); only
// label values and HELP texts that contain escapes are unescaped, into buffers owned by the
// parser. Views stay valid until the next call to Next().
//
// Differences between the formats that the parser enforces:
//   - timestamps are integer milliseconds in 0.0.4 and (fractional) seconds in
//     OpenMetrics; timestamp_ms() is milliseconds for both;
//   - OpenMetrics must end with "# EOF" and has nothing after it; it knows the types
//     gaugehistogram, stateset, info and unknown, the UNIT line (a suffix of the name),
//     and exemplars ("# {trace_id="x"} 1.0 [ts]") after a sample, which are checked and
//     offered through the exemplar accessors;
//   - 0.0.4 tolerates blank lines and free comments.
// Errors name the line and column: "3:14: expected '=' after label name \"job\"". After
// an error the parser stays failed.
//
// Thread-safety: one parser per thread; the input must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"

namespace vigil::ingest {

enum class TextFormat { kPrometheus, kOpenMetrics };

enum class MetricType {
  kUnknown,  // also 0.0.4's "untyped"
  kCounter,
  kGauge,
  kHistogram,
  kGaugeHistogram,
  kSummary,
  kInfo,
  kStateset,
};
// "counter", "gauge", ...; kUnknown is "unknown".
std::string_view MetricTypeName(MetricType t);

// Picks the format from a Content-Type header: application/openmetrics-text is OpenMetrics,
// anything else (text/plain; version=0.0.4, empty) the Prometheus text format.
TextFormat TextFormatFromContentType(std::string_view content_type);

class TextParser {
 public:
  enum class Entry { kSeries, kHelp, kType, kUnit, kEof };

  TextParser(std::string_view input, TextFormat format);

  absl::StatusOr<Entry> Next();

  // kSeries: the metric name, labels (in input order, not validated), value and optional
  // timestamp (milliseconds).
  std::string_view metric_name() const { return name_; }
  size_t num_labels() const { return labels_.size(); }
  std::string_view label_name(size_t i) const { return labels_[i].name; }
  std::string_view label_value(size_t i) const {
    return labels_[i].escaped ? std::string_view(unescaped_[i]) : labels_[i].raw;
  }
  double value() const { return value_; }
  std::optional<int64_t> timestamp_ms() const { return ts_; }
  // OpenMetrics only: the exemplar after the sample, if any. Its labels are sorted by
  // name and not validated (storage checks them); its timestamp is optional.
  bool has_exemplar() const { return has_exemplar_; }
  void FillExemplarLabels(model::Labels* out) const;
  double exemplar_value() const { return exemplar_value_; }
  std::optional<int64_t> exemplar_timestamp_ms() const { return exemplar_ts_; }
  // Replaces `*out` with __name__ and the labels of the current series (unsorted; the
  // writer sorts). Reuses the strings' capacity.
  void FillLabels(model::Labels* out) const;

  // kHelp, kType, kUnit: the family name and the text.
  std::string_view meta_name() const { return name_; }
  std::string_view help() const { return help_; }
  MetricType type() const { return type_; }
  std::string_view unit() const { return unit_; }

  // 1-based line of the current entry.
  int line() const { return line_; }

 private:
  struct LabelRef {
    std::string_view name;
    std::string_view raw;
    bool escaped;
  };
  absl::Status Error(size_t pos, std::string_view msg) const;
  absl::StatusOr<Entry> ParseComment(size_t end);
  absl::Status ParseSample(size_t end);
  absl::Status ParseLabels(size_t* pos, size_t end, bool exemplar);
  absl::Status ParseExemplar(size_t pos, size_t end);
  bool ParseFloat(std::string_view tok, double* out) const;
  void SkipBlanks(size_t* pos, size_t end) const;
  std::string_view Token(size_t* pos, size_t end) const;

  const std::string_view in_;
  const TextFormat format_;
  size_t pos_ = 0;       // start of the next line
  size_t line_start_ = 0;
  int line_ = 0;
  bool done_ = false;
  absl::Status error_;

  std::string_view name_;
  std::vector<LabelRef> labels_;
  std::vector<std::string> unescaped_;
  double value_ = 0;
  std::optional<int64_t> ts_;
  bool has_exemplar_ = false;
  std::vector<LabelRef> exemplar_labels_;
  double exemplar_value_ = 0;
  std::optional<int64_t> exemplar_ts_;
  std::string_view help_;
  std::string help_buf_;
  MetricType type_ = MetricType::kUnknown;
  std::string_view unit_;
};

}  // namespace vigil::ingest
