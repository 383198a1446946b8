#include "promql/eval/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace vigil::promql::eval {

// One ParallelFor call or ParallelTask: indices are claimed with an atomic counter by
// whoever runs it.
struct ParallelJob {
  std::function<void(size_t)> fn;
  size_t n;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::mutex mu;
  std::condition_variable finished;

  // Runs pieces until none is left to claim.
  void Run() {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) RunPiece(i);
  }

  // Runs the pieces left, then waits for the ones other threads are still running.
  void Finish() {
    Run();
    std::unique_lock l(mu);
    finished.wait(l, [&] { return done.load() == n; });
  }

  // Runs pieces until none is left or `until` has passed; true if some are left to claim.
  // The clock is read every 8 pieces: a piece can take less time than reading it.
  bool RunUntil(std::chrono::steady_clock::time_point until) {
    size_t ran = 0;
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      RunPiece(i);
      if (++ran % 8 == 0 && std::chrono::steady_clock::now() >= until) return next.load() < n;
    }
    return false;
  }

 private:
  void RunPiece(size_t i) {
    fn(i);
    if (done.fetch_add(1) + 1 == n) {
      std::lock_guard l(mu);
      finished.notify_all();
    }
  }
};

// How long the calling thread works alone before it wakes the workers. Waking a parked
// worker costs a futex call on each side and a context switch (tens of microseconds of CPU
// on this kind of virtual machine), and the worker starts that much later: a call that
// finishes within this time would pay more for the wake-up than it gains.
constexpr std::chrono::microseconds kWorkAloneFor{50};
// After that, the workers are woken only if the pieces left, at the pace of the ones run so
// far, would keep the calling thread busy this long. A wake-up measured in the server (a
// loop of small queries whose ~100 series decode in ~150 us): waking the worker 50 us in
// cost ~0.1 ms of CPU per query and no wall time (per query, woken / kept alone: CPU
// 0.41-0.51 / 0.32-0.39 ms, wall 0.46-0.58 / 0.43-0.51 ms), so what is left must be
// several times the wake-up's latency for a second thread to shorten the call.
constexpr std::chrono::microseconds kWakeWorthFor{250};

namespace {

class Pool {
 public:
  static Pool& Get() {
    // Never destroyed: workers may still be parked at exit.
    static Pool* pool = new Pool();
    return *pool;
  }

  size_t width() const { return workers_ + 1; }

  void Run(std::shared_ptr<ParallelJob> job) {
    if (workers_ == 0) return job->Run();
    // Unpublished, the job's pieces all ran on this thread if none is left.
    const auto start = std::chrono::steady_clock::now();
    if (!job->RunUntil(start + kWorkAloneFor)) return;
    const size_t ran = job->next.load();  // claimed, all by this thread
    if ((std::chrono::steady_clock::now() - start) * (job->n - ran) < kWakeWorthFor * ran) {
      return job->Run();
    }
    Publish(job);
    Finish(job);
  }

  // Lets the workers run the job's pieces.
  void Publish(const std::shared_ptr<ParallelJob>& job) {
    if (workers_ == 0) return;
    std::lock_guard l(mu_);
    jobs_.push_back(job);
    wake_.notify_all();
  }

  // Runs what is left of a published job on this thread and waits for the rest.
  void Finish(const std::shared_ptr<ParallelJob>& job) {
    job->Run();
    if (workers_ > 0) {
      std::lock_guard l(mu_);
      auto it = std::find(jobs_.begin(), jobs_.end(), job);
      if (it != jobs_.end()) jobs_.erase(it);
    }
    job->Finish();
  }

 private:
  Pool() {
    unsigned hw = std::thread::hardware_concurrency();
    workers_ = std::min<size_t>(hw > 1 ? hw - 1 : 0, 7);
    for (size_t i = 0; i < workers_; ++i) std::thread([this] { Work(); }).detach();
  }

  void Work() {
    for (;;) {
      std::shared_ptr<ParallelJob> job;
      {
        std::unique_lock l(mu_);
        wake_.wait(l, [&] { return !jobs_.empty(); });
        job = jobs_.front();
        if (job->next.load() >= job->n) {
          // Every piece is claimed: nothing left here for workers.
          jobs_.pop_front();
          continue;
        }
      }
      job->Run();
    }
  }

  size_t workers_ = 0;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<ParallelJob>> jobs_;
};

std::shared_ptr<ParallelJob> NewJob(size_t n, std::function<void(size_t)> fn) {
  auto job = std::make_shared<ParallelJob>();
  job->fn = std::move(fn);
  job->n = n;
  return job;
}

}  // namespace

void ParallelFor(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (n == 1) {
    fn(0);
    return;
  }
  Pool::Get().Run(NewJob(n, fn));
}

void ParallelTask::Start(size_t n, std::function<void(size_t)> fn) {
  Wait();
  if (n == 0) return;
  job_ = NewJob(n, std::move(fn));
  Pool::Get().Publish(job_);
}

void ParallelTask::Wait() {
  if (job_ == nullptr) return;
  Pool::Get().Finish(job_);
  job_.reset();
}

size_t ParallelWidth() { return Pool::Get().width(); }

}  // namespace vigil::promql::eval
