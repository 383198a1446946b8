// Labels: the identity of a series, and the vocabulary every module shares.
//
// A Labels value is a list of (name, value) pairs sorted by name with unique names.
// `__name__` holds the metric name. Labels with empty values are equivalent to absent
// labels (as in Prometheus) and are dropped by LabelsBuilder.
//
// Thread-safety: values are immutable once built; share them freely across threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace vigil::model {

inline constexpr std::string_view kMetricName = "__name__";

struct Label {
  std::string name;
  std::string value;

  friend bool operator==(const Label&, const Label&) = default;
  friend auto operator<=>(const Label&, const Label&) = default;
};

class Labels {
 public:
  Labels() = default;
  // Sorts the pairs by name. Duplicate names are kept (Validate reports them).
  explicit Labels(std::vector<Label> labels);
  Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);

  // Returns the value of `name`, or "" if absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricName); }

  // A stable 64-bit hash (xxHash64 of name\xff value\xff ...): the same on every machine and
  // every run, so it may be stored on disk and used to route series between nodes.
  uint64_t Hash() const;

  // {__name__="x", a="b"} rendered as Prometheus does: x{a="b"}.
  std::string ToString() const;

  // Checks the names (`[a-zA-Z_][a-zA-Z0-9_]*`, metric name `[a-zA-Z_:][a-zA-Z0-9_:]*`),
  // that values are valid UTF-8, that no name repeats and the set is not empty.
  absl::Status Validate() const;

  size_t size() const { return labels_.size(); }
  bool empty() const { return labels_.empty(); }
  const Label& operator[](size_t i) const { return labels_[i]; }
  auto begin() const { return labels_.begin(); }
  auto end() const { return labels_.end(); }
  const std::vector<Label>& vec() const { return labels_; }
  // Replaces the contents with `labels`, which must already be sorted by name; reuses the
  // string capacity of the current pairs, so a decoder can fill one Labels per series
  // without allocating.
  std::vector<Label>& mutable_vec() { return labels_; }

  friend bool operator==(const Labels&, const Labels&) = default;
  friend auto operator<=>(const Labels& a, const Labels& b) { return a.labels_ <=> b.labels_; }

 private:
  std::vector<Label> labels_;
};

// Builds a Labels from a base set by setting and deleting names.
class LabelsBuilder {
 public:
  LabelsBuilder() = default;
  explicit LabelsBuilder(const Labels& base) : labels_(base.vec()) {}

  // Sets `name` to `value`; an empty value deletes the label.
  LabelsBuilder& Set(std::string_view name, std::string_view value);
  LabelsBuilder& Del(std::string_view name);
  Labels Build() const;

 private:
  std::vector<Label> labels_;
};

bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
bool IsValidUtf8(std::string_view s);

}  // namespace vigil::model
