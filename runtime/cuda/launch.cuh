// Launch geometry of the CUDA target's kernels (codegen/templates/cuda/loops.j2): grid-stride
// loops over int64 indices, so any element count runs with a grid sized to the device, not to
// the data.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace croton {
namespace cuda {

// `CROTON_LAUNCH(kernel, grid, block)(args...)`: a launch written in a runtime header (the
// generated code writes `<<<...>>>` itself). The CPU emulation of the tests (tests/cuda_emu)
// defines its own before this header is read.
#ifndef CROTON_LAUNCH
#define CROTON_LAUNCH(kernel, grid, block) kernel<<<(grid), (block)>>>
#endif

constexpr int kThreads = 256;  // threads per block of an elementwise kernel

// Blocks resident at once on the current device, times a few waves: enough to fill it; a
// grid-stride loop covers the rest. Asked once per device and process.
inline int64_t resident_blocks() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int64_t> known[kMaxDevices] = {};
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    device = 0;
  }
  const bool cached = device >= 0 && device < kMaxDevices;
  if (cached) {
    if (const int64_t blocks = known[device].load(std::memory_order_relaxed)) return blocks;
  }
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();
    sms = 1;
  }
  const int64_t blocks = int64_t(sms) * 8;
  if (cached) known[device].store(blocks, std::memory_order_relaxed);
  return blocks;
}

// The blocks of a grid-stride launch over `n` work items of `per_block` each.
inline unsigned blocks_for(int64_t n, int64_t per_block = kThreads) {
  int64_t blocks = (n + per_block - 1) / per_block;
  const int64_t cap = resident_blocks() * 4;
  if (blocks > cap) blocks = cap;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

// The global index of this thread and the grid's stride, in int64 (no overflow past 2^31).
__device__ __forceinline__ int64_t global_index() {
  return int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ int64_t grid_stride() { return int64_t(gridDim.x) * blockDim.x; }

// n / d for 0 <= n < 2^31 by a multiply-high, an add and a shift, with the divisor's magic
// number made once on the host (Hacker's Delight 10-9; PyTorch's IntDivider): the strided
// elementwise kernels split a flat index into coordinates with it, where a 64-bit division
// is a long software routine on a GPU. `t + n` cannot overflow: t <= n < 2^31.
struct FastDivider {
  uint32_t divisor = 1, magic = 1, shift = 0;
  FastDivider() = default;
  explicit FastDivider(uint32_t d) : divisor(d) {
    while (shift < 32 && (uint64_t(1) << shift) < d) ++shift;
    magic = uint32_t(((uint64_t(1) << 32) * ((uint64_t(1) << shift) - d)) / d + 1);
  }
  __host__ __device__ __forceinline__ uint32_t quotient(uint32_t n) const {
#ifdef __CUDA_ARCH__
    const uint32_t t = __umulhi(n, magic);
#else
    const uint32_t t = uint32_t((uint64_t(n) * magic) >> 32);
#endif
    return (t + n) >> shift;
  }
};

// The largest element count the strided kernels index with 32-bit coordinates (FastDivider);
// larger loops take the 64-bit kernel. The CPU emulation of the tests defines its own.
#ifndef CROTON_NARROW_INDEX_LIMIT
#define CROTON_NARROW_INDEX_LIMIT() int64_t(INT32_MAX)
#endif

// Packed loads and stores of the contiguous elementwise kernels (ew_pack_*): a Pack of N
// elements is one aligned access of N * sizeof(T) bytes (16 for float32 x 4), which the
// compiler emits as one vector instruction (ld.global.v4 / st.global.v4).
template <class T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// Elements per pack for a kernel over these element types: 16 bytes of the widest, at most 8.
template <class... T>
constexpr int pack_width() {
  size_t widest = 1;
  ((widest = sizeof(T) > widest ? sizeof(T) : widest), ...);
  const size_t n = 16 / widest;
  return int(n > 8 ? 8 : (n < 1 ? 1 : n));
}

template <int N, class T>
__device__ __forceinline__ Pack<T, N> load_pack(const T* p) {
  return *reinterpret_cast<const Pack<T, N>*>(p);
}
template <int N, class T>
__device__ __forceinline__ void store_pack(T* p, const Pack<T, N>& value) {
  *reinterpret_cast<Pack<T, N>*>(p) = value;
}

// Whether every pointer is aligned to its pack of N elements (a view into an array may not be).
template <int N, class... T>
inline bool pack_aligned(const T*... p) {
  return ((reinterpret_cast<uintptr_t>(p) % (sizeof(T) * N) == 0) && ...);
}

// *dst = value on the device (a shape written into a computed int64 scalar).
template <class T>
__global__ void store_scalar(T* dst, T value) {
  *dst = value;
}

}  // namespace cuda
}  // namespace croton
