// SymbolTable: the head's string interner. Every distinct label name and value held by
// the head is stored once here; series and postings refer to strings by a 32-bit id, so a
// million series sharing `__name__`="node_cpu_seconds_total" hold that string once.
//
// Ids are reference counted: a series takes one reference per label string when it is
// created and gives them back when it is garbage collected. An id whose count drops to
// zero is reused, so label churn does not grow the table forever.
//
// Thread-safety: all methods may be called concurrently. Intern/Find/Release take a
// mutex; Get is lock-free (it runs for every label comparison on the append path), which
// is safe because entries never move (fixed blocks) and a string is only rewritten after
// its last reference is released. The string_view from Get() stays valid while the
// caller holds (or knows some series holds) a reference on the id.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace vigil::storage::head {

using SymbolId = uint32_t;
inline constexpr SymbolId kNoSymbol = ~SymbolId{0};

class SymbolTable {
 public:
  SymbolTable();
  ~SymbolTable();
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;

  // Returns the id of `s`, adding it if absent, and takes one reference on it.
  SymbolId Intern(std::string_view s);
  // Returns the id of `s` without taking a reference, or kNoSymbol if absent.
  SymbolId Find(std::string_view s) const;
  // Drops one reference taken by Intern.
  void Release(SymbolId id);
  // The string of a live id. Lock-free.
  std::string_view Get(SymbolId id) const {
    return blocks_[id >> kBlockBits].load(std::memory_order_acquire)[id & kBlockMask].str;
  }

  // Number of live symbols and the bytes of their strings (for status pages).
  size_t size() const;
  size_t string_bytes() const;

 private:
  static constexpr int kBlockBits = 12;
  static constexpr uint32_t kBlockSize = 1u << kBlockBits;
  static constexpr uint32_t kBlockMask = kBlockSize - 1;
  static constexpr uint32_t kMaxBlocks = 1u << 16;  // 268M symbols

  struct Entry {
    std::string str;
    uint32_t refs = 0;
  };

  mutable std::mutex mu_;
  std::unique_ptr<std::atomic<Entry*>[]> blocks_;
  uint32_t next_ = 0;  // ids below this have been handed out at least once
  std::vector<SymbolId> free_;
  absl::flat_hash_map<std::string_view, SymbolId> ids_;
  size_t string_bytes_ = 0;
};

}  // namespace vigil::storage::head
