// Fuzzes the remote_write path: the zero-copy WriteRequest reader against libprotobuf's
// generated parser (the reference), snappy decompression, and the ingester's per-series
// validation on whatever decodes.
//
// Checked on every input:
//   - if libprotobuf parses the bytes, Vigil's reader does too and sees exactly the same
//     series, labels, samples (bit for bit), exemplar labels and metadata;
//   - if Vigil's reader accepts bytes libprotobuf refuses, the only allowed reason is a
//     string that is not valid UTF-8 (which Vigil checks per series, not per request):
//     the same bytes must then parse with a copy of the schema whose strings are `bytes`;
//   - nothing crashes, leaks or trips a sanitizer in decode, snappy or ingestion.
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/stubs/logging.h"
#include "ingest/remote_write.h"
#include "ingest/remote_write_decoder.h"
#include "model/labels.h"
#include "remote_write.pb.h"

namespace {

using vigil::ingest::WriteRequestView;

void Check(bool cond, const char* what) {
  if (!cond) {
    std::fprintf(stderr, "remote_write_fuzzer: mismatch: %s\n", what);
    std::abort();
  }
}

class NullAppender : public vigil::storage::Appender {
 public:
  absl::StatusOr<vigil::storage::SeriesRef> Append(vigil::storage::SeriesRef ref,
                                                   const vigil::model::Labels& labels, int64_t,
                                                   double) override {
    return ref != 0 ? ref : labels.Hash() | 1;
  }
  absl::Status Commit() override { return absl::OkStatus(); }
  void Rollback() override {}
};

class NullDb : public vigil::storage::Appendable {
 public:
  std::unique_ptr<vigil::storage::Appender> NewAppender(std::string_view) override {
    return std::make_unique<NullAppender>();
  }
};

// WriteRequest with every string field turned into bytes: libprotobuf parses it like the
// real schema minus the UTF-8 checks.
const google::protobuf::Message* BytesSchemaPrototype() {
  using google::protobuf::FieldDescriptorProto;
  static const google::protobuf::Message* proto = [] {
    google::protobuf::FileDescriptorProto fdp;
    prometheus::WriteRequest::descriptor()->file()->CopyTo(&fdp);
    fdp.set_name("remote_write_bytes.proto");
    for (auto& m : *fdp.mutable_message_type()) {
      for (auto& f : *m.mutable_field()) {
        if (f.type() == FieldDescriptorProto::TYPE_STRING) f.set_type(FieldDescriptorProto::TYPE_BYTES);
      }
    }
    static auto* pool = new google::protobuf::DescriptorPool();
    const google::protobuf::FileDescriptor* fd = pool->BuildFile(fdp);
    Check(fd != nullptr, "building the bytes schema");
    static auto* factory = new google::protobuf::DynamicMessageFactory(pool);
    return factory->GetPrototype(fd->FindMessageTypeByName("WriteRequest"));
  }();
  return proto;
}

bool ParsesWithoutUtf8Checks(std::string_view data) {
  std::unique_ptr<google::protobuf::Message> m(BytesSchemaPrototype()->New());
  return m->ParseFromArray(data.data(), static_cast<int>(data.size()));
}

void CompareWithReference(std::string_view data) {
  static WriteRequestView* view = new WriteRequestView();
  absl::Status s = vigil::ingest::DecodeWriteRequest(data, view);
  prometheus::WriteRequest ref;
  const bool ref_ok = ref.ParseFromArray(data.data(), static_cast<int>(data.size()));
  if (!ref_ok) {
    if (s.ok()) Check(ParsesWithoutUtf8Checks(data), "accepted bytes libprotobuf refuses");
    return;
  }
  Check(s.ok(), "refused bytes libprotobuf accepts");
  Check(view->series.size() == static_cast<size_t>(ref.timeseries_size()), "series count");
  size_t exemplar_label = 0;
  size_t exemplar = 0;
  for (int i = 0; i < ref.timeseries_size(); ++i) {
    const auto& ts = ref.timeseries(i);
    const auto& sv = view->series[i];
    std::vector<vigil::ingest::LabelView> labels;
    vigil::ingest::AppendLabels(*view, sv, &labels);
    Check(labels.size() == static_cast<size_t>(ts.labels_size()), "labels count");
    for (int j = 0; j < ts.labels_size(); ++j) {
      const auto& l = labels[j];
      Check(l.name == ts.labels(j).name() && l.value == ts.labels(j).value(), "label");
    }
    Check(sv.samples_end - sv.samples_begin == static_cast<uint32_t>(ts.samples_size()), "samples count");
    for (int j = 0; j < ts.samples_size(); ++j) {
      const auto& smp = view->samples[sv.samples_begin + j];
      Check(smp.t == ts.samples(j).timestamp(), "timestamp");
      Check(std::bit_cast<uint64_t>(smp.v) == std::bit_cast<uint64_t>(ts.samples(j).value()), "value");
    }
    Check(sv.exemplars == static_cast<uint32_t>(ts.exemplars_size()), "exemplars count");
    for (const auto& ex : ts.exemplars()) {
      Check(exemplar < view->exemplars.size(), "exemplars total");
      const auto& ev = view->exemplars[exemplar++];
      Check(ev.series == static_cast<uint32_t>(i) && ev.t == ex.timestamp() &&
                std::bit_cast<uint64_t>(ev.value) == std::bit_cast<uint64_t>(ex.value()) &&
                ev.labels_begin == exemplar_label &&
                ev.labels_end == exemplar_label + static_cast<size_t>(ex.labels_size()),
            "exemplar");
      for (const auto& l : ex.labels()) {
        Check(exemplar_label < view->exemplar_labels.size(), "exemplar labels count");
        const auto& got = view->exemplar_labels[exemplar_label++];
        Check(got.name == l.name() && got.value == l.value(), "exemplar label");
      }
    }
  }
  Check(exemplar_label == view->exemplar_labels.size(), "exemplar labels total");
  Check(exemplar == view->exemplars.size(), "exemplars count total");
  Check(view->metadata.size() == static_cast<size_t>(ref.metadata_size()), "metadata count");
  for (int i = 0; i < ref.metadata_size(); ++i) {
    const auto& m = ref.metadata(i);
    const auto& got = view->metadata[i];
    Check(got.type == static_cast<int32_t>(m.type()), "metadata type");
    Check(got.metric_family_name == m.metric_family_name() && got.help == m.help() &&
              got.unit == m.unit(),
          "metadata strings");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool init = [] {
    google::protobuf::SetLogHandler(nullptr);  // libprotobuf logs every UTF-8 refusal
    return true;
  }();
  (void)init;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CompareWithReference(bytes);

  // The same bytes through the ingester, once as a decoded body and once as snappy.
  static NullDb* db = new NullDb();
  static vigil::ingest::RemoteWriteIngester* ing = [] {
    vigil::ingest::RemoteWriteOptions opts;
    opts.now_ms = [] { return int64_t{1'700'000'000'000}; };
    opts.max_decompressed_bytes = 1 << 20;
    opts.ref_cache_entries = 1024;
    return new vigil::ingest::RemoteWriteIngester(db, nullptr, opts);
  }();
  ing->WriteDecoded("default", bytes);
  ing->Write("default", bytes);
  return 0;
}
