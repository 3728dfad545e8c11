// How far apart two CPUs are: the round trip of one cache line between a thread pinned to each,
// in nanoseconds (the median of several short windows), printed on stdout.
//
// On a virtual machine the host may place the vCPUs on one die (a round trip of ~50 ns here) or
// on two (~330 ns), and move them while a benchmark runs: every cache line that threads pass
// between each other costs that much more. python -m bench records this before each quiet run.
//
// usage: cpu_distance CPU_A CPU_B
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

bool pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

alignas(64) std::atomic<int> ball{0};
alignas(64) std::atomic<bool> stop{false};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: cpu_distance CPU_A CPU_B\n");
    return 2;
  }
  const int cpu_a = std::atoi(argv[1]), cpu_b = std::atoi(argv[2]);
  std::thread partner([cpu_b] {
    if (!pin(cpu_b)) std::exit(3);
    while (!stop.load(std::memory_order_relaxed)) {
      const int v = ball.load(std::memory_order_acquire);
      if (v & 1) ball.store(v + 1, std::memory_order_release);  // odd: sent to us, send back
    }
  });
  if (!pin(cpu_a)) return 3;
  constexpr int kWindows = 5, kTrips = 20000;
  std::vector<double> ns;
  for (int w = 0; w < kWindows; ++w) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kTrips; ++i) {
      const int v = ball.load(std::memory_order_relaxed) + 1;
      ball.store(v, std::memory_order_release);
      while (ball.load(std::memory_order_acquire) == v) {
      }
    }
    const std::chrono::duration<double, std::nano> dt = std::chrono::steady_clock::now() - t0;
    ns.push_back(dt.count() / kTrips);
  }
  stop.store(true);
  partner.join();
  std::sort(ns.begin(), ns.end());
  std::printf("%.1f\n", ns[ns.size() / 2]);
  return 0;
}
