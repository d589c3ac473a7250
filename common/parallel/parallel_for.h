// ParallelFor: the one small thread pool of the query path.
//
//   ParallelFor(threads, n, fn)  calls fn(worker, i) for every i in [0, n)
//   on min(threads, n) threads (the caller's thread is worker 0). Items are
//   dealt out in turn (worker w takes w, w + k, w + 2k, ...), so items of
//   uneven cost spread evenly. fn must only write state of its own item or
//   its own worker; everything is joined before ParallelFor returns.
//
// Use it for work of a few milliseconds or more per call: each call starts
// its threads afresh.
#ifndef DATALAB_COMMON_PARALLEL_PARALLEL_FOR_H_
#define DATALAB_COMMON_PARALLEL_PARALLEL_FOR_H_

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

namespace datalab::parallel {

// The number of workers ParallelFor(threads, n, ...) uses.
inline size_t Workers(int threads, size_t n) {
  return std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), n);
}

template <typename Fn>
void ParallelFor(int threads, size_t n, Fn&& fn) {
  const size_t k = Workers(threads, n);
  if (k == 0) return;
  auto work = [&](size_t w) {
    for (size_t i = w; i < n; i += k) fn(w, i);
  };
  std::vector<std::thread> pool;
  pool.reserve(k - 1);
  for (size_t w = 1; w < k; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
}

}  // namespace datalab::parallel

#endif  // DATALAB_COMMON_PARALLEL_PARALLEL_FOR_H_
