// MemPostings: the head's inverted index. For every (label name, label value) pair held by
// some head series, the sorted list of the refs of those series; plus the list of all refs.
//
// Refs are handed out by a counter, so a new series almost always lands at the end of
// its lists (appends stay O(1)); replay and concurrent creation may insert slightly out
// of order, which Add handles with a short insertion from the back.
//
// Thread-safety: all methods may be called concurrently (a reader-writer lock). Lists are
// returned as copies, so callers never hold the lock while they intersect.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "storage/head/symbols.h"

namespace vigil::storage::head {

using Ref = uint64_t;
using RefList = std::vector<Ref>;

class MemPostings {
 public:
  // `pairs` holds name, value, name, value, ... symbol ids.
  void Add(Ref ref, std::span<const SymbolId> pairs);
  void Delete(Ref ref, std::span<const SymbolId> pairs);

  RefList Get(SymbolId name, SymbolId value) const;
  // The refs in the lists of every (name, value) pair, intersected under the lock: only
  // the shortest list is copied, so a selector's list (hundreds of refs) is not paid for
  // with a copy of its tenant's (every series). Empty if a pair has no list or none given.
  RefList Intersect(std::span<const std::pair<SymbolId, SymbolId>> pairs) const;
  RefList All() const;
  size_t NumSeries() const;
  // Appends to `out` the lists of every value of `name` accepted by `pred(value_id)`.
  template <typename Pred>
  void CollectValues(SymbolId name, Pred pred, std::vector<RefList>* out) const {
    std::shared_lock lock(mu_);
    auto it = index_.find(name);
    if (it == index_.end()) return;
    for (const auto& [value, refs] : it->second) {
      if (pred(value)) out->push_back(refs);
    }
  }
  // If every series carries the pair (pair_name, pair_value), sets `out` to the value ids
  // of `name` (or to all name ids if `name` is kNoSymbol) and returns true; checked and
  // collected under one lock, so a series added meanwhile cannot slip in.
  bool ListIfAllHave(SymbolId pair_name, SymbolId pair_value, SymbolId name,
                     std::vector<SymbolId>* out) const;
  // Value ids of `name` (unsorted).
  std::vector<SymbolId> Values(SymbolId name) const;
  // Name ids (unsorted).
  std::vector<SymbolId> Names() const;
  // Calls fn(name, value, num_refs) for every pair (for status pages).
  template <typename Fn>
  void ForEachPair(Fn fn) const {
    std::shared_lock lock(mu_);
    for (const auto& [name, values] : index_) {
      for (const auto& [value, refs] : values) fn(name, value, refs.size());
    }
  }

 private:
  static void InsertSorted(RefList& list, Ref ref);
  static void EraseSorted(RefList& list, Ref ref);

  mutable std::shared_mutex mu_;
  absl::flat_hash_map<SymbolId, absl::flat_hash_map<SymbolId, RefList>> index_;
  RefList all_;
};

}  // namespace vigil::storage::head
