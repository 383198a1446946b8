// `vigil query 'expr'`: evaluates PromQL on a running Vigil (or Prometheus) server through
// its HTTP API and prints the answer as a table, or as the server's JSON (-o json).
//
//   vigil query 'sum by (job) (rate(http_requests_total[5m]))'
//   vigil query --time 2024-01-02T03:04:05Z 'up'
//   vigil query --start -1h --step 1m 'avg(node_load1)'      # a range query
//
// Times are what the API takes (Unix seconds, RFC 3339) plus "now" and "-<duration>"
// (relative to now). Giving --start, --end or --step makes a range query: --end defaults
// to now, --start to an hour before --end, --step to 60s.
//
// Exit codes: 0 answered, 1 the server answered an error or could not be reached, 2 bad
// arguments.
//
// Thread-safety: RunQuery is meant for main; it uses libcurl's global state.
#pragma once

#include <string>

namespace vigil::cmd {

struct QueryCmdOptions {
  std::string server = "http://127.0.0.1:9460";
  std::string expr;
  std::string time;   // instant query time (empty: the server's now)
  std::string start;  // range query
  std::string end;
  std::string step;
  std::string timeout;  // passed to the server as is
  std::string output = "table";  // "table" or "json"
  // A file holding the tenant's token (docs/tenants.md); empty: $VIGIL_TOKEN if set. Sent
  // as "Authorization: Bearer <token>". Not a flag value, so it never shows in `ps`.
  std::string token_file;
};

int RunQuery(const QueryCmdOptions& opts);

// The table printed for a query answer (the JSON body of /api/v1/query or query_range), or
// an error message. Exposed for tests.
struct QueryOutput {
  bool ok = false;
  std::string text;  // table, or "<errorType>: <error>" when !ok
};
QueryOutput FormatQueryAnswer(const std::string& json_body);

}  // namespace vigil::cmd
