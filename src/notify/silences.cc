#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "fmt/format.h"
#include "model/matcher.h"
#include "notify/notifier.h"
#include "simdjson.h"

namespace vigil::notify {

std::string Silence::State(int64_t now) const {
  if (now < starts_at_ms) return "pending";
  if (now >= ends_at_ms) return "expired";
  return "active";
}

bool Silence::Matches(const model::Labels& l) const {
  for (const auto& m : matchers) {
    model::MatchType t = m.is_regex ? (m.is_equal ? model::MatchType::kRegexMatch : model::MatchType::kRegexNoMatch)
                                    : (m.is_equal ? model::MatchType::kEqual : model::MatchType::kNotEqual);
    auto mm = model::Matcher::Make(t, m.name, m.value);
    if (!mm.ok() || !mm->Matches(l.Get(m.name))) return false;
  }
  return true;
}

namespace {

std::string NewId() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  uint64_t a = rng(), b = rng();
  // A version-4 UUID, as Alertmanager's silence ids are.
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffull);
}

absl::Status WriteAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      ::close(fd);
      return absl::InternalError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return absl::InternalError(fmt::format("cannot sync {}", tmp));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(fmt::format("cannot rename {}: {}", tmp, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status Silences::Load() {
  if (path_.empty()) return absl::OkStatus();
  std::ifstream in(path_);
  if (!in) return absl::OkStatus();
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  simdjson::dom::parser p;
  simdjson::dom::element root;
  if (p.parse(text).get(root) != simdjson::SUCCESS) {
    return absl::DataLossError(fmt::format("load silences {}: not valid JSON", path_));
  }
  std::lock_guard<std::mutex> lock(mu_);
  silences_.clear();
  simdjson::dom::array arr;
  if (root["silences"].get_array().get(arr) != simdjson::SUCCESS) {
    return absl::DataLossError(fmt::format("load silences {}: no 'silences' list", path_));
  }
  for (simdjson::dom::element e : arr) {
    Silence s;
    std::string_view sv;
    int64_t iv;
    if (e["id"].get_string().get(sv) == simdjson::SUCCESS) s.id = std::string(sv);
    if (e["createdBy"].get_string().get(sv) == simdjson::SUCCESS) s.created_by = std::string(sv);
    if (e["comment"].get_string().get(sv) == simdjson::SUCCESS) s.comment = std::string(sv);
    if (e["startsAtMs"].get_int64().get(iv) == simdjson::SUCCESS) s.starts_at_ms = iv;
    if (e["endsAtMs"].get_int64().get(iv) == simdjson::SUCCESS) s.ends_at_ms = iv;
    if (e["updatedAtMs"].get_int64().get(iv) == simdjson::SUCCESS) s.updated_at_ms = iv;
    simdjson::dom::array ms;
    if (e["matchers"].get_array().get(ms) == simdjson::SUCCESS) {
      for (simdjson::dom::element m : ms) {
        SilenceMatcher sm;
        bool b;
        if (m["name"].get_string().get(sv) == simdjson::SUCCESS) sm.name = std::string(sv);
        if (m["value"].get_string().get(sv) == simdjson::SUCCESS) sm.value = std::string(sv);
        if (m["isRegex"].get_bool().get(b) == simdjson::SUCCESS) sm.is_regex = b;
        if (m["isEqual"].get_bool().get(b) == simdjson::SUCCESS) sm.is_equal = b;
        s.matchers.push_back(sm);
      }
    }
    if (!s.id.empty()) silences_[s.id] = std::move(s);
  }
  return absl::OkStatus();
}

absl::Status Silences::SaveLocked() const {
  if (path_.empty()) return absl::OkStatus();
  std::string o = "{\"version\":1,\"silences\":[";
  bool first = true;
  for (const auto& [id, s] : silences_) {
    if (!first) o += ',';
    first = false;
    o += "{\"id\":";
    AppendJsonString(&o, s.id);
    o += ",\"createdBy\":";
    AppendJsonString(&o, s.created_by);
    o += ",\"comment\":";
    AppendJsonString(&o, s.comment);
    o += fmt::format(",\"startsAtMs\":{},\"endsAtMs\":{},\"updatedAtMs\":{},\"matchers\":[",
                     s.starts_at_ms, s.ends_at_ms, s.updated_at_ms);
    for (size_t i = 0; i < s.matchers.size(); ++i) {
      if (i > 0) o += ',';
      o += "{\"name\":";
      AppendJsonString(&o, s.matchers[i].name);
      o += ",\"value\":";
      AppendJsonString(&o, s.matchers[i].value);
      o += fmt::format(",\"isRegex\":{},\"isEqual\":{}}}", s.matchers[i].is_regex, s.matchers[i].is_equal);
    }
    o += "]}";
  }
  o += "]}\n";
  return WriteAtomically(path_, o);
}

absl::StatusOr<std::string> Silences::Set(Silence s, int64_t now) {
  if (s.matchers.empty()) return absl::InvalidArgumentError("silence invalid: at least one matcher required");
  bool all_empty = true;
  for (const auto& m : s.matchers) {
    if (m.name.empty()) return absl::InvalidArgumentError("silence invalid: invalid label matcher: empty name");
    if (m.is_regex) {
      auto mm = model::Matcher::Make(model::MatchType::kRegexMatch, m.name, m.value);
      if (!mm.ok()) return absl::InvalidArgumentError(fmt::format("silence invalid: {}", std::string(mm.status().message())));
      if (!mm->Matches("")) all_empty = false;
    } else if (!(m.is_equal && m.value.empty())) {
      all_empty = false;
    }
  }
  if (all_empty) return absl::InvalidArgumentError("silence invalid: at least one matcher must not match the empty string");
  if (s.ends_at_ms <= s.starts_at_ms) {
    return absl::InvalidArgumentError("silence invalid: end time must not be before start time");
  }
  if (s.ends_at_ms <= now) return absl::InvalidArgumentError("silence invalid: end time can't be in the past");
  std::lock_guard<std::mutex> lock(mu_);
  if (!s.id.empty()) {
    auto it = silences_.find(s.id);
    if (it == silences_.end()) return absl::NotFoundError(fmt::format("silence {} not found", s.id));
    // Alertmanager keeps an active silence's id only when the matchers are unchanged and
    // it is extended; otherwise the old one expires and a new one is made. Vigil updates in
    // place, which API clients cannot tell apart except for the kept id.
  } else {
    s.id = NewId();
  }
  if (s.starts_at_ms < now) s.starts_at_ms = now;
  s.updated_at_ms = now;
  silences_[s.id] = s;
  absl::Status st = SaveLocked();
  if (!st.ok()) return st;
  return s.id;
}

absl::Status Silences::Expire(const std::string& id, int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = silences_.find(id);
  if (it == silences_.end()) return absl::NotFoundError(fmt::format("silence {} not found", id));
  if (it->second.State(now) == "expired") {
    return absl::InvalidArgumentError(fmt::format("silence {} already expired", id));
  }
  if (it->second.starts_at_ms > now) it->second.starts_at_ms = now;
  it->second.ends_at_ms = now;
  it->second.updated_at_ms = now;
  return SaveLocked();
}

std::vector<Silence> Silences::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Silence> out;
  for (const auto& [id, s] : silences_) out.push_back(s);
  return out;
}

absl::StatusOr<Silence> Silences::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = silences_.find(id);
  if (it == silences_.end()) return absl::NotFoundError(fmt::format("silence {} not found", id));
  return it->second;
}

std::vector<std::string> Silences::Mutes(const model::Labels& labels, int64_t now) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, s] : silences_) {
    if (s.State(now) == "active" && s.Matches(labels)) out.push_back(id);
  }
  return out;
}

}  // namespace vigil::notify
