// A CPU emulation of the part of CUDA that the CUDA target's generated code and runtime/cuda
// use, for tests/test_cuda_emulated.py only: kernels run as real threads (one std::thread per
// CUDA thread, blocks one after another), __syncthreads is a barrier of the block, warp
// shuffles exchange values through a per-warp barrier, device memory is host memory. It checks
// the logic of the generated kernels (indexing, broadcasting, grid-stride loops, block and
// two-pass reductions, the host driver's launches and errors); it says nothing about nvcc's code
// or a GPU's behaviour. Launches `k<<<g, b>>>(args)` are rewritten by the test to
// `croton_emu::Launch(k, g, b).run(args)`.
#pragma once
#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
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
inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;

enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2 };
enum cudaDeviceAttr { cudaDevAttrMultiProcessorCount = 16 };
using cudaStream_t = void*;

namespace croton_emu {
inline std::barrier<>* block_barrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>> warp_barriers;
inline std::vector<uint64_t> slots;  // one per thread of the block: shuffled values
inline int launches = 0;

template <class... P>
struct Launch {
  void (*kernel)(P...);
  unsigned grid, block;
  Launch(void (*k)(P...), unsigned g, unsigned b) : kernel(k), grid(g), block(b) {}
  template <class... A>
  void run(A... args) {
    ++launches;
    gridDim.x = grid;
    blockDim.x = block;
    std::barrier<> bar(block);
    block_barrier = &bar;
    warp_barriers.clear();
    for (unsigned w = 0; w < block; w += 32)
      warp_barriers.push_back(std::make_unique<std::barrier<>>(block - w < 32 ? block - w : 32));
    slots.assign(block, 0);
    // one thread per CUDA thread of a block; they run the blocks one after another, all
    // finishing a block before any starts the next (as blocks that share no state may)
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < block; ++t)
      threads.emplace_back([this, t, &bar, args...] {
        threadIdx.x = t;
        for (unsigned b = 0; b < grid; ++b) {
          blockIdx.x = b;
          kernel(args...);
          bar.arrive_and_wait();
        }
      });
    for (auto& t : threads) t.join();
  }
};
}  // namespace croton_emu

inline void __syncthreads() { croton_emu::block_barrier->arrive_and_wait(); }

template <class T>
T __shfl_down_sync(unsigned, T value, unsigned delta) {
  static_assert(sizeof(T) <= sizeof(uint64_t));
  const unsigned t = threadIdx.x, lane = t & 31u;
  auto& bar = *croton_emu::warp_barriers[t >> 5];
  std::memcpy(&croton_emu::slots[t], &value, sizeof(T));
  bar.arrive_and_wait();
  T out = value;
  if (lane + delta < 32 && t + delta < blockDim.x)
    std::memcpy(&out, &croton_emu::slots[t + delta], sizeof(T));
  bar.arrive_and_wait();
  return out;
}

inline cudaError_t cudaGetLastError() { return cudaSuccess; }
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
  *d = 0;
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
// the launches so far (one translation unit includes this header: a plain definition)
extern "C" int croton_emu_launches() { return croton_emu::launches; }
