// Exemplars: the small interfaces through which ingestion and scraping store exemplars
// (a trace id or other labels, a value and a timestamp hanging off a sample) and the query
// API reads them back. The store is storage/exemplar/circular_storage.h, an in-memory ring
// per tenant, as Prometheus keeps exemplars; storage::DB is the ExemplarAppendable that
// writes exemplars to its WAL before it hands them to that store, and replays them into
// it at startup, so they survive a restart.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <bit>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/labels.h"
#include "model/matcher.h"

namespace vigil::storage {

struct Exemplar {
  model::Labels labels;  // e.g. {trace_id="abc"}; may be empty
  double value = 0;
  int64_t t = 0;  // milliseconds

  // Values compare by bits, so a NaN exemplar repeated is still a duplicate.
  friend bool operator==(const Exemplar& a, const Exemplar& b) {
    return a.t == b.t && std::bit_cast<uint64_t>(a.value) == std::bit_cast<uint64_t>(b.value) &&
           a.labels == b.labels;
  }
};

// Prometheus's limit on an exemplar's label set: the names and values together hold at
// most this many UTF-8 characters (OpenMetrics 1.0).
inline constexpr size_t kExemplarMaxLabelSetRunes = 128;

class ExemplarAppendable {
 public:
  virtual ~ExemplarAppendable() = default;
  // Adds `e` to the series `series` (sorted labels, __name__ included) of `tenant`.
  // An exemplar equal to the series' newest one is a duplicate: nothing is added and the
  // answer is OK (scrapes expose the same exemplar until a new one replaces it). Errors:
  // InvalidArgument for bad exemplar labels (invalid names or UTF-8, repeats, more than
  // kExemplarMaxLabelSetRunes characters), OutOfRange for an exemplar not
  // newer than the series' newest ("out of order exemplar").
  virtual absl::Status AppendExemplar(std::string_view tenant, const model::Labels& series,
                                      const Exemplar& e) = 0;

  // One exemplar of a batch: `series` (not owned) must outlive the call.
  struct SeriesExemplar {
    const model::Labels* series = nullptr;
    Exemplar exemplar;
  };
  // Appends each exemplar of `batch` as AppendExemplar does and sets results[i] to the
  // answer for batch[i] (`results` has batch.size() elements). The DB logs a whole batch
  // with one WAL write, so callers with several exemplars (a scrape, a request) use this.
  virtual void AppendExemplars(std::string_view tenant, std::span<const SeriesExemplar> batch,
                               std::span<absl::Status> results) {
    for (size_t i = 0; i < batch.size(); ++i) {
      results[i] = AppendExemplar(tenant, *batch[i].series, batch[i].exemplar);
    }
  }
};

struct ExemplarQueryResult {
  model::Labels series_labels;
  std::vector<Exemplar> exemplars;  // oldest first
};

class ExemplarQueryable {
 public:
  virtual ~ExemplarQueryable() = default;
  // The exemplars of `tenant` with start <= t <= end of every series matched by at least
  // one of `matcher_sets`, sorted by series labels. No sets: nothing.
  virtual std::vector<ExemplarQueryResult> SelectExemplars(
      std::string_view tenant, int64_t start, int64_t end,
      const std::vector<model::Matchers>& matcher_sets) const = 0;
};

// What the DB needs of the store it logs for: a dry run of AppendExemplar, so that only
// exemplars the store will keep are written to the WAL (a scrape repeats its exemplars
// until the client replaces them, and logging every repeat would grow the WAL for nothing).
class ExemplarStore : public ExemplarAppendable, public ExemplarQueryable {
 public:
  // True if AppendExemplar(tenant, series, e) would add `e` now; false if it would accept
  // and drop it (a duplicate of the series' newest, or a store sized 0); otherwise the
  // error AppendExemplar would return.
  virtual absl::StatusOr<bool> CheckExemplar(std::string_view tenant, const model::Labels& series,
                                             const Exemplar& e) const = 0;
};

}  // namespace vigil::storage
