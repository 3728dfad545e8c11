// mlp_step's five large products (batch 256, 784-512-512) under seven schedules, to measure
// whether two threads can beat one beside a busy process (issue 16, "sharing cores"):
//   S  one thread, one BLAS call per product;
//   W  two threads, chunks of COLS columns claimed dynamically, the caller waits for chunks a
//      worker holds (croton's pool, runtime/cpu/thread_pool.hpp);
//   X  as W, but a worker computes its chunk in a private buffer and commits it with a CAS, and
//      a caller that waits longer than twice its own chunk time takes the chunk over (computes
//      it into the output itself; the worker's late result is discarded), so a descheduled
//      worker never holds the caller up;
//   V  as W, but the caller sleeps (futex) after SPIN_NS of waiting, so its core goes idle and
//      the scheduler may move the waiting worker there;
//   Y  every thread (the caller too) computes its chunks in a private buffer and commits with
//      a CAS on an epoch-tagged state, and a thread with no chunk left repeats one another
//      thread has held for PATIENCE_PCT (default 200) percent of its own chunk time: the first
//      commit wins, so neither a descheduled worker nor a descheduled caller holds a product up;
//   Z  as Y, and the caller waits at the end of each step until no thread is inside a chunk
//      (what a runtime must do before the buffers a late thread still reads are freed);
//   T  as Y, and the thread that commits a product's last chunk publishes the next product:
//      any thread runs the step's sequence, so work goes on while the caller is descheduled.
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
enum Schedule { kOne, kWait, kTakeOver, kSleep, kSym, kSymEnd, kTask, kSchedules };
const char* const kNames[] = {"S one thread", "W wait", "X take over", "V wait asleep",
                              "Y any repeats", "Z Y+step wait", "T any sequences"};
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


// Y: every thread computes its chunks in a private buffer and commits with a CAS on an
// epoch-tagged state; a thread that finds no free chunk repeats one another thread holds
// (once per chunk); the first commit wins. Z: as Y, and the caller waits at the end of each
// step until no thread is inside a chunk (what a runtime must do before the buffers a late
// thread reads can be freed).
enum SymState { kSFree, kSClaimed, kSRepeated, kSCommitting, kSDone };
std::atomic<uint64_t> sym_ticket{0}, sym_done{0}, sym_state[64];
std::atomic<int> inside{0};
const Gemm* ring[64];
int ring_chunks[64];
std::atomic<long> repeats{0}, repeat_wins{0};

// T: the step is a list; the thread that commits a product's last chunk publishes the next.
const std::vector<Gemm>* task_list = nullptr;
uint64_t task_first = 0;
std::atomic<bool> task_finished{false};
void publish(uint64_t ep, const Gemm& g) {
  const int n = (g.n + kCols - 1) / kCols;
  ring[ep & 63] = &g;
  ring_chunks[ep & 63] = n;
  for (int c = 0; c < n; ++c) sym_state[c].store((ep << 8) | kSFree);
  sym_done.store(ep << 32);
  sym_ticket.store(ep << 32);
  epoch.fetch_add(1);
  epoch.notify_all();
}

void sym_chunk(uint64_t ep, int c, uint64_t held) {
  thread_local std::vector<float> buffer(1 << 20);
  inside.fetch_add(1);
  const Gemm g = *ring[ep & 63];
  const int j0 = c * kCols, w = std::min(g.n, j0 + kCols) - j0;
  const float* b = g.tb == 111 ? g.b + j0 : g.b + int64_t(j0) * g.ldb;
  scipy_cblas_sgemm(101, g.ta, g.tb, g.m, w, g.k, 1.f, g.a, g.lda, b, g.ldb, 0.f, buffer.data(), w);
  uint64_t expected = (ep << 8) | kSClaimed;
  bool won = sym_state[c].compare_exchange_strong(expected, (ep << 8) | kSCommitting);
  if (!won && expected == ((ep << 8) | kSRepeated))
    won = sym_state[c].compare_exchange_strong(expected, (ep << 8) | kSCommitting);
  if (won) {
    for (int i = 0; i < g.m; ++i)
      std::memcpy(g.c + int64_t(i) * g.ldc + j0, &buffer[i * w], w * sizeof(float));
    sym_state[c].store((ep << 8) | kSDone);
    const bool last = int(sym_done.fetch_add(1) & 0xffffffffu) + 1 == ring_chunks[ep & 63];
    if (last && schedule == kTask) {
      const size_t next = ep - task_first + 1;
      if (next < task_list->size()) publish(ep + 1, (*task_list)[next]);
      else task_finished.store(true);
    }
    if (held == kSRepeated) repeat_wins.fetch_add(1);
  }
  inside.fetch_sub(1);
}

