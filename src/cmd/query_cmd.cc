#include "cmd/query_cmd.h"

#include <curl/curl.h>

#include <array>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "cmd/flags.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace vigil::cmd {
namespace {

size_t Collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// "now", "-1h" (relative to now) or anything the server parses, passed through.
bool ResolveTime(const std::string& in, double now_s, std::string* out, std::string* err) {
  if (in == "now") {
    *out = fmt::format("{:.3f}", now_s);
    return true;
  }
  // "-1h": a Prometheus duration before now. "-5" stays Unix seconds for the server.
  if (in.size() > 1 && in[0] == '-' && in.find_first_not_of("0123456789.", 1) != std::string::npos) {
    auto d = ParseDuration(std::string_view(in).substr(1));
    if (!d.ok()) {
      *err = fmt::format("invalid relative time \"{}\": {}", in, std::string(d.status().message()));
      return false;
    }
    *out = fmt::format("{:.3f}", now_s - static_cast<double>(*d) / 1000);
    return true;
  }
  *out = in;
  return true;
}

std::string FormatTime(double secs) {
  const int64_t ms = static_cast<int64_t>(std::llround(secs * 1000));
  std::time_t t = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  const int64_t frac = ((ms % 1000) + 1000) % 1000;
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  if (frac != 0) out += fmt::format(".{:03}", frac);
  return out + "Z";
}

// name{a="x", b="y"} from a JSON object of labels.
std::string SeriesName(simdjson::dom::object metric) {
  std::string name;
  std::vector<std::pair<std::string_view, std::string_view>> rest;
  for (auto field : metric) {
    std::string_view k = field.key;
    std::string_view v;
    if (field.value.get_string().get(v) != simdjson::SUCCESS) continue;
    if (k == "__name__") {
      name = std::string(v);
    } else {
      rest.emplace_back(k, v);
    }
  }
  if (!rest.empty() || name.empty()) {
    name.push_back('{');
    for (size_t i = 0; i < rest.size(); ++i) {
      if (i > 0) name += ", ";
      name += fmt::format("{}=\"{}\"", rest[i].first, rest[i].second);
    }
    name.push_back('}');
  }
  return name;
}

// [<seconds>, "<value>"] -> (seconds, value text)
bool Point(simdjson::dom::element e, double* t, std::string_view* v) {
  simdjson::dom::array a;
  if (e.get_array().get(a) != simdjson::SUCCESS || a.size() != 2) return false;
  if (a.at(0).get_double().get(*t) != simdjson::SUCCESS) {
    int64_t i = 0;
    if (a.at(0).get_int64().get(i) != simdjson::SUCCESS) return false;
    *t = static_cast<double>(i);
  }
  return a.at(1).get_string().get(*v) == simdjson::SUCCESS;
}

}  // namespace

QueryOutput FormatQueryAnswer(const std::string& json_body) {
  QueryOutput out;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json_body).get(root) != simdjson::SUCCESS) {
    out.text = fmt::format("the server's answer is not JSON: {}", json_body.substr(0, 200));
    return out;
  }
  std::string_view status;
  if (root["status"].get_string().get(status) != simdjson::SUCCESS) status = "";
  if (status != "success") {
    std::string_view type = "error", msg = "";
    if (root["errorType"].get_string().get(type) != simdjson::SUCCESS) type = "error";
    if (root["error"].get_string().get(msg) != simdjson::SUCCESS) msg = "";
    out.text = fmt::format("{}: {}", type, msg);
    return out;
  }
  std::string_view rtype;
  simdjson::dom::element result;
  if (root["data"]["resultType"].get_string().get(rtype) != simdjson::SUCCESS ||
      root["data"]["result"].get(result) != simdjson::SUCCESS) {
    out.text = "the server's answer has no data.resultType/result";
    return out;
  }
  std::string& s = out.text;
  if (rtype == "scalar" || rtype == "string") {
    double t = 0;
    std::string_view v;
    if (!Point(result, &t, &v)) {
      s = "malformed scalar";
      return out;
    }
    s = fmt::format("{}  {}  @{}\n", rtype, v, FormatTime(t));
  } else if (rtype == "vector") {
    std::vector<std::array<std::string, 3>> rows;
    size_t w0 = 6, w1 = 5;
    for (auto e : result.get_array()) {
      double t = 0;
      std::string_view v;
      simdjson::dom::object m;
      if (e["metric"].get_object().get(m) != simdjson::SUCCESS || !Point(e["value"], &t, &v)) continue;
      rows.push_back({SeriesName(m), std::string(v), FormatTime(t)});
      w0 = std::max(w0, rows.back()[0].size());
      w1 = std::max(w1, rows.back()[1].size());
    }
    s += fmt::format("{:<{}}  {:<{}}  {}\n", "SERIES", w0, "VALUE", w1, "TIME");
    for (const auto& r : rows) s += fmt::format("{:<{}}  {:<{}}  {}\n", r[0], w0, r[1], w1, r[2]);
    if (rows.empty()) s += "(no series)\n";
  } else if (rtype == "matrix") {
    size_t n = 0;
    for (auto e : result.get_array()) {
      simdjson::dom::object m;
      simdjson::dom::array values;
      if (e["metric"].get_object().get(m) != simdjson::SUCCESS ||
          e["values"].get_array().get(values) != simdjson::SUCCESS) {
        continue;
      }
      if (n++ > 0) s.push_back('\n');
      s += SeriesName(m) + "\n";
      for (auto p : values) {
        double t = 0;
        std::string_view v;
        if (Point(p, &t, &v)) s += fmt::format("  {}  {}\n", FormatTime(t), v);
      }
    }
    if (n == 0) s += "(no series)\n";
  } else {
    s = fmt::format("unknown resultType \"{}\"", rtype);
    return out;
  }
  simdjson::dom::array warnings;
  if (root["warnings"].get_array().get(warnings) == simdjson::SUCCESS) {
    for (auto w : warnings) {
      std::string_view ws;
      if (w.get_string().get(ws) == simdjson::SUCCESS) s += fmt::format("warning: {}\n", ws);
    }
  }
  out.ok = true;
  return out;
}

