#include "storage/block/meta.h"

#include "base/status.h"
#include "fmt/format.h"
#include "simdjson.h"
#include "storage/block/block_format.h"

namespace vigil::storage::block {

std::string EncodeMeta(const BlockMeta& m) {
  std::string sources;
  for (size_t i = 0; i < m.sources.size(); ++i) {
    sources += fmt::format("{}\"{}\"", i ? ", " : "", m.sources[i].ToString());
  }
  return fmt::format(
      "{{\n"
      "  \"ulid\": \"{}\",\n"
      "  \"minTime\": {},\n"
      "  \"maxTime\": {},\n"
      "  \"stats\": {{\"numSamples\": {}, \"numSeries\": {}, \"numChunks\": {}}},\n"
      "  \"compaction\": {{\"level\": {}, \"sources\": [{}]}},\n"
      "  \"version\": {}\n"
      "}}\n",
      m.ulid.ToString(), m.min_time, m.max_time, m.num_samples, m.num_series, m.num_chunks, m.level,
      sources, m.version);
}

absl::StatusOr<BlockMeta> DecodeMeta(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root); err) {
    return absl::DataLossError(fmt::format("meta.json: {}", simdjson::error_message(err)));
  }
  BlockMeta m;
  auto field = [](simdjson::error_code err, const char* name) -> absl::Status {
    if (err) return absl::DataLossError(fmt::format("meta.json: field {}: {}", name, simdjson::error_message(err)));
    return absl::OkStatus();
  };
  std::string_view ulid;
  RETURN_IF_ERROR(field(root["ulid"].get_string().get(ulid), "ulid"));
  ASSIGN_OR_RETURN(m.ulid, Ulid::Parse(ulid));
  RETURN_IF_ERROR(field(root["minTime"].get_int64().get(m.min_time), "minTime"));
  RETURN_IF_ERROR(field(root["maxTime"].get_int64().get(m.max_time), "maxTime"));
  RETURN_IF_ERROR(field(root["stats"]["numSamples"].get_uint64().get(m.num_samples), "stats.numSamples"));
  RETURN_IF_ERROR(field(root["stats"]["numSeries"].get_uint64().get(m.num_series), "stats.numSeries"));
  RETURN_IF_ERROR(field(root["stats"]["numChunks"].get_uint64().get(m.num_chunks), "stats.numChunks"));
  int64_t level = 0, version = 0;
  RETURN_IF_ERROR(field(root["compaction"]["level"].get_int64().get(level), "compaction.level"));
  RETURN_IF_ERROR(field(root["version"].get_int64().get(version), "version"));
  if (version != format::kMetaVersion1) {
    return absl::DataLossError(fmt::format("meta.json: unsupported version {}", version));
  }
  m.level = static_cast<int>(level);
  m.version = static_cast<int>(version);
  simdjson::dom::array sources;
  RETURN_IF_ERROR(field(root["compaction"]["sources"].get_array().get(sources), "compaction.sources"));
  for (auto s : sources) {
    std::string_view sv;
    RETURN_IF_ERROR(field(s.get_string().get(sv), "compaction.sources[]"));
    ASSIGN_OR_RETURN(Ulid u, Ulid::Parse(sv));
    m.sources.push_back(u);
  }
  return m;
}

}  // namespace vigil::storage::block
