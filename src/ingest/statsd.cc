#include "ingest/statsd.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/metrics.h"
#include "fmt/format.h"

namespace vigil::ingest {
namespace {

bool ParseDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  if (s[0] == '+') s.remove_prefix(1);
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(*out);
}

void AddTag(std::string_view k, std::string_view v, std::vector<model::Label>* tags) {
  if (k.empty() || v.empty()) return;
  tags->push_back({SanitizeName(k, true), std::string(v)});
}

// "k:v,k2:v2" (DogStatsD) or "k=v,k2=v2" (InfluxDB, Librato).
void ParseTags(std::string_view s, char kv_sep, std::vector<model::Label>* tags) {
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view t = s.substr(0, comma);
    size_t sep = t.find(kv_sep);
    if (sep != std::string_view::npos) AddTag(t.substr(0, sep), t.substr(sep + 1), tags);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
}

}  // namespace

StatsdAggregator::StatsdAggregator(StatsdOptions opts) : opts_(std::move(opts)) {}

StatsdAggregator::Result StatsdAggregator::Ingest(std::string_view packet, int64_t now_ms) {
  Result r;
  while (!packet.empty()) {
    size_t nl = packet.find('\n');
    std::string_view line = packet.substr(0, nl);
    packet.remove_prefix(nl == std::string_view::npos ? packet.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.starts_with("_e{") || line.starts_with("_sc|")) continue;
    if (absl::Status st = IngestLine(line, now_ms, &r); !st.ok()) {
      ++r.bad_lines;
      if (r.first_error.empty()) {
        r.first_error = fmt::format("{}: \"{}\"", std::string(st.message()), line.substr(0, 200));
      }
    }
  }
  return r;
}

StatsdAggregator::Series* StatsdAggregator::Find(Kind kind, std::string name,
                                                 std::vector<model::Label> tags, Result* r) {
  std::sort(tags.begin(), tags.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::string key = name;
  for (const auto& t : tags) {
    key.push_back('\xff');
    key += t.name;
    key.push_back('\xfe');
    key += t.value;
  }
  auto it = series_.find(key);
  if (it != series_.end()) {
    // One name with two kinds: the first kind wins, as a Prometheus registry would refuse
    // the second.
    if (it->second.kind != kind) return nullptr;
    return &it->second;
  }
  if (series_.size() >= opts_.max_series) {
    ++r->dropped;
    return nullptr;
  }
  Series s;
  s.kind = kind;
  s.name = std::move(name);
  s.tags = std::move(tags);
  if (kind == Kind::kObserver && opts_.observer == StatsdOptions::Observer::kHistogram) {
    s.buckets.assign(opts_.buckets.size(), 0);
  }
  return &series_.emplace(std::move(key), std::move(s)).first->second;
}

absl::Status StatsdAggregator::IngestLine(std::string_view line, int64_t now_ms, Result* r) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return absl::InvalidArgumentError("missing ':' after the name");
  std::string_view name = line.substr(0, colon);
  std::string_view rest = line.substr(colon + 1);
  std::vector<model::Label> tags;
  // InfluxDB style "name,k=v" and Librato style "name#k=v".
  if (size_t c = name.find(','); c != std::string_view::npos) {
    ParseTags(name.substr(c + 1), '=', &tags);
    name = name.substr(0, c);
  } else if (size_t h = name.find('#'); h != std::string_view::npos) {
    ParseTags(name.substr(h + 1), '=', &tags);
    name = name.substr(0, h);
  }
  const size_t bar = rest.find('|');
  if (bar == std::string_view::npos) return absl::InvalidArgumentError("missing '|' before the type");
  std::string_view values = rest.substr(0, bar);
  std::string_view fields = rest.substr(bar + 1);
  size_t next = fields.find('|');
  std::string_view type = fields.substr(0, next);
  double rate = 1;
  while (next != std::string_view::npos) {
    fields.remove_prefix(next + 1);
    next = fields.find('|');
    std::string_view f = fields.substr(0, next);
    if (f.empty()) continue;
    if (f[0] == '@') {
      if (!ParseDouble(f.substr(1), &rate) || rate <= 0 || rate > 1) {
        return absl::InvalidArgumentError(fmt::format("invalid sample rate \"{}\"", f));
      }
    } else if (f[0] == '#') {
      ParseTags(f.substr(1), ':', &tags);
    }
    // "T<ts>" (DogStatsD timestamps) and "c:<container>" are accepted and ignored: the
    // aggregate is stamped at flush time.
  }
  Kind kind;
  double scale = 1;
  if (type == "c") {
    kind = Kind::kCounter;
  } else if (type == "g") {
    kind = Kind::kGauge;
  } else if (type == "ms") {
    kind = Kind::kObserver;
    scale = 0.001;
  } else if (type == "h" || type == "d") {
    kind = Kind::kObserver;
  } else if (type == "s") {
    kind = Kind::kSet;
  } else {
    return absl::InvalidArgumentError(fmt::format("unknown metric type \"{}\"", type));
  }
  std::string metric = SanitizeName(name, false);
  if (metric.empty()) return absl::InvalidArgumentError("empty metric name");
  // Parse every value before touching the series, so a bad line changes nothing.
  std::vector<std::string_view> raw;
  std::vector<double> nums;
  while (true) {
    size_t c = values.find(':');
    std::string_view v = values.substr(0, c);
    if (kind != Kind::kSet) {
      double d;
      if (!ParseDouble(v, &d)) return absl::InvalidArgumentError(fmt::format("invalid value \"{}\"", v));
      nums.push_back(d);
    }
    raw.push_back(v);
    if (c == std::string_view::npos) break;
    values.remove_prefix(c + 1);
  }
  Series* s = Find(kind, std::move(metric), std::move(tags), r);
  if (s == nullptr) return absl::OkStatus();  // counted as dropped, or a kind clash
  for (size_t i = 0; i < raw.size(); ++i) {
    ++r->events;
    if (kind == Kind::kSet) {
      s->members.emplace(raw[i]);
      continue;
    }
    double d = nums[i];
    switch (kind) {
      case Kind::kCounter:
        s->value += d / rate;
        break;
      case Kind::kGauge:
        if (raw[i][0] == '+' || raw[i][0] == '-') {
          s->value += d;
        } else {
          s->value = d;
        }
        break;
      case Kind::kObserver: {
        d *= scale;
        const int reps = std::clamp(static_cast<int>(std::lround(1.0 / rate)), 1, 1000);
        for (int k = 0; k < reps; ++k) {
          s->sum += d;
          ++s->count;
          if (!s->buckets.empty()) {
            for (size_t b = 0; b < opts_.buckets.size(); ++b) {
              if (d <= opts_.buckets[b]) {
                ++s->buckets[b];
                break;
              }
            }
          } else {
            s->window.emplace_back(now_ms, d);
            if (s->window.size() > opts_.summary_max_samples) s->window.pop_front();
          }
        }
        break;
      }
      case Kind::kSet:
        break;
    }
  }
  return absl::OkStatus();
}