int RunQuery(const QueryCmdOptions& o) {
  if (o.expr.empty()) {
    std::fprintf(stderr, "vigil query: no expression given\n");
    return 2;
  }
  if (o.output != "table" && o.output != "json") {
    std::fprintf(stderr, "vigil query: invalid value \"%s\" for -o: want table or json\n",
                 o.output.c_str());
    return 2;
  }
  const double now_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const bool range = !o.start.empty() || !o.end.empty() || !o.step.empty();
  std::vector<std::pair<std::string, std::string>> params = {{"query", o.expr}};
  std::string err;
  if (range) {
    std::string end, start;
    if (!ResolveTime(o.end.empty() ? "now" : o.end, now_s, &end, &err)) {
      std::fprintf(stderr, "vigil query: --end: %s\n", err.c_str());
      return 2;
    }
    if (o.start.empty()) {
      char* stop = nullptr;
      double e = std::strtod(end.c_str(), &stop);
      if (stop == end.c_str() || *stop != '\0') {
        std::fprintf(stderr, "vigil query: give --start with an RFC 3339 --end\n");
        return 2;
      }
      start = fmt::format("{:.3f}", e - 3600);
    } else if (!ResolveTime(o.start, now_s, &start, &err)) {
      std::fprintf(stderr, "vigil query: --start: %s\n", err.c_str());
      return 2;
    }
    params.emplace_back("start", start);
    params.emplace_back("end", end);
    params.emplace_back("step", o.step.empty() ? "60s" : o.step);
  } else if (!o.time.empty()) {
    std::string t;
    if (!ResolveTime(o.time, now_s, &t, &err)) {
      std::fprintf(stderr, "vigil query: --time: %s\n", err.c_str());
      return 2;
    }
    params.emplace_back("time", t);
  }
  if (!o.timeout.empty()) params.emplace_back("timeout", o.timeout);

  std::string token;
  if (!o.token_file.empty()) {
    std::ifstream tf(o.token_file);
    if (!tf) {
      std::fprintf(stderr, "vigil query: --token-file: cannot read %s\n", o.token_file.c_str());
      return 2;
    }
    std::stringstream ts;
    ts << tf.rdbuf();
    token = ts.str();
  } else if (const char* env = std::getenv("VIGIL_TOKEN"); env != nullptr) {
    token = env;
  }
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.front()))) token.erase(0, 1);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    std::fprintf(stderr, "vigil query: cannot initialise libcurl\n");
    return 1;
  }
  std::string form;
  for (const auto& [k, v] : params) {
    char* ev = curl_easy_escape(curl, v.data(), static_cast<int>(v.size()));
    if (!form.empty()) form.push_back('&');
    form += k + "=" + ev;
    curl_free(ev);
  }
  std::string server = o.server;
  while (!server.empty() && server.back() == '/') server.pop_back();
  const std::string url = server + (range ? "/api/v1/query_range" : "/api/v1/query");
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "vigil-query");
  struct curl_slist* headers = nullptr;
  const std::string authz = "Authorization: Bearer " + token;
  if (!token.empty()) {
    headers = curl_slist_append(headers, authz.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  }
  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  curl_global_cleanup();
  if (rc != CURLE_OK) {
    std::fprintf(stderr, "vigil query: cannot reach %s: %s\n", url.c_str(), curl_easy_strerror(rc));
    return 1;
  }
  if (o.output == "json") {
    std::fwrite(body.data(), 1, body.size(), stdout);
    std::fputc('\n', stdout);
    return code == 200 ? 0 : 1;
  }
  QueryOutput out = FormatQueryAnswer(body);
  if (!out.ok) {
    std::fprintf(stderr, "vigil query: %s (HTTP %ld)\n", out.text.c_str(), code);
    return 1;
  }
  std::fwrite(out.text.data(), 1, out.text.size(), stdout);
  return 0;
}

}  // namespace vigil::cmd
