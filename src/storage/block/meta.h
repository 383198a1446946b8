// meta.json: what a block covers, as Prometheus lays it out (camelCase keys).
//
// Thread-safety: plain values and stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/block/ulid.h"

namespace vigil::storage::block {

struct BlockMeta {
  Ulid ulid;
  int64_t min_time = 0;  // inclusive
  int64_t max_time = 0;  // exclusive, as in Prometheus
  uint64_t num_samples = 0;
  uint64_t num_series = 0;
  uint64_t num_chunks = 0;
  int level = 1;
  std::vector<Ulid> sources;  // the level-1 blocks this one was made from (itself at level 1)
  int version = 1;
};

std::string EncodeMeta(const BlockMeta& m);
// InvalidArgument/DataLoss naming the bad field.
absl::StatusOr<BlockMeta> DecodeMeta(std::string_view json);

}  // namespace vigil::storage::block
