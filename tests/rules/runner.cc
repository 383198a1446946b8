// Runs rule unit tests in the format of `promtool test rules` over Vigil's rule manager and
// PromQL engine (in-memory storage):
//
//   rule_files: [alerts.rules.yml]        # relative to the test file
//   evaluation_interval: 1m
//   tests:
//     - interval: 1m
//       input_series:
//         - series: 'up{job="x", instance="a"}'
//           values: '1 1 0x5 _ stale 1+1x3'
//       alert_rule_test:
//         - eval_time: 5m
//           alertname: InstanceDown
//           exp_alerts: [{exp_labels: {...}, exp_annotations: {...}}]
//       promql_expr_test:
//         - expr: job:up:sum
//           eval_time: 4m
//           exp_samples: [{labels: 'job:up:sum{job="x"}', value: 1}]
//
// Usage: rules_test_runner FILE...; prints each failure and exits 1 if any test failed.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <set>
#include <string>
#include <vector>

#include "config/units.h"
#include "fmt/format.h"
#include "model/sample.h"
#include "promql/engine.h"
#include "promql/parser.h"
#include "promql/testing/mem_queryable.h"
#include "rules/manager.h"
#include "yaml-cpp/yaml.h"

namespace {

using vigil::model::Labels;

// Appends straight into the in-memory store so recording rules feed later queries.
class MemAppendable : public vigil::storage::Appendable {
 public:
  explicit MemAppendable(vigil::promql::testing::MemStorage* s) : s_(s) {}
  class App : public vigil::storage::Appender {
   public:
    explicit App(vigil::promql::testing::MemStorage* s) : s_(s) {}
    absl::StatusOr<vigil::storage::SeriesRef> Append(vigil::storage::SeriesRef, const Labels& l,
                                                     int64_t t, double v) override {
      rows_.push_back({l, t, v});
      return 1;
    }
    absl::Status Commit() override {
      for (auto& r : rows_) s_->Add(r.l, r.t, r.v);
      rows_.clear();
      return absl::OkStatus();
    }
    void Rollback() override { rows_.clear(); }

   private:
    struct Row {
      Labels l;
      int64_t t;
      double v;
    };
    vigil::promql::testing::MemStorage* s_;
    std::vector<Row> rows_;
  };
  std::unique_ptr<vigil::storage::Appender> NewAppender(std::string_view) override {
    return std::make_unique<App>(s_);
  }

