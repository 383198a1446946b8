// Querier: how PromQL, the HTTP API and rules read from storage.
//
// A Querier sees one tenant over a fixed [mint, maxt] (milliseconds, both inclusive) and a
// consistent set of blocks and head data taken when it was created. Select returns the
// series matching all matchers (an empty match set is an error at the API layer, not here),
// each with an iterator over its samples in time order inside [mint, maxt], with deleted
// ranges (tombstones) already removed.
//
// Lifetimes: the Querier must outlive every SeriesSet, Series and SampleIterator it gives
// out; a Series reference from SeriesSet::At() is valid until the next Next().
// Thread-safety: one Querier may be used by several threads only if each Select result is
// consumed by one thread; iterators are single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/labels.h"
#include "model/matcher.h"
#include "model/sample.h"

namespace vigil::storage {

class SampleIterator {
 public:
  virtual ~SampleIterator() = default;
  // Moves to the next sample; false at the end or on error (see Err).
  virtual bool Next() = 0;
  // Moves to the first sample with timestamp >= t, never backwards; false if there is none.
  // Valid before the first Next().
  virtual bool Seek(int64_t t) = 0;
  // The current sample; only after Next() or Seek() returned true.
  virtual model::Sample At() const = 0;
  virtual absl::Status Err() const = 0;
  // Appends to `out` every sample with mint <= t <= maxt from the current position on, as
  // Seek(mint) and then Next() while t <= maxt would, but in one call, so that sources can
  // decode whole chunks in tight loops. Afterwards only Err() may be used. (Inline, as the
  // rest of this interface, so that sources in libraries below storage's need no symbol
  // of it.)
  virtual void AppendRange(int64_t mint, int64_t maxt, std::vector<model::Sample>* out) {
    model::AppendRangeBySteps(*this, mint, maxt, out);
  }
};

class Series {
 public:
  virtual ~Series() = default;
  virtual const model::Labels& labels() const = 0;
  // A fresh iterator over this series' samples; may be called more than once.
  virtual std::unique_ptr<SampleIterator> Iterator() const = 0;
};

class SeriesSet {
 public:
  virtual ~SeriesSet() = default;
  virtual bool Next() = 0;
  virtual const Series& At() const = 0;
  virtual absl::Status Err() const = 0;
  // Non-fatal problems met while selecting (e.g. a block that could not be read).
  virtual std::vector<std::string> Warnings() const { return {}; }
};

// What the caller will do with the data, so storage can pick a cheaper path (e.g. a
// downsampled tier). All optional.
struct SelectHints {
  int64_t start = model::kMinTime;  // the first timestamp the query needs
  int64_t end = model::kMaxTime;
  int64_t step = 0;     // query step in ms, 0 for instant queries
  int64_t range = 0;    // range of the enclosing matrix selector in ms
  std::string func;     // enclosing function name, e.g. "rate"
  // Only each series' newest sample in [start, end] is used (an instant vector selector
  // evaluated at one time): a source may return just that sample, and skip series without
  // one. Sources that cannot do this cheaply ignore it.
  bool newest_only = false;
};

class Querier {
 public:
  virtual ~Querier() = default;
  // Series matching every matcher. With sorted=true, ordered by labels.
  virtual std::unique_ptr<SeriesSet> Select(bool sorted, const SelectHints& hints,
                                            const model::Matchers& matchers) = 0;
  // Sorted distinct values of `name` among series matching `matchers` (all if empty).
  virtual absl::StatusOr<std::vector<std::string>> LabelValues(
      std::string_view name, const model::Matchers& matchers) = 0;
  // Sorted distinct label names among series matching `matchers` (all if empty).
  virtual absl::StatusOr<std::vector<std::string>> LabelNames(
      const model::Matchers& matchers) = 0;
};

// Hands out Queriers. Implemented by storage::DB; promql depends only on this.
class Queryable {
 public:
  virtual ~Queryable() = default;
  virtual absl::StatusOr<std::unique_ptr<Querier>> NewQuerier(std::string_view tenant,
                                                              int64_t mint, int64_t maxt) = 0;
};

// An empty result, for queriers that have nothing to say.
std::unique_ptr<SeriesSet> EmptySeriesSet();

}  // namespace vigil::storage
