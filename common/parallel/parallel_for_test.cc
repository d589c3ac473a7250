#include "common/parallel/parallel_for.h"

#include <atomic>
#include <vector>

#include "gtest/gtest.h"

namespace datalab::parallel {
namespace {

TEST(ParallelFor, VisitsEveryItemOnceOnItsWorker) {
  for (int threads : {1, 2, 3, 8}) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{7}, size_t{1000}}) {
      std::vector<int> seen(n, 0);
      std::vector<size_t> worker(n, 99);
      ParallelFor(threads, n, [&](size_t w, size_t i) {
        ++seen[i];
        worker[i] = w;
      });
      const size_t k = Workers(threads, n);
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(seen[i], 1) << "threads " << threads << " n " << n << " item " << i;
        EXPECT_EQ(worker[i], i % k);
      }
    }
  }
}

TEST(ParallelFor, UsesSeveralThreadsWhenAsked) {
  std::atomic<int> distinct{0};
  std::vector<std::atomic<bool>> used(4);
  ParallelFor(4, 400, [&](size_t w, size_t) {
    if (!used[w].exchange(true)) ++distinct;
  });
  EXPECT_EQ(distinct.load(), 4);
  EXPECT_EQ(Workers(0, 5), 1u);
  EXPECT_EQ(Workers(8, 3), 3u);
}

}  // namespace
}  // namespace datalab::parallel
