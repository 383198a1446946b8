#include "storage/head/symbols.h"

#include "base/status.h"

namespace vigil::storage::head {

SymbolTable::SymbolTable() : blocks_(new std::atomic<Entry*>[kMaxBlocks]) {
  for (uint32_t i = 0; i < kMaxBlocks; i++) blocks_[i].store(nullptr, std::memory_order_relaxed);
}

SymbolTable::~SymbolTable() {
  for (uint32_t i = 0; i < kMaxBlocks; i++) delete[] blocks_[i].load(std::memory_order_relaxed);
}

SymbolId SymbolTable::Intern(std::string_view s) {
  // Interning happens only when a series is created, so one exclusive lock is enough.
  std::lock_guard lock(mu_);
  auto it = ids_.find(s);
  if (it != ids_.end()) {
    blocks_[it->second >> kBlockBits].load(std::memory_order_relaxed)[it->second & kBlockMask]
        .refs++;
    return it->second;
  }
  SymbolId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = next_++;
    VIGIL_CHECK(id < kMaxBlocks * kBlockSize);
    if ((id & kBlockMask) == 0) {
      blocks_[id >> kBlockBits].store(new Entry[kBlockSize], std::memory_order_release);
    }
  }
  Entry& e = blocks_[id >> kBlockBits].load(std::memory_order_relaxed)[id & kBlockMask];
  e.str.assign(s.data(), s.size());
  e.refs = 1;
  string_bytes_ += e.str.size();
  ids_.emplace(std::string_view(e.str), id);
  return id;
}

SymbolId SymbolTable::Find(std::string_view s) const {
  std::lock_guard lock(mu_);
  auto it = ids_.find(s);
  return it == ids_.end() ? kNoSymbol : it->second;
}

void SymbolTable::Release(SymbolId id) {
  std::lock_guard lock(mu_);
  VIGIL_CHECK(id < next_);
  Entry& e = blocks_[id >> kBlockBits].load(std::memory_order_relaxed)[id & kBlockMask];
  VIGIL_CHECK(e.refs > 0);
  if (--e.refs > 0) return;
  ids_.erase(std::string_view(e.str));
  string_bytes_ -= e.str.size();
  e.str.clear();
  e.str.shrink_to_fit();
  free_.push_back(id);
}

size_t SymbolTable::size() const {
  std::lock_guard lock(mu_);
  return ids_.size();
}

size_t SymbolTable::string_bytes() const {
  std::lock_guard lock(mu_);
  return string_bytes_;
}

}  // namespace vigil::storage::head
