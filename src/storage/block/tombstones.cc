#include "storage/block/tombstones.h"

#include <algorithm>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "fmt/format.h"
#include "storage/block/block_format.h"

namespace vigil::storage::block {

void AddInterval(Intervals* ivs, Interval iv) {
  if (iv.mint > iv.maxt) return;
  Intervals out;
  bool placed = false;
  for (const auto& x : *ivs) {
    // Adjacent or overlapping: merge (careful with the ends of the int64 range).
    bool before = x.maxt < iv.mint && x.maxt + 1 < iv.mint;
    bool after = iv.maxt < x.mint && iv.maxt + 1 < x.mint;
    if (before) {
      out.push_back(x);
    } else if (after) {
      if (!placed) {
        out.push_back(iv);
        placed = true;
      }
      out.push_back(x);
    } else {
      iv.mint = std::min(iv.mint, x.mint);
      iv.maxt = std::max(iv.maxt, x.maxt);
    }
  }
  if (!placed) out.push_back(iv);
  *ivs = std::move(out);
}

bool IsDeleted(const Intervals& ivs, int64_t t) {
  auto it = std::upper_bound(ivs.begin(), ivs.end(), t,
                             [](int64_t v, const Interval& iv) { return v < iv.mint; });
  if (it == ivs.begin()) return false;
  --it;
  return t <= it->maxt;
}

const Intervals& Tombstones::Get(uint64_t series) const {
  static const Intervals kEmpty;
  auto it = m_.find(series);
  return it == m_.end() ? kEmpty : it->second;
}

std::string Tombstones::Encode() const {
  Encbuf e;
  e.PutBE32(format::kTombstonesMagic);
  e.PutByte(format::kTombstonesVersion1);
  size_t n = 0;
  for (const auto& [_, ivs] : m_) n += ivs.size();
  e.PutUvarint(n);
  for (const auto& [id, ivs] : m_) {
    for (const auto& iv : ivs) {
      e.PutUvarint(id);
      e.PutVarint(iv.mint);
      e.PutVarint(iv.maxt);
    }
  }
  e.PutBE32(crc32c::Value(e.str()));
  return e.Release();
}

absl::StatusOr<Tombstones> Tombstones::Decode(std::string_view b) {
  if (b.size() < 9) return absl::DataLossError(fmt::format("tombstones: {} bytes is too short", b.size()));
  Decbuf crc(b.substr(b.size() - 4));
  if (crc.BE32() != crc32c::Value(b.data(), b.size() - 4)) return absl::DataLossError("tombstones: crc mismatch");
  Decbuf d(b.substr(0, b.size() - 4));
  if (d.BE32() != format::kTombstonesMagic) return absl::DataLossError("tombstones: bad magic");
  if (uint8_t v = d.Byte(); v != format::kTombstonesVersion1) {
    return absl::DataLossError(fmt::format("tombstones: unsupported version {}", v));
  }
  Tombstones t;
  uint64_t n = d.Uvarint();
  for (uint64_t i = 0; i < n && d.ok(); ++i) {
    uint64_t id = d.Uvarint();
    int64_t mint = d.Varint(), maxt = d.Varint();
    if (d.ok()) t.Add(id, {mint, maxt});
  }
  if (!d.ok()) return absl::DataLossError(fmt::format("tombstones: {}", std::string(d.err().message())));
  if (d.remaining() != 0) return absl::DataLossError("tombstones: trailing bytes");
  return t;
}

}  // namespace vigil::storage::block
