// croton's own thread pool for generated loops and BLAS splits: the caller works too, chunks are
// claimed dynamically, and a call returns as soon as every chunk is done, without waiting for a
// thread that never woke. On a machine whose cores other processes share, a worker that is not
// scheduled costs nothing: the caller (and any awake worker) takes its chunks. (OpenMP's
// fork-join waits at the closing barrier for every thread of the team: with one busy process
// beside it on 2 cores, a LeNet step slowed 3.5x.)
//
// Workers spin briefly for the next job (kernels of one call follow each other within
// microseconds), then sleep on a condition variable. The number of threads is
// CROTON_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process may run on. A forked
// child starts with no workers and makes its own on its first threaded loop.
#pragma once
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>

namespace croton {

using ChunkFn = void (*)(void*, int64_t, int64_t, int);

inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// The number of threads a parallel loop may use (the caller included), read once.
inline int pool_threads() {
  static const int threads = [] {
    for (const char* name : {"CROTON_NUM_THREADS", "OMP_NUM_THREADS"}) {
      if (const char* v = std::getenv(name)) {
        const long n = std::strtol(v, nullptr, 10);
        if (n > 0) return int(n < 64 ? n : 64);
      }
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
      const int n = CPU_COUNT(&set);
      return n < 1 ? 1 : (n < 64 ? n : 64);
    }
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : int(n < 64 ? n : 64);
  }();
  return threads;
}

class ThreadPool {
 public:
  // Runs fn(ctx, lo, hi, c) for chunks c = 0..chunks-1 of [0, n) (chunk c is
  // [c * size, min(n, (c + 1) * size))), on the caller and the awake workers; returns when all
  // have run. Returns false (and runs nothing) when the pool is busy with another caller's loop
  // or the caller is itself a worker: the caller then runs the loop alone.
  bool run(int64_t n, int chunks, ChunkFn fn, void* ctx) {
    if (in_worker() || busy_.exchange(true, std::memory_order_acquire)) return false;
    const int64_t t0 = now_ns();
    if (adaptive_ && t0 < serial_until_) {  // the cores are taken (see stalled): the caller runs it alone
      busy_.store(false, std::memory_order_release);
      return false;
    }
    start_workers();
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    size_ = (n + chunks - 1) / chunks;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t epoch = ((ticket_.load(std::memory_order_relaxed) >> 40) + 1) & 0xffffff;
    // seq_cst store and load here, seq_cst increment and load in a worker going to sleep: one
    // of the two sees the other (a worker never sleeps through a job it was not woken for).
    ticket_.store((epoch << 40) | (uint64_t(chunks) << 32));
    if (sleeping_.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    work(epoch);
    const int64_t t1 = now_ns();
    // Wait for chunks other threads claimed; they are running, so this is short unless the
    // system took their core away, in which case yield it back to them.
    for (int spins = 0; done_.load(std::memory_order_acquire) < chunks; ++spins) {
      if (spins < 2000) spin_pause(); else std::this_thread::yield();
    }
    stalled(t0, t1, now_ns());
    busy_.store(false, std::memory_order_release);
    return true;
  }

  static ThreadPool& instance() {
    // Never destroyed: workers may still be spinning or sleeping when the process exits.
    static ThreadPool* pool = new ThreadPool();
    return *pool;
  }

 private:
  ThreadPool() {
    pthread_atfork(nullptr, nullptr, &after_fork_in_child);
    const char* adaptive = std::getenv("CROTON_ADAPTIVE_THREADS");
    adaptive_ = adaptive == nullptr || std::strtol(adaptive, nullptr, 10) != 0;
  }

  // The child of a fork has none of the parent's threads: start afresh.
  static void after_fork_in_child() {
    ThreadPool& p = instance();
    new (&p.mutex_) std::mutex();
    new (&p.wake_) std::condition_variable();
    p.started_ = 0;
    p.sleeping_.store(0);
    p.busy_.store(false);
  }

  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count();
  }

