// A tiny in-memory storage::Queryable for PromQL's tests, benchmarks and conformance runner
// (header-only, test code: nothing in the engine depends on it).
//
// Holds float samples per label set, in time order, ignores tenants (one store = one
// tenant) and never persists anything. The runner can also run against the real
// storage::DB; this one keeps the PromQL tests independent of the storage engine.
//
// Thread-safety: none; one test thread loads and queries.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/labels.h"
#include "model/sample.h"
#include "storage/querier.h"

namespace vigil::promql::testing {

class MemStorage : public storage::Queryable {
 public:
  // Adds a sample; samples of a series must come in increasing time order (a sample at an
  // existing timestamp replaces it).
  void Add(const model::Labels& labels, int64_t t, double v);
  void Clear() { series_.clear(); }

  absl::StatusOr<std::unique_ptr<storage::Querier>> NewQuerier(std::string_view tenant,
                                                               int64_t mint,
                                                               int64_t maxt) override;

 private:
  std::map<model::Labels, std::vector<model::Sample>> series_;
};

namespace mem_internal {

class VecIterator final : public storage::SampleIterator {
 public:
  explicit VecIterator(std::vector<model::Sample> s) : s_(std::move(s)) {}
  bool Next() override { return ++i_ < static_cast<int64_t>(s_.size()); }
  bool Seek(int64_t t) override {
    if (i_ < 0) i_ = 0;
    while (i_ < static_cast<int64_t>(s_.size()) && s_[i_].t < t) ++i_;
    return i_ < static_cast<int64_t>(s_.size());
  }
  model::Sample At() const override { return s_[i_]; }
  absl::Status Err() const override { return absl::OkStatus(); }

 private:
  std::vector<model::Sample> s_;
  int64_t i_ = -1;
};

class MemSeries final : public storage::Series {
 public:
  MemSeries(model::Labels l, std::vector<model::Sample> s)
      : labels_(std::move(l)), samples_(std::move(s)) {}
  const model::Labels& labels() const override { return labels_; }
  std::unique_ptr<storage::SampleIterator> Iterator() const override {
    return std::make_unique<VecIterator>(samples_);
  }

 private:
  model::Labels labels_;
  std::vector<model::Sample> samples_;
};

class MemSet final : public storage::SeriesSet {
 public:
  explicit MemSet(std::vector<MemSeries> s) : s_(std::move(s)) {}
  bool Next() override { return ++i_ < static_cast<int64_t>(s_.size()); }
  const storage::Series& At() const override { return s_[i_]; }
  absl::Status Err() const override { return absl::OkStatus(); }

 private:
  std::vector<MemSeries> s_;
  int64_t i_ = -1;
};

class MemQuerier final : public storage::Querier {
 public:
  MemQuerier(const std::map<model::Labels, std::vector<model::Sample>>* series, int64_t mint,
             int64_t maxt)
      : series_(series), mint_(mint), maxt_(maxt) {}

  std::unique_ptr<storage::SeriesSet> Select(bool, const storage::SelectHints&,
                                             const model::Matchers& matchers) override {
    std::vector<MemSeries> out;
    for (const auto& [labels, samples] : *series_) {
      bool ok = true;
      for (const auto& m : matchers) ok = ok && m.Matches(labels.Get(m.name()));
      if (!ok) continue;
      std::vector<model::Sample> in;
      for (const auto& s : samples) {
        if (s.t >= mint_ && s.t <= maxt_) in.push_back(s);
      }
      if (!in.empty()) out.emplace_back(labels, std::move(in));
    }
    return std::make_unique<MemSet>(std::move(out));
  }
  absl::StatusOr<std::vector<std::string>> LabelValues(std::string_view,
                                                       const model::Matchers&) override {
    return std::vector<std::string>{};
  }
  absl::StatusOr<std::vector<std::string>> LabelNames(const model::Matchers&) override {
    return std::vector<std::string>{};
  }

 private:
  const std::map<model::Labels, std::vector<model::Sample>>* series_;
  int64_t mint_, maxt_;
};

}  // namespace mem_internal

inline void MemStorage::Add(const model::Labels& labels, int64_t t, double v) {
  auto& s = series_[labels];
  if (!s.empty() && s.back().t == t) {
    s.back().v = v;
    return;
  }
  if (!s.empty() && s.back().t > t) {
    auto it = std::lower_bound(s.begin(), s.end(), t,
                               [](const model::Sample& a, int64_t x) { return a.t < x; });
    if (it != s.end() && it->t == t) {
      it->v = v;
    } else {
      s.insert(it, {t, v});
    }
    return;
  }
  s.push_back({t, v});
}

inline absl::StatusOr<std::unique_ptr<storage::Querier>> MemStorage::NewQuerier(std::string_view,
                                                                         int64_t mint,
                                                                         int64_t maxt) {
  return std::make_unique<mem_internal::MemQuerier>(&series_, mint, maxt);
}

}  // namespace vigil::promql::testing
