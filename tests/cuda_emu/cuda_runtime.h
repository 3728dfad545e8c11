// A CPU emulation of the part of CUDA that the CUDA target's generated code and runtime/cuda
// use, for tests/test_cuda_emulated.py only: each CUDA thread of a block is a fiber (blocks one
// after another), __syncthreads is a barrier of the block, warp shuffles exchange values
// through a per-warp barrier, device memory is host memory. It checks
// the logic of the generated kernels (indexing, broadcasting, grid-stride loops, block and
// two-pass reductions, the host driver's launches and errors); it says nothing about nvcc's code
// or a GPU's behaviour. Launches `k<<<g, b>>>(args)` are rewritten by the test to
// `croton_emu::Launch(croton_emu::Named{"k"}, k, g, b).run(args)`.
#pragma once
#include <ucontext.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static  // blocks run one at a time: one copy serves each block in turn

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline dim3 threadIdx, blockIdx, blockDim, gridDim;  // threadIdx: the running fiber's

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidDevice = 101
};
enum cudaMemcpyKind {
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
using cudaStream_t = void*;

// Devices: CROTON_EMU_DEVICES of them (1 by default), all the host's memory; the current one is
// the thread's, as CUDA's. Each launch records the device it ran on.
namespace croton_emu {
inline int device_count() {
  const char* n = std::getenv("CROTON_EMU_DEVICES");
  return n != nullptr && std::atoi(n) > 0 ? std::atoi(n) : 1;
}
inline int& current_device() {
  static thread_local int device = 0;
  return device;
}
inline int last_launch_device = -1;
inline unsigned last_launch_grid = 0;  // blocks of the latest launch
inline const char* last_launch_kernel = "";  // the latest launch's kernel, as the source names it
struct Named {  // a launch's kernel name (the test's rewrite of `k<<<g, b>>>` passes it)
  const char* name;
};
}  // namespace croton_emu

namespace croton_emu {
// Each CUDA thread of a block is a fiber (ucontext) on the calling thread; a fiber runs until
// it finishes or waits at a barrier, then the next one runs (round robin), so barriers and
// shuffles see every thread of the block arrive, as on a GPU, without OS threads.
struct Fiber {
  ucontext_t context;
  std::unique_ptr<char[]> stack;
  unsigned thread = 0;
  bool done = false;
};
inline ucontext_t scheduler;
inline Fiber* current = nullptr;
inline std::function<void()> body;  // the kernel with its arguments
inline int launches = 0;
// One launch at a time, as kernels on one stream: host threads that call functions at once
// (their kernels' shared memory, barriers and fibers are this emulation's globals) take turns.
inline std::mutex launch_mutex;

inline void yield() { swapcontext(&current->context, &scheduler); }

struct Barrier {
  unsigned count = 0, arrived = 0;
  uint64_t generation = 0;
  void wait() {
    const uint64_t mine = generation;
    if (++arrived == count) {
      arrived = 0;
      ++generation;
      return;
    }
    while (generation == mine) yield();
  }
};
inline Barrier block_barrier;
inline std::vector<Barrier> warp_barriers;
inline std::vector<uint64_t> slots;  // one per thread of the block: shuffled values

inline void run_fiber() {
  threadIdx.x = current->thread;
  body();
  current->done = true;
}

template <class... P>
struct Launch {
  void (*kernel)(P...);
  unsigned grid, block;
  const char* name = "";  // "" for a runtime header's CROTON_LAUNCH
  Launch(void (*k)(P...), unsigned g, unsigned b) : kernel(k), grid(g), block(b) {}
  Launch(Named n, void (*k)(P...), unsigned g, unsigned b)
      : kernel(k), grid(g), block(b), name(n.name) {}
  template <class... A>
  void run(A... args) {
    constexpr size_t kStack = 64 * 1024;
    std::lock_guard<std::mutex> lock(launch_mutex);
    ++launches;
    last_launch_device = current_device();
    last_launch_grid = grid;
    last_launch_kernel = name;
    gridDim.x = grid;
    blockDim.x = block;
    body = [this, args...] { kernel(args...); };
    std::vector<Fiber> fibers(block);
    for (auto& f : fibers) f.stack.reset(new char[kStack]);
    // CROTON_EMU_REVERSE=1 runs the blocks, and the threads of each block between barriers, in
    // the opposite order: a kernel that reads what another block, or another thread before a
    // barrier, wrote without waiting for it gives a different result one way or the other.
    const char* order = std::getenv("CROTON_EMU_REVERSE");
    const bool reverse = order != nullptr && std::atoi(order) != 0;
    for (unsigned i = 0; i < grid; ++i) {
      const unsigned b = reverse ? grid - 1 - i : i;
      blockIdx.x = b;
      block_barrier = Barrier{block};
      warp_barriers.assign((block + 31) / 32, Barrier{});
      for (unsigned w = 0; w < warp_barriers.size(); ++w)
        warp_barriers[w].count = block - 32 * w < 32 ? block - 32 * w : 32;
      slots.assign(block, 0);
      for (unsigned t = 0; t < block; ++t) {
        Fiber& f = fibers[t];
        f.thread = t;
        f.done = false;
        getcontext(&f.context);
        f.context.uc_stack.ss_sp = f.stack.get();
        f.context.uc_stack.ss_size = kStack;
        f.context.uc_link = &scheduler;
        makecontext(&f.context, &run_fiber, 0);
      }
      for (bool busy = true; busy;) {
        busy = false;
        for (unsigned t = 0; t < block; ++t) {
          Fiber& f = fibers[reverse ? block - 1 - t : t];
          if (f.done) continue;
          current = &f;
          threadIdx.x = f.thread;
          swapcontext(&scheduler, &f.context);
          busy = busy || !f.done;
        }
      }
    }
  }
};
}  // namespace croton_emu

// the strided kernels' 32-bit limit (runtime/cuda/launch.cuh): CROTON_EMU_WIDE_INDEX=1 sends
// every loop to the 64-bit kernel, which a GPU would take only past 2^31 elements
#define CROTON_NARROW_INDEX_LIMIT() \
  (std::getenv("CROTON_EMU_WIDE_INDEX") != nullptr ? int64_t(-1) : int64_t(INT32_MAX))

// a launch in a runtime header (runtime/cuda/launch.cuh), not rewritten by the test
#define CROTON_LAUNCH(kernel, grid, block) croton_emu::Launch(kernel, grid, block).run

inline void __syncthreads() { croton_emu::block_barrier.wait(); }

template <class T>
T __shfl_down_sync(unsigned, T value, unsigned delta) {
  static_assert(sizeof(T) <= sizeof(uint64_t));
  const unsigned t = threadIdx.x, lane = t & 31u;
  auto& bar = croton_emu::warp_barriers[t >> 5];
  std::memcpy(&croton_emu::slots[t], &value, sizeof(T));
  bar.wait();
  T out = value;
  if (lane + delta < 32 && t + delta < blockDim.x)
    std::memcpy(&out, &croton_emu::slots[t + delta], sizeof(T));
  bar.wait();
  return out;
}

namespace croton_emu {
inline bool fail_next_launch = false;  // the next launch reports an error (a test's request)
}
inline cudaError_t cudaGetLastError() {
  const bool fail = croton_emu::fail_next_launch;
  croton_emu::fail_next_launch = false;
  return fail ? cudaErrorInvalidValue : cudaSuccess;
}
inline const char* cudaGetErrorName(cudaError_t) { return "cudaErrorEmulated"; }
inline const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
inline cudaError_t cudaMalloc(void** p, size_t n) {
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaGetDevice(int* d) {
  *d = croton_emu::current_device();
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int d) {
  if (d < 0 || d >= croton_emu::device_count()) return cudaErrorInvalidDevice;
  croton_emu::current_device() = d;
  return cudaSuccess;
}
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) {
  *v = 1;  // one multiprocessor: small grids, so grid-stride loops and two passes run
  return cudaSuccess;
}
template <class T>
cudaError_t cudaGetSymbolAddress(void** p, const T& symbol) {
  *p = const_cast<void*>(static_cast<const void*>(&symbol));
  return cudaSuccess;
}
// control flow's host reads and zeroing (runtime/cuda/kernels/control.cuh), random checks
inline cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind) {
  std::memcpy(dst, src, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t) {
  std::memset(p, value, n);
  return cudaSuccess;
}
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  const unsigned long long old = *p;  // fibers of a block run one at a time: no race
  if (v < old) *p = v;
  return old;
}
inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) {
  const unsigned long long old = *p;  // as atomicMin: no race
  if (v > old) *p = v;
  return old;
}
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  const unsigned long long old = *p;  // as atomicMin: no race
  *p = old + v;
  return old;
}
// the launches so far (plain definitions: one translation unit of a program defines them; the
// others, e.g. an exported library's context, are compiled with CROTON_EMU_SECONDARY_UNIT)
#ifndef CROTON_EMU_SECONDARY_UNIT
extern "C" int croton_emu_launches() { return croton_emu::launches; }
// make the next launch report cudaErrorInvalidValue (the host driver's error path)
extern "C" void croton_emu_fail_next_launch() { croton_emu::fail_next_launch = true; }
// the device the latest launch ran on (-1: none yet), and the thread's current device
extern "C" int croton_emu_last_launch_device() { return croton_emu::last_launch_device; }
extern "C" int croton_emu_current_device() { return croton_emu::current_device(); }
// the blocks of the latest launch (which of a loop's kernels ran: packed or one element a thread)
extern "C" unsigned croton_emu_last_launch_grid() { return croton_emu::last_launch_grid; }
// the latest launch's kernel as the generated source names it ("" for a runtime header's)
extern "C" const char* croton_emu_last_launch_kernel() { return croton_emu::last_launch_kernel; }
#endif
