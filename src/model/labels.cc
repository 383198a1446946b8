#include "model/labels.h"

#include <algorithm>

#include "fmt/format.h"
#define XXH_INLINE_ALL  // inlined for speed; also makes XXH64_state_t a complete type
#include "xxhash.h"

namespace vigil::model {

Labels::Labels(std::vector<Label> labels) : labels_(std::move(labels)) {
  std::stable_sort(labels_.begin(), labels_.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
}

Labels::Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  labels_.reserve(pairs.size());
  for (const auto& [n, v] : pairs) labels_.push_back({std::string(n), std::string(v)});
  std::stable_sort(labels_.begin(), labels_.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
}

std::string_view Labels::Get(std::string_view name) const {
  for (const auto& l : labels_) {
    if (l.name == name) return l.value;
  }
  return {};
}

bool Labels::Has(std::string_view name) const {
  return std::any_of(labels_.begin(), labels_.end(),
                     [&](const Label& l) { return l.name == name; });
}

uint64_t Labels::Hash() const {
  XXH64_state_t state;
  XXH64_reset(&state, 0);
  static constexpr char kSep = '\xff';  // never valid inside UTF-8, so pairs can't collide
  for (const auto& l : labels_) {
    XXH64_update(&state, l.name.data(), l.name.size());
    XXH64_update(&state, &kSep, 1);
    XXH64_update(&state, l.value.data(), l.value.size());
    XXH64_update(&state, &kSep, 1);
  }
  return XXH64_digest(&state);
}

namespace {
void AppendQuoted(std::string* out, std::string_view v) {
  out->push_back('"');
  for (char c : v) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '"': out->append("\\\""); break;
      case '\n': out->append("\\n"); break;
      default: out->push_back(c);
    }
  }
  out->push_back('"');
}
}  // namespace

std::string Labels::ToString() const {
  std::string out(MetricName());
  out.push_back('{');
  bool first = true;
  for (const auto& l : labels_) {
    if (l.name == kMetricName) continue;
    if (!first) out.append(", ");
    first = false;
    out.append(l.name);
    out.push_back('=');
    AppendQuoted(&out, l.value);
  }
  out.push_back('}');
  return out;
}

absl::Status Labels::Validate() const {
  if (labels_.empty()) return absl::InvalidArgumentError("empty label set");
  for (size_t i = 0; i < labels_.size(); ++i) {
    const Label& l = labels_[i];
    if (l.name == kMetricName) {
      if (!IsValidMetricName(l.value)) {
        return absl::InvalidArgumentError(
            fmt::format("invalid metric name \"{}\" in series {}", l.value, ToString()));
      }
    } else if (!IsValidLabelName(l.name)) {
      return absl::InvalidArgumentError(
          fmt::format("invalid label name \"{}\" in series {}", l.name, ToString()));
    }
    if (!IsValidUtf8(l.value)) {
      return absl::InvalidArgumentError(
          fmt::format("label {} has a value that is not valid UTF-8", l.name));
    }
    if (i > 0 && labels_[i - 1].name == l.name) {
      return absl::InvalidArgumentError(
          fmt::format("duplicate label name \"{}\" in series {}", l.name, ToString()));
    }
  }
  return absl::OkStatus();
}

LabelsBuilder& LabelsBuilder::Set(std::string_view name, std::string_view value) {
  auto it = std::lower_bound(labels_.begin(), labels_.end(), name,
                             [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels_.end() && it->name == name) {
    if (value.empty()) {
      labels_.erase(it);
    } else {
      it->value = std::string(value);
    }
  } else if (!value.empty()) {
    labels_.insert(it, Label{std::string(name), std::string(value)});
  }
  return *this;
}

LabelsBuilder& LabelsBuilder::Del(std::string_view name) { return Set(name, ""); }

Labels LabelsBuilder::Build() const {
  Labels out;
  out.mutable_vec() = labels_;
  return out;
}

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= n) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (p[i] & 0x3f);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

}  // namespace vigil::model
