// StatsdServer: listens for StatsD datagrams on UDP, aggregates them (statsd.h) and every
// flush interval writes the aggregate through storage::Appendable for the default tenant,
// stamped with the flush time. Off unless `--statsd.listen-address` is given (a metrics
// database should not open a UDP port nobody asked for; 127.0.0.1:9125 is the address
// statsd_exporter users expect).
//
// Counters: vigil_ingest_*{protocol="statsd"} (see writer.h), with reason "invalid_line"
// for unparsable lines and "series_limit" for values dropped by max_series.
//
// Thread-safety: Start/Stop from one thread; the receive and flush threads share the
// aggregator under a mutex.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "ingest/statsd.h"
#include "ingest/writer.h"
#include "storage/appender.h"

namespace vigil::ingest {

struct StatsdServerOptions {
  std::string listen_address = "127.0.0.1:9125";  // host:port; port 0 picks one
  int64_t flush_interval_ms = 10'000;
  StatsdOptions aggregator;
};

class StatsdServer {
 public:
  // `db` and `metrics` must outlive the server.
  StatsdServer(StatsdServerOptions opts, storage::Appendable* db, IngestMetrics* metrics,
               IngestOptions ingest = {});
  ~StatsdServer();

  absl::Status Start();
  // Stops receiving, writes one last flush, joins the threads. Idempotent.
  void Stop();
  int port() const { return port_; }

  // Writes the current aggregate now (tests; the flush thread calls it too).
  WriteResult FlushNow();

 private:
  void ReceiveLoop();
  void FlushLoop();

  const StatsdServerOptions opts_;
  storage::Appendable* const db_;
  IngestMetrics* const metrics_;
  const IngestOptions ingest_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards agg_
  StatsdAggregator agg_;
  std::mutex flush_mu_;  // one flush at a time
  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::thread receiver_, flusher_;
};

}  // namespace vigil::ingest
