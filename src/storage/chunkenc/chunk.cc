#include "storage/chunkenc/chunk.h"

#include "fmt/format.h"
#include "storage/chunkenc/block_codec.h"
#include "storage/chunkenc/chunk_format.h"
#include "storage/chunkenc/xor.h"

namespace vigil::storage::chunkenc {
namespace {

class ErrIterator final : public Iterator {
 public:
  explicit ErrIterator(absl::Status err) : err_(std::move(err)) {}
  bool Next() override { return false; }
  bool Seek(int64_t) override { return false; }
  model::Sample At() const override { return {0, 0}; }
  absl::Status Err() const override { return err_; }

 private:
  absl::Status err_;
};

}  // namespace

void Iterator::AppendRange(int64_t mint, int64_t maxt, std::vector<model::Sample>* out) {
  model::AppendRangeBySteps(*this, mint, maxt, out);
}

std::string_view EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kNone:
      return "none";
    case Encoding::kXor:
      return "xor";
    case Encoding::kBlock:
      return "block";
  }
  return "unknown";
}

bool IsKnownEncoding(uint8_t e) {
  return e == static_cast<uint8_t>(Encoding::kXor) || e == static_cast<uint8_t>(Encoding::kBlock);
}

absl::StatusOr<std::unique_ptr<Chunk>> NewChunk(Encoding e) {
  if (e == Encoding::kXor) return std::make_unique<XorChunk>();
  return absl::InvalidArgumentError(
      fmt::format("new chunk: encoding {} ({}) is not appendable", EncodingName(e), static_cast<int>(e)));
}

absl::StatusOr<std::unique_ptr<Chunk>> FromData(Encoding e, std::string_view bytes) {
  if (bytes.size() < format::kCountBytes) {
    return absl::DataLossError(fmt::format("{} chunk: {} bytes is shorter than its header",
                                           EncodingName(e), bytes.size()));
  }
  switch (e) {
    case Encoding::kXor:
      return std::make_unique<XorChunk>(std::string(bytes));
    case Encoding::kBlock:
      return std::make_unique<BlockChunk>(std::string(bytes));
    default:
      break;
  }
  return absl::DataLossError(fmt::format("chunk: unknown encoding {}", static_cast<int>(e)));
}

std::unique_ptr<Iterator> NewIterator(Encoding e, std::string_view bytes) {
  switch (e) {
    case Encoding::kXor:
      return std::make_unique<XorIterator>(bytes);
    case Encoding::kBlock:
      return NewBlockIterator(bytes);
    default:
      break;
  }
  return NewErrIterator(
      absl::DataLossError(fmt::format("chunk: unknown encoding {}", static_cast<int>(e))));
}

std::unique_ptr<Iterator> NewErrIterator(absl::Status err) {
  return std::make_unique<ErrIterator>(std::move(err));
}

}  // namespace vigil::storage::chunkenc
