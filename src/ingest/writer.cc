#include "ingest/writer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "base/log.h"
#include "fmt/format.h"

namespace vigil::ingest {
namespace {

constexpr std::string_view kTenantLabel = "__tenant__";
constexpr int kMaxExamples = 3;

std::string_view Msg(const absl::Status& s) { return {s.message().data(), s.message().size()}; }

}  // namespace

int64_t IngestOptions::Now() const {
  if (now_ms) return now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

IngestMetrics::IngestMetrics(metrics::Registry* registry) {
  if (registry == nullptr) return;
  // The same names and label sets as RemoteWriteIngester registers: the registry hands
  // both the same families.
  samples_ = registry->NewCounterFamily("vigil_ingest_samples_total",
                                        "Samples stored by ingestion, by protocol.", {"protocol"});
  rejected_ = registry->NewCounterFamily("vigil_ingest_samples_rejected_total",
                                         "Samples refused by ingestion, by protocol and reason.",
                                         {"protocol", "reason"});
  requests_ = registry->NewCounterFamily("vigil_ingest_requests_total",
                                         "Ingestion requests by protocol and result.",
                                         {"protocol", "result"});
  exemplars_ = registry->NewCounterFamily(
      "vigil_ingest_exemplars_total", "Exemplars stored or refused by ingestion, by protocol.",
      {"protocol", "result"});
}

void IngestMetrics::Exemplars(std::string_view protocol, int64_t stored, int64_t refused) {
  if (exemplars_ == nullptr) return;
  if (stored > 0) {
    exemplars_->WithLabelValues({std::string(protocol), "stored"})->Inc(static_cast<double>(stored));
  }
  if (refused > 0) {
    exemplars_->WithLabelValues({std::string(protocol), "refused"})->Inc(static_cast<double>(refused));
  }
}

void IngestMetrics::Stored(std::string_view protocol, int64_t n) {
  if (samples_ != nullptr && n > 0) {
    samples_->WithLabelValues({std::string(protocol)})->Inc(static_cast<double>(n));
  }
}

void IngestMetrics::Refused(std::string_view protocol, std::string_view reason, int64_t n) {
  if (rejected_ != nullptr && n > 0) {
    rejected_->WithLabelValues({std::string(protocol), std::string(reason)})
        ->Inc(static_cast<double>(n));
  }
}

void IngestMetrics::Request(std::string_view protocol, std::string_view result) {
  if (requests_ != nullptr) {
    requests_->WithLabelValues({std::string(protocol), std::string(result)})->Inc();
  }
}

absl::Status ValidateSeries(const model::Labels& labels) {
  if (labels.empty()) return absl::InvalidArgumentError("series has no labels");
  for (const auto& l : labels) {
    if (l.name.starts_with(kTenantLabel)) {
      return absl::InvalidArgumentError(
          fmt::format("label name \"{}\" is reserved in series {}", l.name, labels.ToString()));
    }
  }
  return labels.Validate();
}

void NormalizeLabels(model::Labels* labels) {
  std::vector<model::Label>& vec = labels->mutable_vec();
  std::erase_if(vec, [](const model::Label& l) { return l.value.empty(); });
  if (!std::is_sorted(vec.begin(), vec.end(),
                      [](const model::Label& a, const model::Label& b) { return a.name < b.name; })) {
    std::stable_sort(vec.begin(), vec.end(), [](const model::Label& a, const model::Label& b) {
      return a.name < b.name;
    });
  }
}

absl::StatusOr<int64_t> SecondsToMs(double seconds) {
  // 9.2e15 seconds is where int64 milliseconds end; stay well inside it.
  if (!std::isfinite(seconds) || std::fabs(seconds) > 9.2e15) {
    return absl::InvalidArgumentError(fmt::format("invalid timestamp {}", seconds));
  }
  return static_cast<int64_t>(std::llround(seconds * 1000.0));
}

std::string SanitizeName(std::string_view name, bool label) {
  std::string out;
  out.reserve(name.size() + 1);
  if (!name.empty() && name[0] >= '0' && name[0] <= '9') out.push_back('_');
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || (c == ':' && !label);
    out.push_back(ok ? c : '_');
  }
  return out;
}

BatchWriter::BatchWriter(storage::Appendable* db, std::string_view tenant,
                         std::string_view protocol, IngestMetrics* metrics,
                         const IngestOptions& opts)
    : db_(db),
      tenant_(tenant),
      protocol_(protocol),
      metrics_(metrics),
      max_t_(opts.Now() + opts.max_future_ms) {}

BatchWriter::~BatchWriter() {
  if (app_) app_->Rollback();
}

void BatchWriter::RefuseSeries(std::string_view reason, int64_t n, const model::Labels* labels,
                               std::string_view why) {
  auto it = refused_by_reason_.find(reason);
  if (it == refused_by_reason_.end()) it = refused_by_reason_.emplace(std::string(reason), 0).first;
  it->second += n;
  refused_ += n;
  if (static_cast<int>(examples_.size()) < kMaxExamples) {
    examples_.push_back(labels != nullptr && !labels->empty() &&
                                why.find(labels->ToString()) == std::string_view::npos
                            ? fmt::format("{}: {}", labels->ToString(), why)
                            : std::string(why));
  }
}

void BatchWriter::Refuse(std::string_view reason, int64_t n, std::string_view why) {
  RefuseSeries(reason, n, nullptr, why);
}

void BatchWriter::Add(model::Labels* labels, int64_t t, double v, storage::SeriesRef* ref) {
  if (!failure_.ok()) return;
  storage::SeriesRef local = 0;
  if (ref == nullptr) ref = &local;
  if (*ref == 0) {
    NormalizeLabels(labels);
    if (auto st = ValidateSeries(*labels); !st.ok()) {
      return RefuseSeries(kReasonInvalidLabels, 1, nullptr, Msg(st));
    }
  }
  if (t > max_t_) {
    return RefuseSeries(kReasonTooFarInFuture, 1, labels,
                        fmt::format("timestamp {} is too far in the future", t));
  }
  if (!app_) app_ = db_->NewAppender(tenant_);
  absl::StatusOr<storage::SeriesRef> got = app_->Append(*ref, *labels, t, v);
  if (!got.ok()) {
    storage::Reject why = storage::RejectOf(got.status());
    if (why == storage::Reject::kNone) {
      failure_ = got.status();
      return;
    }
    return RefuseSeries(storage::RejectName(why), 1, labels, Msg(got.status()));
  }
  *ref = *got;
  ++stored_;
}

WriteResult BatchWriter::Finish() {
  WriteResult result;
  if (failure_.ok() && app_) failure_ = app_->Commit();
  app_.reset();
  if (!failure_.ok()) {
    metrics_->Request(protocol_, "internal_error");
    VLOG_ERROR("ingest", "{}: cannot store samples: {}", protocol_, Msg(failure_));
    return {500, fmt::format("cannot store samples: {}", Msg(failure_)), 0, 0, 0};
  }
  result.samples_stored = stored_;
  result.samples_refused = refused_;
  metrics_->Stored(protocol_, stored_);
  for (const auto& [reason, n] : refused_by_reason_) metrics_->Refused(protocol_, reason, n);
  if (refused_ == 0) {
    metrics_->Request(protocol_, "success");
    return result;
  }
  metrics_->Request(protocol_, "partial");
  std::string reasons;
  for (const auto& [reason, n] : refused_by_reason_) {
    if (!reasons.empty()) reasons += ", ";
    reasons += fmt::format("{} {}", n, reason);
  }
  result.http_status = 400;
  result.message = fmt::format("{} of {} samples refused ({}); stored the other {}; first: {}",
                               refused_, refused_ + stored_, reasons, stored_,
                               fmt::join(examples_, "; "));
  return result;
}

}  // namespace vigil::ingest

