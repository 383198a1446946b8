// Fuzzes the block index reader: Open on untrusted bytes, then every lookup it offers.
// Must never crash, hang or read out of bounds; corruption is a Status.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "storage/index/index.h"

using namespace vigil::storage::index;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = IndexReader::Open(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!r.ok()) return 0;
  const IndexReader& ir = **r;
  for (auto name : ir.LabelNames()) {
    for (auto value : ir.LabelValues(name)) {
      auto p = ir.Postings(name, value);
      (void)ExpandPostings(*p);
    }
  }
  vigil::model::Labels labels;
  std::vector<ChunkMetaRef> chunks;
  for (uint64_t id = 0; id < ir.num_series() && id < 100000; ++id) (void)ir.Series(id, &labels, &chunks);
  auto all = ir.AllPostings();
  while (all->Next()) (void)ir.Series(all->At(), &labels, &chunks);
  return 0;
}