std::atomic<int64_t> claimed_at[64];
const int64_t kPatiencePct = env_int("PATIENCE_PCT", 200);

void sym_work(uint64_t ep) {
  int64_t own_ns = 0, own = 0;
  for (;;) {
    uint64_t t = sym_ticket.load();
    if ((t >> 32) != ep) return;
    const int next = int(t & 0xffffffffu), n = ring_chunks[ep & 63];
    if (next >= n) break;
    if (!sym_ticket.compare_exchange_weak(t, t + 1)) continue;
    const int64_t t0 = now_ns();
    claimed_at[next].store(t0);
    sym_state[next].store((ep << 8) | kSClaimed);
    sym_chunk(ep, next, kSClaimed);
    own_ns += now_ns() - t0;
    ++own;
  }
  // Repeat a chunk another thread has held longer than PATIENCE_PCT of this thread's chunk time.
  const int64_t patience = (own > 0 ? own_ns / own : 300000) * kPatiencePct / 100;
  const int n = ring_chunks[ep & 63];
  while ((sym_ticket.load() >> 32) == ep && (sym_done.load() >> 32) == ep &&
         int(sym_done.load() & 0xffffffffu) < n) {
    const int64_t now = now_ns();
    for (int c = 0; c < n; ++c) {
      uint64_t expected = (ep << 8) | kSClaimed;
      if (sym_state[c].load() == expected && now - claimed_at[c].load() > patience &&
          sym_state[c].compare_exchange_strong(expected, (ep << 8) | kSRepeated)) {
        repeats.fetch_add(1);
        sym_chunk(ep, c, kSRepeated);
      }
    }
    __builtin_ia32_pause();
  }
}

void task_loop() {
  while (!task_finished.load()) {
    const uint64_t ep = sym_ticket.load() >> 32;
    if (ep < task_first) return;
    sym_work(ep);
  }
}

void run_task(const std::vector<Gemm>& step) {
  task_list = &step;
  task_first = (sym_ticket.load() >> 32) + 1;
  task_finished.store(false);
  publish(task_first, step[0]);
  task_loop();
  while (inside.load() > 0) __builtin_ia32_pause();
}

void run_sym(const Gemm& g) {
  const uint64_t ep = (sym_ticket.load() >> 32) + 1;
  publish(ep, g);
  sym_work(ep);
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
    if (quit) break;
    if (schedule == kTask) task_loop();
    else if (schedule == kSym || schedule == kSymEnd) sym_work(sym_ticket.load() >> 32);
    else worker_chunks();
  }
}

void run_product(const Gemm& g) {
  if (schedule == kSym || schedule == kSymEnd) return run_sym(g);
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
        if (schedule == kTask) run_task(step);
        else for (const Gemm& g : step) run_product(g);
        if (schedule == kSymEnd) while (inside.load() > 0) __builtin_ia32_pause();
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
  std::printf("chunks taken over: %ld; repeated: %ld, of which won: %ld\n", taken_over.load(),
              repeats.load(), repeat_wins.load());
  quit = true;
  epoch.fetch_add(1);
  epoch.notify_all();
  for (auto& w : workers) w.join();
}
