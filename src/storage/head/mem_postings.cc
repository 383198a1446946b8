#include "storage/head/mem_postings.h"

#include <algorithm>
#include <mutex>

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

namespace {

// The first position in [from, end) whose ref is >= r. The step doubles until it passes r,
// then the last step is searched, so walking a long list for a few refs costs
// O(log gap) per ref instead of a scan.
RefList::const_iterator SeekFrom(RefList::const_iterator from, RefList::const_iterator end, Ref r) {
  ptrdiff_t step = 1;
  while (step < end - from && from[step] < r) {
    from += step;
    step *= 2;
  }
  return std::lower_bound(from, from + std::min(step, end - from), r);
}

}  // namespace

RefList MemPostings::Intersect(std::span<const std::pair<SymbolId, SymbolId>> pairs) const {
  std::shared_lock lock(mu_);
  std::vector<const RefList*> lists;
  lists.reserve(pairs.size());
  for (const auto& [name, value] : pairs) {
    auto nit = index_.find(name);
    if (nit == index_.end()) return {};
    auto vit = nit->second.find(value);
    if (vit == nit->second.end()) return {};
    lists.push_back(&vit->second);
  }
  if (lists.empty()) return {};
  std::sort(lists.begin(), lists.end(),
            [](const RefList* a, const RefList* b) { return a->size() < b->size(); });
  RefList out = *lists[0];
  for (size_t i = 1; i < lists.size() && !out.empty(); ++i) {
    auto at = lists[i]->begin();
    const auto end = lists[i]->end();
    size_t kept = 0;
    for (Ref r : out) {
      at = SeekFrom(at, end, r);
      if (at == end) break;
      if (*at == r) out[kept++] = r;
    }
    out.resize(kept);
  }
  return out;
}

RefList MemPostings::All() const {
  std::shared_lock lock(mu_);
  return all_;
}

size_t MemPostings::NumSeries() const {
  std::shared_lock lock(mu_);
  return all_.size();
}

bool MemPostings::ListIfAllHave(SymbolId pair_name, SymbolId pair_value, SymbolId name,
                                std::vector<SymbolId>* out) const {
  std::shared_lock lock(mu_);
  auto nit = index_.find(pair_name);
  if (nit == index_.end()) return false;
  auto vit = nit->second.find(pair_value);
  if (vit == nit->second.end() || vit->second.size() != all_.size()) return false;
  out->clear();
  if (name == kNoSymbol) {
    for (const auto& [n, values] : index_) out->push_back(n);
    return true;
  }
  auto it = index_.find(name);
  if (it != index_.end()) {
    for (const auto& [v, refs] : it->second) out->push_back(v);
  }
  return true;
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

}  // namespace vigil::storage::head
