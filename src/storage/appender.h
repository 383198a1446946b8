// Appender: how ingestion, scraping and recording rules write samples into storage.
//
// An Appender collects samples for one tenant and makes them durable on Commit: the
// samples become visible to queries and are written to the WAL (fsynced first when the DB
// runs with wal-sync=always). Rollback discards everything appended since the last
// Commit. One Appender is used by one thread; take one per request or scrape.
//
// Append checks each sample at once against the head (out of order, too old, duplicate
// timestamp with a different value, cardinality limits) and returns an error for that
// sample only; the caller keeps going with the rest of its batch. RejectOf() tells the
// reason, for counting and for choosing an HTTP status.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/labels.h"

namespace vigil::storage {

// Identifies a series inside one DB for the life of the process. 0 means "unknown": pass
// 0 with the labels the first time, then the returned ref to skip the label lookup.
using SeriesRef = uint64_t;

inline constexpr std::string_view kDefaultTenant = "default";

// Why a sample was refused.
enum class Reject {
  kNone,
  kOutOfOrder,      // older than the series' newest sample and outside the OOO window
  kTooOld,          // older than what the head still accepts (before the last persisted block)
  kDuplicate,       // same timestamp as the newest sample, different value
  kInvalidLabels,   // empty, unsorted or repeated label names
  kSeriesLimit,     // a new series would exceed a cardinality limit
};

// The reason name used in logs and metrics labels: "out_of_order", "too_old", ...
std::string_view RejectName(Reject r);
// Builds a status carrying `r` (code InvalidArgument, or ResourceExhausted for limits).
absl::Status RejectError(Reject r, std::string_view message);
// kNone for OK and for statuses not made by RejectError.
Reject RejectOf(const absl::Status& s);

class Appender {
 public:
  virtual ~Appender() = default;

  // Adds one sample. `labels` must be sorted with unique names (model::Labels is). Returns
  // the series ref to use for this series next time.
  virtual absl::StatusOr<SeriesRef> Append(SeriesRef ref, const model::Labels& labels,
                                           int64_t t, double v) = 0;
  // The same for a series the caller holds a ref for, without building its labels: the hot
  // path of ingestion, where most series were seen before. Returns 0 (and appends nothing)
  // when the ref is not known or not usable, e.g. the series was garbage-collected; the
  // caller then calls Append with the labels. Errors are as for Append. The default
  // always answers 0, so an Appender need not implement it.
  virtual absl::StatusOr<SeriesRef> AppendRef(SeriesRef ref, int64_t t, double v) {
    (void)ref, (void)t, (void)v;
    return SeriesRef{0};
  }
  // A hint that `ref` will be appended to soon: the head starts loading the series' memory
  // so that a batch's cache misses overlap. Does nothing by default; never fails.
  virtual void Prefetch(SeriesRef ref) { (void)ref; }
  // Makes everything appended so far durable and visible; returns after the WAL write (and
  // fsync, with wal-sync=always). On error nothing of this batch is visible.
  virtual absl::Status Commit() = 0;
  // Drops everything appended since the last Commit.
  virtual void Rollback() = 0;
};

// Hands out Appenders. Implemented by storage::DB; ingest and rules depend only on this.
class Appendable {
 public:
  virtual ~Appendable() = default;
  virtual std::unique_ptr<Appender> NewAppender(std::string_view tenant) = 0;
};

}  // namespace vigil::storage
