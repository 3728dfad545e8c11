// Block reductions of the CUDA target's reduce kernels (codegen/templates/cuda/loops.j2): each
// thread folds its elements into an accumulator, then the block combines its threads'
// accumulators with warp shuffles and one shared-memory round. A large reduction into few
// outputs runs in two passes without atomics (deterministic): blocks write partial results,
// then one block per output combines them.
#pragma once
#include <cstdint>
#include <type_traits>

namespace croton {
namespace cuda {

// __shfl_down_sync for any accumulator type of the op table: bool and small integers travel
// as int, 64-bit types as themselves.
template <class T>
__device__ __forceinline__ T shuffle_down(T value, unsigned delta) {
  if constexpr (std::is_same_v<T, bool> || (std::is_integral_v<T> && sizeof(T) < 4)) {
    return static_cast<T>(__shfl_down_sync(0xffffffffu, static_cast<int>(value), delta));
  } else {
    return __shfl_down_sync(0xffffffffu, value, delta);
  }
}

// The combination of every thread's `acc` in the block, valid in thread 0. blockDim.x is a
// multiple of 32 (at most 1024); `combine(a, b)` is the reduction's own combine step,
// `identity` its start value; `shared` holds 32 accumulators.
template <class Acc, class Combine>
__device__ Acc block_reduce(Acc acc, Acc identity, Combine combine, Acc* shared) {
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
  for (unsigned delta = 16; delta > 0; delta >>= 1) acc = combine(acc, shuffle_down(acc, delta));
  __syncthreads();  // `shared` may still be read by the previous round's warp 0
  if (lane == 0) shared[warp] = acc;
  __syncthreads();
  if (warp == 0) {
    acc = lane < (blockDim.x >> 5) ? shared[lane] : identity;
    for (unsigned delta = 16; delta > 0; delta >>= 1)
      acc = combine(acc, shuffle_down(acc, delta));
  }
  return acc;
}

// Threads per block for reductions of `n_red` elements each: a multiple of 32 up to 256.
inline int reduce_threads(int64_t n_red) {
  int threads = 32;
  while (threads < 256 && threads < n_red) threads *= 2;
  return threads;
}

// How many blocks share one output (the first pass of two): 1 (one pass) unless the outputs
// are too few to fill the device and each has many elements.
inline int64_t reduce_parts(int64_t n_out, int64_t n_red, int threads) {
  if (n_out <= 0 || n_red < int64_t(threads) * 16) return 1;
  const int64_t want = resident_blocks() / n_out;  // blocks that fill the device, per output
  int64_t parts = n_red / (int64_t(threads) * 8);  // at least 8 elements per thread
  if (parts > want) parts = want;
  if (parts > 1024) parts = 1024;
  return parts < 2 ? 1 : parts;
}

// Row slices per output of a reduction over leading axes (one thread per output column): 1
// when the columns alone fill the device, else enough slices to fill it, each of at least 8
// rows.
inline int64_t leading_parts(int64_t n_out, int64_t n_red) {
  const int64_t threads = resident_blocks() * kThreads;
  int64_t parts = n_out > 0 ? threads / n_out : 1;
  if (parts > n_red / 8) parts = n_red / 8;
  if (parts > 1024) parts = 1024;
  return parts < 2 ? 1 : parts;
}

}  // namespace cuda
}  // namespace croton