#include "ingest/decoded.h"

namespace vigil::ingest {

WriteResult WriteBatch(DecodedBatch* batch, BatchWriter* w) {
  for (const auto& r : batch->refusals) w->Refuse(r.reason, r.n, r.why);
  storage::SeriesRef ref = 0;
  const model::Labels* prev = nullptr;
  for (PendingSample& s : batch->samples) {
    if (prev == nullptr || !(*prev == s.labels)) ref = 0;
    w->Add(&s.labels, s.t, s.v, &ref);
    prev = &s.labels;
  }
  return w->Finish();
}

void StoreExemplars(const DecodedBatch& batch, std::string_view tenant, std::string_view protocol,
                    storage::ExemplarAppendable* st, IngestMetrics* metrics) {
  if (st == nullptr || batch.exemplars.empty()) return;
  std::vector<storage::ExemplarAppendable::SeriesExemplar> todo;
  todo.reserve(batch.exemplars.size());
  for (const DecodedBatch::SampleExemplar& e : batch.exemplars) {
    todo.push_back({&batch.samples[e.sample].labels, e.exemplar});
  }
  std::vector<absl::Status> results(todo.size());
  st->AppendExemplars(tenant, todo, results);
  int64_t refused = 0;
  for (const absl::Status& r : results) {
    if (r.ok()) continue;
    if (refused++ == 0) {
      VLOG_DEBUG("ingest", "{}: exemplar refused: {}", protocol, std::string(r.message()));
    }
  }
  metrics->Exemplars(protocol, static_cast<int64_t>(results.size()) - refused, refused);
}

}  // namespace vigil::ingest