  // Adaptive sharing. After its own chunks the caller waits for the chunks workers claimed:
  // on a machine whose cores other processes keep busy, a worker is descheduled holding one,
  // and the caller waits for it (a timeslice, milliseconds). When over a window of jobs that
  // wait is more than kStallShare of their time, loops run on the caller alone for a while
  // (serial_until_), which one core serves at full speed; then a threaded job measures again.
  // (An MLP step beside one busy process on 2 cores: 9.4 ms on two threads, 8.3 ms on one.)
  // CROTON_ADAPTIVE_THREADS=0 turns it off.
  void stalled(int64_t t0, int64_t t1, int64_t t2) {
    window_ns_ += t2 - t0;
    stall_ns_ += t2 - t1;
    if (window_ns_ < kWindowNs) return;
    if (stall_ns_ > window_ns_ * kStallShare / 100) {
      serial_ns_ = serial_ns_ == 0 ? kMinSerialNs
                   : (serial_ns_ * 2 < kMaxSerialNs ? serial_ns_ * 2 : kMaxSerialNs);
      serial_until_ = t2 + serial_ns_;
    } else {
      serial_ns_ = 0;
    }
    window_ns_ = stall_ns_ = 0;
  }

  static bool& in_worker() {
    static thread_local bool flag = false;
    return flag;
  }

  void start_workers() {
    const int wanted = pool_threads() - 1;
    for (; started_ < wanted; ++started_) {
      std::thread([this] { worker(); }).detach();
    }
  }

  // Claims and runs chunks of job `epoch` until none is left; true when it ran any.
  bool work(uint64_t epoch) {
    bool ran = false;
    for (;;) {
      uint64_t t = ticket_.load(std::memory_order_acquire);
      const uint64_t chunks = (t >> 32) & 0xff, next = t & 0xffffffffu;
      if ((t >> 40) != epoch || next >= chunks) return ran;
      if (!ticket_.compare_exchange_weak(t, t + 1, std::memory_order_acq_rel)) continue;
      // The claim holds the job's fields still: its caller waits for this chunk.
      const int64_t lo = int64_t(next) * size_, end = lo + size_;
      const int64_t hi = end < n_ ? end : n_;
      if (lo < hi) fn_(ctx_, lo, hi, int(next));
      done_.fetch_add(1, std::memory_order_release);
      ran = true;
    }
  }

  void worker() {
    in_worker() = true;
    uint64_t seen = ticket_.load(std::memory_order_acquire) >> 40;
    int spin_us = kMaxSpinUs;
    for (;;) {
      // Spin up to spin_us for the next job, then sleep until one is published. A spinning
      // worker that still arrives after its job's chunks are all taken (the system gave its
      // core to other work) halves its spin; one that gets work doubles it back: on a shared
      // machine idle workers stop spinning on cores other processes need.
      const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us);
      uint64_t epoch = ticket_.load(std::memory_order_acquire) >> 40;
      for (int i = 0; epoch == seen; ++i) {
        spin_pause();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) break;
        epoch = ticket_.load(std::memory_order_acquire) >> 40;
      }
      const bool slept = epoch == seen;
      if (slept) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_.fetch_add(1);
        wake_.wait(lock, [&] { return (ticket_.load() >> 40) != seen; });
        sleeping_.fetch_sub(1);
        epoch = ticket_.load(std::memory_order_acquire) >> 40;
      }
      seen = epoch;
      if (work(epoch)) {
        spin_us = spin_us * 2 > kMaxSpinUs ? kMaxSpinUs : (spin_us < 1 ? 1 : spin_us * 2);
      } else if (!slept) {
        spin_us /= 2;  // it was spinning when the job came, yet came too late: descheduled
      }
    }
  }

  static constexpr int kMaxSpinUs = 100;
  static constexpr int64_t kWindowNs = 2000000;      // jobs measured together: 2 ms of them
  static constexpr int64_t kStallShare = 25;         // percent of their time spent waiting
  static constexpr int64_t kMinSerialNs = 20000000;  // first serial spell: 20 ms, doubling
  static constexpr int64_t kMaxSerialNs = 320000000; // while the stalls go on, up to 320 ms

  // ticket: epoch (24 bits) | chunks (8 bits) | next chunk to claim (32 bits)
  std::atomic<uint64_t> ticket_{0};
  std::atomic<int> done_{0};
  std::atomic<int> sleeping_{0};
  std::atomic<bool> busy_{false};
  ChunkFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0, size_ = 0;
  // adaptive sharing (stalled), touched only by the caller holding busy_
  int64_t window_ns_ = 0, stall_ns_ = 0, serial_until_ = 0, serial_ns_ = 0;
  bool adaptive_ = true;  // CROTON_ADAPTIVE_THREADS=0: always share loops (no serial spells)
  int started_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace croton
