// Unit tests of croton's thread pool (runtime/cpu/thread_pool.hpp, parallel.hpp): exact results
// of threaded sums and loops of many sizes, repeated (races show as wrong sums or hangs); loops
// from several threads at once (one gets the pool, the others run alone); a threaded loop inside
// a chunk (runs alone); a forked child running threaded loops; the thread count from the
// environment. Runs with CROTON_NUM_THREADS=4, so chunks are shared even on a 2-core machine.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "check.hpp"
#include "parallel.hpp"

namespace {

// sum of i over [0, n) through parallel_reduce, work large enough to be threaded
int64_t threaded_sum(int64_t n) {
  return croton::parallel_reduce(
      n, int64_t(1) << 40, int64_t(0),
      [](int64_t lo, int64_t hi) {
        int64_t s = 0;
        for (int64_t i = lo; i < hi; ++i) s += i;
        return s;
      },
      [](int64_t a, int64_t b) { return a + b; });
}

bool threaded_fill_ok(int64_t n) {
  std::vector<int64_t> v(size_t(n), -1);
  croton::parallel_for(n, int64_t(1) << 40, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) v[size_t(i)] = 3 * i;
  });
  for (int64_t i = 0; i < n; ++i)
    if (v[size_t(i)] != 3 * i) return false;
  return true;
}

void test_sizes_repeated() {
  for (int round = 0; round < 2000; ++round) {
    const int64_t n = 1 + (round * 7919) % 5000;
    CHECK(threaded_sum(n) == n * (n - 1) / 2);
  }
  for (int64_t n : {1, 2, 3, 7, 8, 9, 63, 64, 65, 1000, 100003}) CHECK(threaded_fill_ok(n));
}

void test_concurrent_callers() {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 500; ++round) {
        const int64_t n = 1000 + t * 37 + round;
        if (threaded_sum(n) != n * (n - 1) / 2 || !threaded_fill_ok(n)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong.load() == 0);
}

void test_nested() {
  std::vector<int64_t> out(64, 0);
  croton::parallel_for(64, int64_t(1) << 40, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) out[size_t(i)] = threaded_sum(1000 + i);
  });
  for (int64_t i = 0; i < 64; ++i) CHECK(out[size_t(i)] == (1000 + i) * (999 + i) / 2);
}

void test_fork() {
  CHECK(threaded_sum(100000) == int64_t(100000) * 99999 / 2);  // the parent's workers exist
  const pid_t pid = fork();
  if (pid == 0) {
    alarm(60);  // a hang fails the test instead of blocking it
    bool ok = true;
    for (int round = 0; round < 200; ++round) ok = ok && threaded_sum(50000) == int64_t(50000) * 49999 / 2;
    _exit(ok ? 0 : 3);
  }
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(threaded_sum(100000) == int64_t(100000) * 99999 / 2);  // and the parent still works
}

}  // namespace

int main() {
  CHECK(croton::pool_threads() == 4);  // CROTON_NUM_THREADS=4 (CMakeLists.txt)
  test_sizes_repeated();
  test_concurrent_callers();
  test_nested();
  test_fork();
  return finish("test_thread_pool");
}
