// Cost of authenticating one request (the Router calls Auth::Authorize once per request):
// bearer token and basic auth, against a few or many configured tokens (every digest is
// compared, so the cost grows with the number of tokens).
#include "benchmark/benchmark.h"
#include "http/auth.h"

namespace vigil::http {
namespace {

AuthPolicy Policy(int tenants) {
  AuthPolicy p;
  for (int i = 0; i < tenants; ++i) {
    p.tenants.push_back({"tenant-" + std::to_string(i), {"token-" + std::to_string(i) + "-abcdef0123456789"}, false});
  }
  return p;
}

void BM_AuthorizeBearer(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Auth auth;
  auth.Update(Policy(n));
  Request req;
  req.headers = {{"authorization", "Bearer token-" + std::to_string(n - 1) + "-abcdef0123456789"}};
  for (auto _ : state) {
    Auth::Decision d = auth.Authorize(req, "/api/v1/write");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_AuthorizeBearer)->Arg(2)->Arg(20)->Arg(200);

void BM_AuthorizeOff(benchmark::State& state) {
  Auth auth;
  Request req;
  for (auto _ : state) {
    Auth::Decision d = auth.Authorize(req, "/api/v1/write");
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_AuthorizeOff);

}  // namespace
}  // namespace vigil::http
