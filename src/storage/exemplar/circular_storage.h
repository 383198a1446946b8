// CircularExemplarStorage: exemplars in memory, one fixed-size ring per tenant, as
// Prometheus's exemplar storage keeps them (storage.exemplars.max_exemplars, default
// 100000 per tenant).
//
// Each tenant's ring holds at most `max_exemplars` entries; when full, a new exemplar
// overwrites the oldest one of the tenant, whatever its series. Every series with
// exemplars in the ring has an index entry pointing at its oldest and newest exemplar, and
// the entries of one series are chained oldest to newest, so a query walks only the
// series it selects. Per series exemplars are kept in timestamp order: one not newer than
// the series' newest is refused as out of order, and one equal to the newest is a
// duplicate, dropped silently (a scrape repeats an exemplar until the client replaces it).
//
// The rings live in memory; durability is the DB's job: storage::DB logs each exemplar
// this storage would keep (CheckExemplar) to its WAL before appending it here, and replays
// the WAL's exemplar records into it at startup, as Prometheus's head does.
//
// Memory: a ring grows as exemplars arrive, up to max_exemplars entries (about 100 bytes
// each with a short trace id), so an idle tenant costs nothing.
//
// Thread-safety: thread-safe. Appends and queries of one tenant serialize on the
// tenant's mutex; different tenants do not contend.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "storage/exemplars.h"

namespace vigil::storage::exemplar {

// Checks an exemplar's labels: valid names and UTF-8 values, no repeats, and at most
// kExemplarMaxLabelSetRunes characters in all.
absl::Status ValidateExemplar(const Exemplar& e);

class CircularExemplarStorage : public ExemplarStore {
 public:
  // `max_exemplars` per tenant; 0 stores nothing (appends are accepted and dropped).
  explicit CircularExemplarStorage(int64_t max_exemplars);
  ~CircularExemplarStorage() override;

  absl::Status AppendExemplar(std::string_view tenant, const model::Labels& series,
                              const Exemplar& e) override;
  absl::StatusOr<bool> CheckExemplar(std::string_view tenant, const model::Labels& series,
                                     const Exemplar& e) const override;
  std::vector<ExemplarQueryResult> SelectExemplars(
      std::string_view tenant, int64_t start, int64_t end,
      const std::vector<model::Matchers>& matcher_sets) const override;

  // Changes the ring size of every tenant (a configuration reload), keeping the newest
  // exemplars that fit.
  void Resize(int64_t max_exemplars);

  int64_t max_exemplars() const;
  // Exemplars held for `tenant` now.
  int64_t Size(std::string_view tenant) const;

 private:
  class Ring;
  mutable std::mutex mu_;  // guards the fields below, not the rings' contents
  int64_t max_ = 0;
  std::map<std::string, std::unique_ptr<Ring>, std::less<>> rings_;
};

}  // namespace vigil::storage::exemplar
