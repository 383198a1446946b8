// Relabeling: the rules Prometheus applies to target labels (relabel_configs) and to
// scraped series (metric_relabel_configs), with the same actions, defaults and results.
//
// A RelabelConfig joins the values of `source_labels` with `separator`, matches the joined
// string against `regex` (always anchored at both ends, `.` matches newlines) and then acts:
//   replace     sets `target_label` (itself expanded) to `replacement` with $1, ${1},
//               $name, ${name} expanded; an empty result deletes the label; no match
//               leaves the set unchanged.
//   keep/drop   drops the whole set when the regex does not / does match.
//   keepequal/dropequal   drops the set when the joined value differs from / equals the
//               value of `target_label`.
//   hashmod     sets `target_label` to md5(joined value) mod `modulus` (the low 64 bits
//               of the digest, big-endian, as Prometheus computes it).
//   labelmap    copies every label whose name matches to the name `replacement` expands to.
//   labeldrop/labelkeep   deletes the labels whose names match / do not match.
//   lowercase/uppercase   sets `target_label` to the joined value in lower / upper case.
// Defaults as in Prometheus: separator ";", regex "(.*)", replacement "$1", action replace.
// Expansion follows Go's regexp.Expand: "$1x" names a group called "1x" (empty), so write
// "${1}x"; "$$" is a literal "$"; a malformed reference keeps its "$".
//
// Thread-safety: RelabelConfig is immutable after parsing and may be shared across threads
// (RE2 is thread-safe for matching). Relabel() is reentrant.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"

namespace re2 {
class RE2;
}
namespace YAML {
class Node;
}

namespace vigil::model {

enum class RelabelAction {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

// "replace", "keep", ...; and back (case-insensitive, as Prometheus's YAML accepts).
std::string_view RelabelActionName(RelabelAction a);
std::optional<RelabelAction> ParseRelabelAction(std::string_view s);

struct RelabelConfig {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  // The regex as written (unanchored); `compiled` is "^(?s:<regex>)$".
  std::string regex = "(.*)";
  std::shared_ptr<const re2::RE2> compiled;
  uint64_t modulus = 0;
  std::string target_label;
  std::string replacement = "$1";
  RelabelAction action = RelabelAction::kReplace;

  // Compiles `regex` and checks the combination of fields the action allows, with the
  // reasons Prometheus gives ("relabel configuration for hashmod requires non-zero
  // modulus"). Must succeed before the config is used.
  absl::Status Compile();
};

// Applies `cfgs` in order to `labels`. Returns nullopt when a keep/drop-like action drops
// the set. Labels whose value becomes empty are removed.
std::optional<Labels> Relabel(const Labels& labels, const std::vector<RelabelConfig>& cfgs);

// Applies `cfgs` to `b` in place; returns false when the set is dropped.
bool RelabelInPlace(LabelsBuilder* b, const std::vector<RelabelConfig>& cfgs);

// Parses a YAML sequence of relabel configs (the value of relabel_configs or
// metric_relabel_configs). Errors name `filename`, line and column of the offending node:
// "prometheus.yml:12:9: unknown relabel action \"keeep\"".
absl::StatusOr<std::vector<RelabelConfig>> ParseRelabelConfigs(const YAML::Node& seq,
                                                              std::string_view filename);
// The same from YAML text.
absl::StatusOr<std::vector<RelabelConfig>> ParseRelabelConfigsYaml(std::string_view yaml,
                                                                  std::string_view filename);

}  // namespace vigil::model
