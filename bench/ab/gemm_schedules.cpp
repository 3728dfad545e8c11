// mlp_step's five large products (batch 256, 784-512-512) under four schedules, to measure
// whether two threads can beat one beside a busy process (issue 16, "sharing cores"):
//   S  one thread, one BLAS call per product;
//   W  two threads, chunks of COLS columns claimed dynamically, the caller waits for chunks a
//      worker holds (croton's pool, runtime/cpu/thread_pool.hpp);
//   X  as W, but a worker computes its chunk in a private buffer and commits it with a CAS, and
//      a caller that waits longer than twice its own chunk time takes the chunk over (computes
//      it into the output itself; the worker's late result is discarded), so a descheduled
//      worker never holds the caller up;
//   V  as W, but the caller sleeps (futex) after SPIN_NS of waiting, so its core goes idle and
//      the scheduler may move the waiting worker there.
// Workers spin 100 us for the next product, then sleep. NW workers (default 1), COLS columns per
// chunk (default 128). Build and run (scipy-openblas32's library, as croton links it):
//   L=$(python3 -c "import scipy_openblas32 as s, os; print(os.path.dirname(s.__file__))")/lib
//   g++ -O2 -std=c++20 bench/ab/gemm_schedules.cpp -o /tmp/gs -L$L -lscipy_openblas -Wl,-rpath,$L -lpthread
//   /tmp/gs 10                                   # quiet: 10 interleaved rounds of 30 steps
//   python3 -c 'while True: pass' & /tmp/gs 10; kill $!    # beside one busy process
// Prints the median step (ms) of each schedule over the rounds and the chunks taken over.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

extern "C" void scipy_cblas_sgemm(int, int, int, int, int, int, float, const float*, int,
                                  const float*, int, float, float*, int);
extern "C" void scipy_openblas_set_num_threads(int);

namespace {
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}
int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : fallback;
}

struct Gemm {
  int ta, tb, m, n, k;
  const float* a;
  int lda;
  const float* b;
  int ldb;
  float* c;
  int ldc;
};
enum Schedule { kOne, kWait, kTakeOver, kSleep, kSchedules };
const char* const kNames[] = {"S one thread", "W wait", "X take over", "V wait asleep"};
enum ChunkState { kFree, kPrivate, kDone, kDirect, kCommitting };

const int kCols = env_int("COLS", 128);
const int64_t kSpinNs = env_int("SPIN_NS", 20000);
Schedule schedule = kOne;
const Gemm* job = nullptr;
int chunks = 0;
std::atomic<uint64_t> epoch{0};
std::atomic<int> next_chunk{0}, done{0};
std::atomic<int> state[64];
std::atomic<int64_t> started[64];
std::atomic<long> taken_over{0};
std::atomic<bool> quit{false};

int width(int c) { return std::min(job->n, (c + 1) * kCols) - c * kCols; }
void gemm_part(int c, float* out, int ldo) {
  const Gemm& g = *job;
  const int j0 = c * kCols;
  const float* b = g.tb == 111 ? g.b + j0 : g.b + int64_t(j0) * g.ldb;
  scipy_cblas_sgemm(101, g.ta, g.tb, g.m, width(c), g.k, 1.f, g.a, g.lda, b, g.ldb, 0.f, out, ldo);
}
void finish(int c) {
  state[c].store(kDone);
  done.fetch_add(1);
  done.notify_one();
}

void worker_chunks() {
  thread_local std::vector<float> buffer(1 << 20);
  for (int c; (c = next_chunk.fetch_add(1)) < chunks;) {
    if (schedule != kTakeOver) {
      gemm_part(c, job->c + c * kCols, job->ldc);
      finish(c);
      continue;
    }
    started[c].store(now_ns());
    int expected = kFree;
    if (!state[c].compare_exchange_strong(expected, kPrivate)) continue;
    const int w = width(c);
    gemm_part(c, buffer.data(), w);
    expected = kPrivate;
    if (!state[c].compare_exchange_strong(expected, kCommitting)) continue;  // taken over
    for (int i = 0; i < job->m; ++i)
      std::memcpy(job->c + int64_t(i) * job->ldc + c * kCols, &buffer[i * w], w * sizeof(float));
    finish(c);
  }
}

