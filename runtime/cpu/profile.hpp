// Kernel timing for croton.function(..., profile=True): each timed kernel adds its call count
// and nanoseconds to one slot of a per-function table that Python reads (croton/profiling.py).
// Included only by functions compiled with profiling, so it costs nothing otherwise.
#pragma once
#include <stdint.h>
#include <time.h>

extern "C" {
typedef struct croton_profile_entry {
  uint64_t calls;
  uint64_t nanos;
} croton_profile_entry;
}

// A target whose kernels run asynchronously (CUDA: runtime/cuda/runtime.cuh) waits for them
// here, so a kernel's time is its own and not the launch's.
#ifndef CROTON_PROFILE_WAIT
#define CROTON_PROFILE_WAIT() ((void)0)
#endif

namespace croton {

inline uint64_t profile_clock() {
  CROTON_PROFILE_WAIT();
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

inline void profile_record(croton_profile_entry* slot, uint64_t start) {
  const uint64_t elapsed = profile_clock() - start;
  __atomic_fetch_add(&slot->calls, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&slot->nanos, elapsed, __ATOMIC_RELAXED);
}

}  // namespace croton
