// Metrics: Vigil's own instrumentation, exposed at /metrics in the Prometheus text format
// (version 0.0.4).
//
// A Registry holds metric families. Each family has a name, help text, a type and a fixed
// list of label names; a child (one label-value combination) is created on first use by
// WithLabelValues() and lives as long as the registry, so callers look children up once
// and keep the pointer for the hot path. Counter/Gauge/Histogram updates are lock-free
// (relaxed atomics): a scrape may see one counter a little ahead of another, never a torn
// value.
//
// Values computed at scrape time (storage stats, process CPU and memory) come from
// collectors: callbacks registered with AddCollector() that append FamilySnapshots.
//
// Thread-safety: every method may be called from any thread. Collectors run on the thread
// that calls Render(), one scrape at a time per registry.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::metrics {

enum class Type { kCounter, kGauge, kHistogram, kUntyped };

class Counter {
 public:
  // `d` must be >= 0 (counters only go up); negative increments are ignored.
  void Inc(double d = 1) {
    if (d >= 0) value_.fetch_add(d, std::memory_order_relaxed);
  }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d) { value_.fetch_add(d, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `upper_bounds` must be sorted ascending; a +Inf bucket is implied.
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);

  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == upper_bounds().size() is the +Inf bucket).
  uint64_t BucketCount(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Prometheus's default buckets for request durations in seconds.
std::vector<double> DefaultDurationBuckets();

// A family of children of type T keyed by label values.
template <typename T>
class Family {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         Factory factory)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        factory_(std::move(factory)) {}

  // The child for these label values (as many as label names; missing ones are ""). The
  // pointer stays valid for the life of the family.
  T* WithLabelValues(const std::vector<std::string>& values) {
    std::vector<std::string> key = values;
    key.resize(label_names_.size());
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = children_[key];
    if (!slot) slot = factory_();
    return slot.get();
  }

  // Calls fn(label values, child) for every child, in label-value order.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, v] : children_) fn(k, *v);
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const Factory factory_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// What a collector reports: one family with its samples as (labels, value).
struct FamilySnapshot {
  struct Point {
    std::vector<std::pair<std::string, std::string>> labels;
    double value;
  };
  std::string name;
  std::string help;
  Type type = Type::kGauge;
  std::vector<Point> points;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry served at /metrics.
  static Registry& Default();

  // Registering a name twice returns the existing family when its type and label names
  // agree (so independent components may share one), and is a BUG check otherwise.
  CounterFamily* NewCounterFamily(std::string_view name, std::string_view help,
                                  std::vector<std::string> label_names);
  GaugeFamily* NewGaugeFamily(std::string_view name, std::string_view help,
                              std::vector<std::string> label_names);
  HistogramFamily* NewHistogramFamily(std::string_view name, std::string_view help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> upper_bounds);
  // Label-less shortcuts.
  Counter* NewCounter(std::string_view name, std::string_view help) {
    return NewCounterFamily(name, help, {})->WithLabelValues({});
  }
  Gauge* NewGauge(std::string_view name, std::string_view help) {
    return NewGaugeFamily(name, help, {})->WithLabelValues({});
  }

  using Collector = std::function<void(std::vector<FamilySnapshot>*)>;
  // Returns an id for RemoveCollector. A collector must not call back into the registry.
  int AddCollector(Collector c);
  void RemoveCollector(int id);

  // Everything in the text exposition format 0.0.4, families sorted by name.
  std::string Render() const;

 private:
  struct Entry {
    Type type;
    std::unique_ptr<CounterFamily> counter;
    std::unique_ptr<GaugeFamily> gauge;
    std::unique_ptr<HistogramFamily> histogram;
  };
  Entry* FindOrAdd(std::string_view name, Type type, const std::vector<std::string>& labels);

  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> families_;
  std::map<int, Collector> collectors_;
  int next_collector_id_ = 1;
  mutable std::mutex render_mu_;  // one Render at a time, so collectors need no locking
};

// Formats a sample value as the text format expects: shortest round-trip decimal,
// "NaN", "+Inf", "-Inf".
std::string FormatValue(double v);
// Escapes a label value for the text format (backslash, double quote, newline).
std::string EscapeLabelValue(std::string_view v);

}  // namespace vigil::metrics
