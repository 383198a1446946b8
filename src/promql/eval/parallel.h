// ParallelFor: runs independent pieces of one query's work on the calling thread and a
// small process-wide pool of worker threads.
//
// The pool has one thread fewer than the machine has cores (at most 7), started on first
// use and kept for the life of the process. Every ParallelFor call runs pieces on its own
// thread too, so a call always makes progress even when other queries keep the workers
// busy, and concurrent calls from different queries share the workers. A call runs alone
// for its first ~50 us and wakes the workers only if the pieces left by then would take it
// another ~250 us alone: a smaller call would spend more on the wake-up than it gains.
//
// Thread-safety: ParallelFor may be called from any number of threads at once. `fn` is
// called concurrently for different indices and must only touch state of its own index
// (or state that is safe to share); ParallelFor returns after every fn(i) has returned.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace vigil::promql::eval {

// Calls fn(i) once for each i in [0, n).
void ParallelFor(size_t n, const std::function<void(size_t)>& fn);

struct ParallelJob;

// A ParallelFor started in the background: the workers run pieces while the calling
// thread does other work, and Wait() runs the pieces still unclaimed on the calling thread
// and returns once every fn(i) has returned. Unlike ParallelFor, Start wakes the workers at
// once. One task runs one call at a time; the destructor waits.
class ParallelTask {
 public:
  ParallelTask() = default;
  ParallelTask(const ParallelTask&) = delete;
  ParallelTask& operator=(const ParallelTask&) = delete;
  ~ParallelTask() { Wait(); }

  // Waits for the task's previous call, then starts calling fn(i) for each i in [0, n).
  void Start(size_t n, std::function<void(size_t)> fn);
  void Wait();

 private:
  std::shared_ptr<ParallelJob> job_;
};

// Threads that may run pieces of one ParallelFor call (the caller plus the workers).
size_t ParallelWidth();

}  // namespace vigil::promql::eval
