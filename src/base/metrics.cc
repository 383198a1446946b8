#include "base/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/status.h"

namespace vigil::metrics {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  VIGIL_CHECK(std::is_sorted(bounds_.begin(), bounds_.end()));
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // Buckets are few (about a dozen), so a linear scan beats a binary search here.
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<double> DefaultDurationBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Registry& Registry::Default() {
  static Registry* r = new Registry();  // never destroyed: used until the process exits
  return *r;
}

Registry::Entry* Registry::FindOrAdd(std::string_view name, Type type,
                                     const std::vector<std::string>& labels) {
  auto it = families_.find(name);
  if (it != families_.end()) {
    Entry& e = it->second;
    VIGIL_CHECK(e.type == type);
    const std::vector<std::string>& have =
        type == Type::kCounter ? e.counter->label_names()
        : type == Type::kGauge ? e.gauge->label_names()
                               : e.histogram->label_names();
    VIGIL_CHECK(have == labels);
    return &e;
  }
  Entry& e = families_[std::string(name)];
  e.type = type;
  return &e;
}

CounterFamily* Registry::NewCounterFamily(std::string_view name, std::string_view help,
                                          std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = FindOrAdd(name, Type::kCounter, label_names);
  if (!e->counter) {
    e->counter = std::make_unique<CounterFamily>(std::string(name), std::string(help),
                                                 std::move(label_names),
                                                 [] { return std::make_unique<Counter>(); });
  }
  return e->counter.get();
}

GaugeFamily* Registry::NewGaugeFamily(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = FindOrAdd(name, Type::kGauge, label_names);
  if (!e->gauge) {
    e->gauge = std::make_unique<GaugeFamily>(std::string(name), std::string(help),
                                             std::move(label_names),
                                             [] { return std::make_unique<Gauge>(); });
  }
  return e->gauge.get();
}

HistogramFamily* Registry::NewHistogramFamily(std::string_view name, std::string_view help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> upper_bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry* e = FindOrAdd(name, Type::kHistogram, label_names);
  if (!e->histogram) {
    e->histogram = std::make_unique<HistogramFamily>(
        std::string(name), std::string(help), std::move(label_names),
        [b = std::move(upper_bounds)] { return std::make_unique<Histogram>(b); });
  }
  return e->histogram.get();
}

int Registry::AddCollector(Collector c) {
  std::lock_guard<std::mutex> lock(mu_);
  int id = next_collector_id_++;
  collectors_[id] = std::move(c);
  return id;
}

void Registry::RemoveCollector(int id) {
  // Taking render_mu_ first guarantees the collector is not running when this returns,
  // so its owner may be destroyed right after.
  std::lock_guard<std::mutex> render_lock(render_mu_);
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.erase(id);
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest round-trip digits, laid out as Go's strconv 'g' format does (what Prometheus
  // client libraries write): exponent form when the decimal exponent is below -4 or at
  // least 6, plain decimals otherwise. So 400000 stays "400000" and 1e6 is "1e+06".
  char buf[64];
  auto sci = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(sci.ptr - buf));
  int exp = 0;
  size_t e = s.find('e');
  std::from_chars(s.data() + e + (s[e + 1] == '+' ? 2 : 1), s.data() + s.size(), exp);
  if (exp < -4 || exp >= 6) return std::string(s);
  auto fixed = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

std::string_view TypeName(Type t) {
  switch (t) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
    case Type::kUntyped: return "untyped";
  }
  return "untyped";
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Appends `name{l1="v1",...,extra_name="extra_value"} value\n`.
void AppendLine(std::string* out, std::string_view name,
                const std::vector<std::pair<std::string, std::string>>& labels,
                std::string_view extra_name, std::string_view extra_value, double value) {
  out->append(name);
  bool any = false;
  auto add = [&](std::string_view n, std::string_view v) {
    if (v.empty()) return;  // an empty value is the same as no label
    out->push_back(any ? ',' : '{');
    any = true;
    out->append(n);
    out->append("=\"");
    out->append(EscapeLabelValue(v));
    out->push_back('"');
  };
  for (const auto& [n, v] : labels) add(n, v);
  if (!extra_name.empty()) add(extra_name, extra_value);
  if (any) out->push_back('}');
  out->push_back(' ');
  out->append(FormatValue(value));
  out->push_back('\n');
}

std::vector<std::pair<std::string, std::string>> Zip(const std::vector<std::string>& names,
                                                     const std::vector<std::string>& values) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) out.emplace_back(names[i], values[i]);
  return out;
}

}  // namespace

std::string Registry::Render() const {
  std::lock_guard<std::mutex> render_lock(render_mu_);
  std::vector<FamilySnapshot> snaps;
  std::vector<Collector> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
  }
  for (const auto& c : collectors) c(&snaps);

  // Families from children and from collectors are rendered together in name order.
  std::map<std::string, std::string> blocks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& kv : families_) {
      // Named references, not structured bindings: the lambdas below capture them.
      const std::string& name = kv.first;
      const Entry& e = kv.second;
      std::string& out = blocks[name];
      std::string_view help;
      if (e.counter) help = e.counter->help();
      if (e.gauge) help = e.gauge->help();
      if (e.histogram) help = e.histogram->help();
      out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(help), name,
                         TypeName(e.type));
      if (e.counter) {
        e.counter->ForEach([&](const std::vector<std::string>& lv, const Counter& c) {
          AppendLine(&out, name, Zip(e.counter->label_names(), lv), "", "", c.Value());
        });
      } else if (e.gauge) {
        e.gauge->ForEach([&](const std::vector<std::string>& lv, const Gauge& g) {
          AppendLine(&out, name, Zip(e.gauge->label_names(), lv), "", "", g.Value());
        });
      } else if (e.histogram) {
        e.histogram->ForEach([&](const std::vector<std::string>& lv, const Histogram& h) {
          auto labels = Zip(e.histogram->label_names(), lv);
          uint64_t cumulative = 0;
          const std::string bucket = name + "_bucket";
          for (size_t i = 0; i <= h.upper_bounds().size(); ++i) {
            cumulative += h.BucketCount(i);
            std::string le = i < h.upper_bounds().size() ? FormatValue(h.upper_bounds()[i])
                                                         : std::string("+Inf");
            AppendLine(&out, bucket, labels, "le", le, static_cast<double>(cumulative));
          }
          AppendLine(&out, name + "_sum", labels, "", "", h.Sum());
          AppendLine(&out, name + "_count", labels, "", "", static_cast<double>(h.Count()));
        });
      }
    }
  }
  for (const auto& s : snaps) {
    std::string& out = blocks[s.name];
    if (!out.empty()) continue;  // a registered family wins over a collector of the same name
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", s.name, EscapeHelp(s.help), s.name,
                       TypeName(s.type));
    for (const auto& p : s.points) AppendLine(&out, s.name, p.labels, "", "", p.value);
  }
  std::string all;
  for (const auto& [name, block] : blocks) all += block;
  return all;
}

}  // namespace vigil::metrics