void worker() {
  uint64_t seen = 0;
  while (!quit) {
    const int64_t until = now_ns() + 100000;
    uint64_t e;
    while ((e = epoch.load()) == seen && !quit) {
      if (now_ns() < until) __builtin_ia32_pause(); else epoch.wait(seen);
    }
    seen = e;
    if (!quit) worker_chunks();
  }
}

void run_product(const Gemm& g) {
  if (schedule == kOne) {
    scipy_cblas_sgemm(101, g.ta, g.tb, g.m, g.n, g.k, 1.f, g.a, g.lda, g.b, g.ldb, 0.f, g.c, g.ldc);
    return;
  }
  job = &g;
  chunks = (g.n + kCols - 1) / kCols;
  for (int c = 0; c < chunks; ++c) state[c].store(kFree);
  done.store(0);
  next_chunk.store(0);
  epoch.fetch_add(1);
  epoch.notify_all();
  int64_t own_ns = 0, own = 0;
  for (int c; (c = next_chunk.fetch_add(1)) < chunks;) {
    int expected = kFree;
    if (!state[c].compare_exchange_strong(expected, kDirect)) continue;
    const int64_t t0 = now_ns();
    gemm_part(c, g.c + c * kCols, g.ldc);
    finish(c);
    own_ns += now_ns() - t0;
    ++own;
  }
  const int64_t patience = (own > 0 ? 2 * own_ns / own : 100000) + 20000;
  const int64_t wait_from = now_ns();
  for (int d; (d = done.load()) < chunks;) {
    if (schedule == kTakeOver) {
      for (int c = 0; c < chunks; ++c) {
        int expected = kPrivate;
        if (state[c].load() == kPrivate && now_ns() - started[c].load() > patience &&
            state[c].compare_exchange_strong(expected, kDirect)) {
          gemm_part(c, g.c + c * kCols, g.ldc);
          finish(c);
          taken_over.fetch_add(1);
        }
      }
    }
    if (schedule == kSleep && now_ns() - wait_from > kSpinNs) done.wait(d);
    else __builtin_ia32_pause();
  }
}
}  // namespace

int main(int argc, char** argv) {
  scipy_openblas_set_num_threads(1);
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 10, batch = 256;
  std::vector<float> x(batch * 784, .1f), w1(784 * 512, .01f), w2(512 * 512, .01f),
      h1(batch * 512), h2(batch * 512), d2(batch * 512, .01f), d1(batch * 512), g1(784 * 512),
      g2(512 * 512);
  const std::vector<Gemm> step = {
      {111, 111, batch, 512, 784, x.data(), 784, w1.data(), 512, h1.data(), 512},   // x @ W1
      {111, 111, batch, 512, 512, h1.data(), 512, w2.data(), 512, h2.data(), 512},  // h1 @ W2
      {112, 111, 512, 512, batch, h1.data(), 512, d2.data(), 512, g2.data(), 512},  // h1^T @ d2
      {111, 112, batch, 512, 512, d2.data(), 512, w2.data(), 512, d1.data(), 512},  // d2 @ W2^T
      {112, 111, 784, 512, batch, x.data(), 784, d1.data(), 512, g1.data(), 512},   // x^T @ d1
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < env_int("NW", 1); ++i) workers.emplace_back(worker);
  std::vector<double> medians[kSchedules];
  for (int r = 0; r < rounds; ++r) {
    for (int s = 0; s < kSchedules; ++s) {
      schedule = Schedule(s);
      std::vector<double> steps;
      for (int i = 0; i < 30; ++i) {
        const int64_t t0 = now_ns();
        for (const Gemm& g : step) run_product(g);
        steps.push_back((now_ns() - t0) / 1e6);
      }
      std::sort(steps.begin(), steps.end());
      medians[s].push_back(steps[steps.size() / 2]);
    }
  }
  for (int s = 0; s < kSchedules; ++s) {
    auto& v = medians[s];
    std::sort(v.begin(), v.end());
    std::printf("%-14s median %.2f ms (quartiles %.2f, %.2f)\n", kNames[s], v[v.size() / 2],
                v[v.size() / 4], v[3 * v.size() / 4]);
  }
  std::printf("chunks taken over: %ld\n", taken_over.load());
  quit = true;
  epoch.fetch_add(1);
  epoch.notify_all();
  for (auto& w : workers) w.join();
}
