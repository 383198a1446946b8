#include "storage/head/mem_postings.h"

#include <algorithm>
#include <mutex>
#include <queue>

namespace vigil::storage::head {

void MemPostings::InsertSorted(RefList& list, Ref ref) {
  list.push_back(ref);
  // Walk back from the end: the new ref is nearly always the largest.
  for (size_t i = list.size() - 1; i > 0 && list[i - 1] > list[i]; i--) {
    std::swap(list[i - 1], list[i]);
  }
}

void MemPostings::EraseSorted(RefList& list, Ref ref) {
  auto it = std::lower_bound(list.begin(), list.end(), ref);
  if (it != list.end() && *it == ref) list.erase(it);
}

void MemPostings::Add(Ref ref, std::span<const SymbolId> pairs) {
  std::unique_lock lock(mu_);
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    InsertSorted(index_[pairs[i]][pairs[i + 1]], ref);
  }
  InsertSorted(all_, ref);
}

void MemPostings::Delete(Ref ref, std::span<const SymbolId> pairs) {
  std::unique_lock lock(mu_);
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    auto nit = index_.find(pairs[i]);
    if (nit == index_.end()) continue;
    auto vit = nit->second.find(pairs[i + 1]);
    if (vit == nit->second.end()) continue;
    EraseSorted(vit->second, ref);
    // Drop empty entries so that released symbol ids never linger as keys.
    if (vit->second.empty()) nit->second.erase(vit);
    if (nit->second.empty()) index_.erase(nit);
  }
  EraseSorted(all_, ref);
}

RefList MemPostings::Get(SymbolId name, SymbolId value) const {
  std::shared_lock lock(mu_);
  auto nit = index_.find(name);
  if (nit == index_.end()) return {};
  auto vit = nit->second.find(value);
  if (vit == nit->second.end()) return {};
  return vit->second;
}

RefList MemPostings::All() const {
  std::shared_lock lock(mu_);
  return all_;
}

size_t MemPostings::NumSeries() const {
  std::shared_lock lock(mu_);
  return all_.size();
}

std::vector<SymbolId> MemPostings::Values(SymbolId name) const {
  std::shared_lock lock(mu_);
  std::vector<SymbolId> out;
  auto nit = index_.find(name);
  if (nit == index_.end()) return out;
  out.reserve(nit->second.size());
  for (const auto& [value, refs] : nit->second) out.push_back(value);
  return out;
}

std::vector<SymbolId> MemPostings::Names() const {
  std::shared_lock lock(mu_);
  std::vector<SymbolId> out;
  out.reserve(index_.size());
  for (const auto& [name, values] : index_) out.push_back(name);
  return out;
}

RefList IntersectLists(std::vector<RefList> lists) {
  if (lists.empty()) return {};
  // Start from the shortest list and probe the others with a galloping search, so a
  // selective matcher (one instance) makes a broad one (a whole job) cheap.
  std::sort(lists.begin(), lists.end(),
            [](const RefList& a, const RefList& b) { return a.size() < b.size(); });
  RefList out = std::move(lists[0]);
  for (size_t i = 1; i < lists.size() && !out.empty(); i++) {
    const RefList& other = lists[i];
    size_t w = 0;
    auto lo = other.begin();
    for (Ref r : out) {
      lo = std::lower_bound(lo, other.end(), r);
      if (lo == other.end()) break;
      if (*lo == r) out[w++] = r;
    }
    out.resize(w);
  }
  return out;
}

RefList MergeLists(std::vector<RefList> lists) {
  if (lists.empty()) return {};
  if (lists.size() == 1) return std::move(lists[0]);
  size_t total = 0;
  for (const auto& l : lists) total += l.size();
  RefList out;
  out.reserve(total);
  for (const auto& l : lists) out.insert(out.end(), l.begin(), l.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

RefList WithoutList(const RefList& a, const RefList& b) {
  RefList out;
  out.reserve(a.size());
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace vigil::storage::head
