#include "http/self_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "storage/appender.h"

namespace vigil::http {
namespace {

using metrics::FamilySnapshot;
using metrics::Type;

void Add(std::vector<FamilySnapshot>* out, std::string name, std::string help, Type type,
         double v) {
  out->push_back({std::move(name), std::move(help), type, {{{}, v}}});
}

std::string ReadAll(const char* path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void CollectProcess(std::vector<FamilySnapshot>* out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // /proc/self/stat: the command name may hold spaces, so fields are counted after ')'.
  std::string stat = ReadAll("/proc/self/stat");
  size_t rp = stat.rfind(')');
  if (rp != std::string::npos) {
    std::istringstream in(stat.substr(rp + 2));
    std::vector<std::string> f;
    std::string tok;
    while (in >> tok) f.push_back(tok);
    // f[0] is field 3 (state); utime=14, stime=15, starttime=22, vsize=23, rss=24.
    if (f.size() > 22) {
      double utime = std::stod(f[14 - 3]), stime = std::stod(f[15 - 3]);
      Add(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
          Type::kCounter, (utime + stime) / ticks);
      Add(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", Type::kGauge,
          std::stod(f[23 - 3]));
      Add(out, "process_resident_memory_bytes", "Resident memory size in bytes.", Type::kGauge,
          std::stod(f[24 - 3]) * page);
      // starttime is in ticks since boot; boot time is in /proc/stat as btime.
      std::istringstream ps(ReadAll("/proc/stat"));
      std::string line;
      while (std::getline(ps, line)) {
        if (line.rfind("btime ", 0) == 0) {
          double btime = std::stod(line.substr(6));
          Add(out, "process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.", Type::kGauge,
              btime + std::stod(f[22 - 3]) / ticks);
          break;
        }
      }
    }
  }
  int fds = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++fds;
    }
    closedir(d);
    --fds;  // the directory stream itself
  }
  Add(out, "process_open_fds", "Number of open file descriptors.", Type::kGauge, fds);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    Add(out, "process_max_fds", "Maximum number of open file descriptors.", Type::kGauge,
        static_cast<double>(rl.rlim_cur));
  }
}

void CollectStorage(const storage::DB* db, std::vector<FamilySnapshot>* out) {
  const storage::Stats s = db->GetStats();
  // Each figure under Vigil's name and, where Prometheus has the same figure, its name too.
  auto both = [&](std::string_view vigil_name, std::string_view prom_name, std::string help,
                  Type type, double v) {
    Add(out, std::string(vigil_name), help, type, v);
    if (!prom_name.empty()) Add(out, std::string(prom_name), help, type, v);
  };
  both("vigil_tsdb_head_series", "prometheus_tsdb_head_series", "Series in the head block.",
       Type::kGauge, s.head_series);
  both("vigil_tsdb_head_chunks", "prometheus_tsdb_head_chunks", "Chunks in the head block.",
       Type::kGauge, s.head_chunks);
  both("vigil_tsdb_head_min_time", "prometheus_tsdb_head_min_time",
       "Lowest timestamp in the head (ms).", Type::kGauge, s.head_min_time);
  both("vigil_tsdb_head_max_time", "prometheus_tsdb_head_max_time",
       "Highest timestamp in the head (ms).", Type::kGauge, s.head_max_time);
  both("vigil_tsdb_head_samples_appended_total", "prometheus_tsdb_head_samples_appended_total",
       "Samples appended to the head.", Type::kCounter, s.samples_appended);
  both("vigil_tsdb_head_series_created_total", "prometheus_tsdb_head_series_created_total",
       "Series created in the head.", Type::kCounter, s.series_created);
  both("vigil_tsdb_head_series_removed_total", "prometheus_tsdb_head_series_removed_total",
       "Series removed from the head.", Type::kCounter, s.series_removed);
  FamilySnapshot by_tenant{"vigil_tenant_head_series",
                           "Active (head) series by tenant, the figure max_series limits.",
                           Type::kGauge, {}};
  for (const auto& [tenant, n] : db->HeadSeriesByTenant()) {
    by_tenant.points.push_back({{{"tenant", tenant}}, static_cast<double>(n)});
  }
  out->push_back(std::move(by_tenant));
  FamilySnapshot rejected{"vigil_tsdb_samples_rejected_total",
                          "Samples refused by storage, by reason.", Type::kCounter, {}};
  constexpr storage::Reject kReasons[] = {
      storage::Reject::kOutOfOrder, storage::Reject::kTooOld, storage::Reject::kDuplicate,
      storage::Reject::kInvalidLabels, storage::Reject::kSeriesLimit};
  for (storage::Reject r : kReasons) {
    rejected.points.push_back(
        {{{"reason", std::string(storage::RejectName(r))}},
         static_cast<double>(s.samples_rejected[static_cast<int>(r)])});
  }
  out->push_back(std::move(rejected));
  both("vigil_tsdb_out_of_order_samples_rejected_total", "prometheus_tsdb_out_of_order_samples_total",
       "Samples refused as out of order.", Type::kCounter,
       s.samples_rejected[static_cast<int>(storage::Reject::kOutOfOrder)]);
  both("vigil_tsdb_wal_bytes", "prometheus_tsdb_wal_storage_size_bytes",
       "Size of the write-ahead log on disk.", Type::kGauge, s.wal_bytes);
  both("vigil_tsdb_wal_segments", "", "Write-ahead log segment files.", Type::kGauge,
       s.wal_segments);
  both("vigil_tsdb_wal_fsyncs_total", "prometheus_tsdb_wal_fsync_duration_seconds_count",
       "fsync calls on the write-ahead log.", Type::kCounter, s.wal_fsyncs);
  both("vigil_tsdb_wal_corruptions_repaired_total", "prometheus_tsdb_wal_corruptions_total",
       "Corrupt write-ahead log tails found and truncated.", Type::kCounter,
       s.wal_corruptions_repaired);
  both("vigil_tsdb_blocks_loaded", "prometheus_tsdb_blocks_loaded", "Persistent blocks loaded.",
       Type::kGauge, s.blocks);
  both("vigil_tsdb_storage_blocks_bytes", "prometheus_tsdb_storage_blocks_bytes",
       "Bytes of all persistent blocks.", Type::kGauge, s.blocks_bytes);
  both("vigil_tsdb_head_persisted_total", "", "Head cuts written as blocks.", Type::kCounter,
       s.head_persisted);
  both("vigil_tsdb_compactions_total", "prometheus_tsdb_compactions_total",
       "Block compactions run.", Type::kCounter, s.compactions);
  both("vigil_tsdb_compactions_failed_total", "prometheus_tsdb_compactions_failed_total",
       "Block compactions that failed.", Type::kCounter, s.compactions_failed);
  both("vigil_tsdb_retention_deleted_blocks_total", "", "Blocks deleted by retention.",
       Type::kCounter, s.retention_deleted_blocks);
  both("vigil_tsdb_lowest_timestamp", "prometheus_tsdb_lowest_timestamp",
       "Lowest timestamp in storage (ms).", Type::kGauge,
       s.blocks > 0 ? s.oldest_block_min_time : s.head_min_time);
}

}  // namespace

int AddProcessCollector(metrics::Registry* registry) {
  return registry->AddCollector(CollectProcess);
}

int AddStorageCollector(metrics::Registry* registry, const storage::DB* db) {
  return registry->AddCollector([db](std::vector<FamilySnapshot>* out) { CollectStorage(db, out); });
}

}  // namespace vigil::http