 private:
  vigil::promql::testing::MemStorage* s_;
};

int64_t Dur(const YAML::Node& n, int64_t def) {
  if (!n) return def;
  auto d = vigil::config::ParseDuration(n.as<std::string>());
  if (!d.ok()) throw std::runtime_error("bad duration " + n.as<std::string>());
  return *d;
}

Labels ParseSeries(const std::string& s) {
  auto m = vigil::promql::ParseMetricSelector(s);
  if (!m.ok()) throw std::runtime_error("bad series " + s + ": " + std::string(m.status().message()));
  std::vector<vigil::model::Label> out;
  for (const auto& x : *m) out.push_back({x.name(), x.value()});
  return Labels(std::move(out));
}

// Expands promtool's value notation into one optional value per step.
std::vector<std::optional<double>> ExpandValues(const std::string& text) {
  std::vector<std::optional<double>> out;
  std::istringstream in(text);
  std::string tok;
  while (in >> tok) {
    if (tok == "_") {
      out.push_back(std::nullopt);
    } else if (tok == "stale") {
      out.push_back(vigil::model::StaleNaN());
    } else if (tok.rfind("_x", 0) == 0) {
      for (int i = 0, n = std::stoi(tok.substr(2)); i < n; ++i) out.push_back(std::nullopt);
    } else {
      size_t x = tok.find('x');
      if (x == std::string::npos) {
        out.push_back(std::stod(tok));
        continue;
      }
      const int n = std::stoi(tok.substr(x + 1));
      std::string head = tok.substr(0, x);
      size_t op = head.find_first_of("+-", 1);
      double start = std::stod(op == std::string::npos ? head : head.substr(0, op));
      double inc = op == std::string::npos ? 0 : std::stod(head.substr(op));
      for (int i = 0; i <= n; ++i) out.push_back(start + inc * i);
    }
  }
  return out;
}

bool SameLabels(const YAML::Node& want, const Labels& got) {
  std::map<std::string, std::string> w, g;
  if (want) {
    for (const auto& kv : want) w[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  for (const auto& l : got) g[l.name] = l.value;
  return w == g;
}

int RunFile(const std::string& path) {
  int failures = 0;
  YAML::Node root = YAML::LoadFile(path);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  std::vector<vigil::rules::RuleFile> files;
  for (const auto& f : root["rule_files"]) {
    auto rf = vigil::rules::LoadRuleFile(dir + "/" + f.as<std::string>());
    if (!rf.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), std::string(rf.status().message()).c_str());
      return 1;
    }
    files.push_back(std::move(*rf));
  }
  const int64_t eval_interval = Dur(root["evaluation_interval"], 60'000);
  int test_no = 0;
  for (const auto& t : root["tests"]) {
    ++test_no;
    const int64_t interval = Dur(t["interval"], eval_interval);
    vigil::promql::testing::MemStorage store;
    // Load input series in time order (MemStorage wants increasing timestamps per series).
    for (const auto& s : t["input_series"]) {
      Labels l = ParseSeries(s["series"].as<std::string>());
      auto vals = ExpandValues(s["values"].as<std::string>());
      for (size_t i = 0; i < vals.size(); ++i) {
        if (vals[i]) store.Add(l, static_cast<int64_t>(i) * interval, *vals[i]);
      }
    }
    int64_t max_t = 0;
    for (const auto& a : t["alert_rule_test"]) max_t = std::max(max_t, Dur(a["eval_time"], 0));
    for (const auto& e : t["promql_expr_test"]) max_t = std::max(max_t, Dur(e["eval_time"], 0));

    vigil::promql::Engine engine;
    MemAppendable app(&store);
    vigil::rules::ManagerOptions mo;
    mo.appendable = &app;
    mo.query = [&](std::string_view q, int64_t ts) { return engine.InstantQuery(store, "default", q, ts); };
    vigil::rules::Manager m(mo);
    // Rules evaluate from time 0, every evaluation_interval (group intervals are ignored,
    // as promtool does).
    std::vector<vigil::rules::RuleFile> fs = files;
    for (auto& f : fs) {
      for (auto& g : f.groups) g.interval_ms = eval_interval;
    }
    m.Update(fs, eval_interval);
    std::map<int64_t, std::vector<vigil::rules::ActiveAlert>> alerts_at;
    for (int64_t ts = 0; ts <= max_t; ts += eval_interval) {
      m.EvalAllOnce(ts);
      alerts_at[ts] = m.Alerts();
    }
    for (const auto& a : t["alert_rule_test"]) {
      const int64_t at = Dur(a["eval_time"], 0);
      auto it = alerts_at.upper_bound(at);
      if (it == alerts_at.begin()) continue;
      --it;
      const std::string name = a["alertname"].as<std::string>();
      std::vector<vigil::rules::ActiveAlert> got;
      for (const auto& x : it->second) {
        if (x.labels.Get("alertname") == name && x.state == vigil::rules::AlertState::kFiring) got.push_back(x);
      }
      std::vector<bool> used(got.size(), false);
      size_t want_n = 0;
      bool ok = true;
      for (const auto& w : a["exp_alerts"]) {
        ++want_n;
        bool found = false;
        for (size_t i = 0; i < got.size() && !found; ++i) {
          if (used[i]) continue;
          vigil::model::LabelsBuilder b(got[i].labels);
          b.Del("alertname");
          if (SameLabels(w["exp_labels"], b.Build()) && SameLabels(w["exp_annotations"], got[i].annotations)) {
            used[i] = found = true;
          }
        }
        ok = ok && found;
      }
      if (!ok || want_n != got.size()) {
        ++failures;
        std::string gs;
        for (const auto& g : got) gs += "\n      " + g.labels.ToString() + " " + g.annotations.ToString();
        std::fprintf(stderr, "%s: test %d: alertname %s at %s: want %zu alerts, got:%s\n", path.c_str(), test_no,
                     name.c_str(), a["eval_time"].as<std::string>().c_str(), want_n, gs.c_str());
      }
    }
    for (const auto& e : t["promql_expr_test"]) {
      const std::string expr = e["expr"].as<std::string>();
      auto r = engine.InstantQuery(store, "default", expr, Dur(e["eval_time"], 0));
      if (!r.ok()) {
        ++failures;
        std::fprintf(stderr, "%s: test %d: %s: %s\n", path.c_str(), test_no, expr.c_str(),
                     std::string(r.status().message()).c_str());
        continue;
      }
      auto vec = vigil::rules::ResultToVector(*r, 0);
      std::set<std::string> got, want;
      for (const auto& s : vec) got.insert(s.labels.ToString() + " " + vigil::promql::FormatFloat(s.v));
      for (const auto& w : e["exp_samples"]) {
        Labels l = w["labels"] ? ParseSeries(w["labels"].as<std::string>()) : Labels();
        want.insert(l.ToString() + " " + vigil::promql::FormatFloat(w["value"].as<double>()));
      }
      if (got != want) {
        ++failures;
        std::string gs, ws;
        for (const auto& g : got) gs += "\n      " + g;
        for (const auto& w : want) ws += "\n      " + w;
        std::fprintf(stderr, "%s: test %d: %s at %s:\n    want:%s\n    got:%s\n", path.c_str(), test_no,
                     expr.c_str(), e["eval_time"].as<std::string>().c_str(), ws.c_str(), gs.c_str());
      }
    }
  }
  std::printf("%s: %s\n", path.c_str(), failures == 0 ? "SUCCESS" : "FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  int rc = 0;
  for (int i = 1; i < argc; ++i) {
    try {
      rc |= RunFile(argv[i]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", argv[i], e.what());
      rc = 1;
    }
  }
  return rc;
}