void StatsdAggregator::Flush(int64_t t_ms, DecodedBatch* out) {
  auto emit = [&](const Series& s, std::string name, std::string_view extra_n,
                  std::string_view extra_v, double v) {
    PendingSample& p = out->samples.emplace_back();
    auto& vec = p.labels.mutable_vec();
    vec = s.tags;
    if (!extra_n.empty()) vec.push_back({std::string(extra_n), std::string(extra_v)});
    vec.push_back({std::string(model::kMetricName), std::move(name)});
    p.t = t_ms;
    p.v = v;
  };
  std::vector<double> sorted;
  for (auto& [key, s] : series_) {
    switch (s.kind) {
      case Kind::kCounter:
        emit(s, s.name, "", "", s.value);
        break;
      case Kind::kGauge:
        emit(s, s.name, "", "", s.value);
        break;
      case Kind::kSet:
        emit(s, s.name, "", "", static_cast<double>(s.members.size()));
        s.members.clear();
        break;
      case Kind::kObserver:
        if (!s.buckets.empty()) {
          uint64_t cum = 0;
          for (size_t b = 0; b < opts_.buckets.size(); ++b) {
            cum += s.buckets[b];
            emit(s, s.name + "_bucket", "le", metrics::FormatValue(opts_.buckets[b]),
                 static_cast<double>(cum));
          }
          emit(s, s.name + "_bucket", "le", "+Inf", static_cast<double>(s.count));
        } else {
          while (!s.window.empty() && s.window.front().first < t_ms - opts_.summary_max_age_ms) {
            s.window.pop_front();
          }
          sorted.clear();
          for (const auto& [t, v] : s.window) sorted.push_back(v);
          std::sort(sorted.begin(), sorted.end());
          for (double q : opts_.quantiles) {
            double v = std::nan("");
            if (!sorted.empty()) {
              // Nearest rank: the smallest value with at least q of the observations at
              // or below it.
              size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
              v = sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
            }
            emit(s, s.name, "quantile", metrics::FormatValue(q), v);
          }
        }
        emit(s, s.name + "_sum", "", "", s.sum);
        emit(s, s.name + "_count", "", "", static_cast<double>(s.count));
        break;
    }
  }
}

}  // namespace vigil::ingest
