// StatsD: the aggregator that turns StatsD (and DogStatsD) lines into Prometheus-style
// series the way statsd_exporter does, and the UDP listener that feeds it and writes the
// aggregate every flush interval (statsd_server.h).
//
// Lines: <name>:<value>[:<value>...]|<type>[|@<rate>][|#tag:v,tag2:v2][|T<unix s>]
//   c   counter: adds value/rate to a running total, exposed as <name> (cumulative, as
//       statsd_exporter exposes counters);
//   g   gauge: sets the value; "+N" / "-N" add to it;
//   ms  timer: an observation in milliseconds, converted to seconds;
//   h, d  histogram / distribution: an observation as sent;
//   s   set: the number of distinct values seen during the flush interval, as a gauge.
// Observations become a summary (default: <name>{quantile="0.5|0.9|0.99"} over the last
// 10 minutes, <name>_sum, <name>_count) or, with Observer::kHistogram, <name>_bucket{le},
// _sum and _count. A sample rate weights counters (value/rate) and observations (counted
// round(1/rate) times). Names have every character outside [a-zA-Z0-9_:] replaced by '_'
// ("api.requests" -> api_requests). Tags: DogStatsD "|#k:v", InfluxDB "name,k=v:1|c" and
// Librato "name#k=v:1|c"; a tag without a value is ignored. DogStatsD events ("_e{") and
// service checks ("_sc|") are ignored.
//
// Thread-safety: StatsdAggregator is not thread-safe; StatsdServer locks around it.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/decoded.h"

namespace vigil::ingest {

struct StatsdOptions {
  enum class Observer { kSummary, kHistogram };
  Observer observer = Observer::kSummary;
  std::vector<double> buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  std::vector<double> quantiles = {0.5, 0.9, 0.99};
  int64_t summary_max_age_ms = 10 * 60 * 1000;
  size_t summary_max_samples = 4096;  // per series, oldest dropped first
  size_t max_series = 100'000;        // new series past this are dropped and counted
};

class StatsdAggregator {
 public:
  explicit StatsdAggregator(StatsdOptions opts = {});

  struct Result {
    int64_t events = 0;        // values accepted
    int64_t bad_lines = 0;     // lines refused
    int64_t dropped = 0;       // values dropped by max_series
    std::string first_error;   // the first bad line's reason
  };
  // Parses one datagram (lines separated by '\n') and aggregates it.
  Result Ingest(std::string_view packet, int64_t now_ms);

  // Appends the current value of every series at time `t_ms` and starts a new interval
  // (sets are emptied; counters, gauges and observers keep their state).
  void Flush(int64_t t_ms, DecodedBatch* out);

  size_t num_series() const { return series_.size(); }

 private:
  enum class Kind { kCounter, kGauge, kObserver, kSet };
  struct Series {
    Kind kind;
    std::string name;
    std::vector<model::Label> tags;  // sorted
    double value = 0;                // counter total or gauge value
    double sum = 0;
    uint64_t count = 0;
    std::vector<uint64_t> buckets;            // histogram observer
    std::deque<std::pair<int64_t, double>> window;  // summary observer
    std::set<std::string> members;            // set, this interval
  };
  absl::Status IngestLine(std::string_view line, int64_t now_ms, Result* r);
  Series* Find(Kind kind, std::string name, std::vector<model::Label> tags, Result* r);

  const StatsdOptions opts_;
  std::map<std::string, Series> series_;
};

}  // namespace vigil::ingest
