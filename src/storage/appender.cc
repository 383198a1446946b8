#include "storage/appender.h"

#include "absl/strings/cord.h"

namespace vigil::storage {
namespace {
constexpr std::string_view kRejectPayload = "type.vigil.dev/storage.Reject";
}  // namespace

std::string_view RejectName(Reject r) {
  switch (r) {
    case Reject::kNone: return "none";
    case Reject::kOutOfOrder: return "out_of_order";
    case Reject::kTooOld: return "too_old";
    case Reject::kDuplicate: return "duplicate_timestamp";
    case Reject::kInvalidLabels: return "invalid_labels";
    case Reject::kSeriesLimit: return "series_limit";
  }
  return "unknown";
}

absl::Status RejectError(Reject r, std::string_view message) {
  absl::Status s = r == Reject::kSeriesLimit ? absl::ResourceExhaustedError(std::string(message))
                                             : absl::InvalidArgumentError(std::string(message));
  s.SetPayload(std::string(kRejectPayload), absl::Cord(std::string(1, static_cast<char>(r))));
  return s;
}

Reject RejectOf(const absl::Status& s) {
  if (s.ok()) return Reject::kNone;
  auto p = s.GetPayload(std::string(kRejectPayload));
  if (!p.has_value() || p->size() != 1) return Reject::kNone;
  return static_cast<Reject>(std::string(*p)[0]);
}

}  // namespace vigil::storage
