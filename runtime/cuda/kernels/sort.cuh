// sort and argsort along one axis on the device (codegen/lowering/sort.py, target cuda; the
// CPU's are runtime/cpu/kernels/sort.hpp, with the same results). Entries are ordered by
// (value, index), NaNs last as NumPy: a total order, so any correct sort gives the stable order
// the CPU's std::stable_sort gives. Any strides; no scratch memory.
//   - lines of up to kBlockSortMax entries: one block per line, a bitonic sorting network in
//     shared memory (log2(n) (log2(n) + 1) / 2 steps, each a barrier of the block);
//   - longer lines: one thread per line, a heap sort in place in the output (a long 1-D sort
//     runs on a single GPU thread: correct, not fast).
//
// Example (generated code):
//   if (int rc = croton::cuda::sort_along<float, float, false>(B0, B1, 1, scratch, err)) return rc;
#pragma once
#include <cstdint>

#include "kernels/shape.cuh"  // CopyGeometry, copy_offsets
#include "kernels/sort.hpp"  // the CPU runtime's: sort_less, NumPy's order

namespace croton {
namespace cuda {

// Sorts the n entries key(0..n-1) of a line in place: `before(a, b)` orders two entries,
// `swap(a, b)` exchanges them (heap sort: O(n log n) comparisons, no extra memory).
template <class Before, class Swap>
__device__ void heap_sort(int64_t n, Before before, Swap swap) {
  auto sift = [&](int64_t root, int64_t end) {
    for (;;) {
      int64_t child = 2 * root + 1;
      if (child >= end) return;
      if (child + 1 < end && before(child, child + 1)) ++child;
      if (!before(root, child)) return;
      swap(root, child);
      root = child;
    }
  };
  for (int64_t start = n / 2 - 1; start >= 0; --start) sift(start, n);
  for (int64_t end = n - 1; end > 0; --end) {
    swap(0, end);
    sift(0, end);
  }
}

// lines: the shape of every axis but the sorted one, x's strides (source) and out's (dest.)
template <class T, class O, bool kArg>
__global__ void sort_kernel(const T* x, O* out, CopyGeometry lines, int64_t xs, int64_t os,
                            int64_t len, int64_t count) {
  for (int64_t e = global_index(); e < count; e += grid_stride()) {
    int64_t xo, oo;
    copy_offsets(e, lines, &xo, &oo);
    const T* xl = x + xo;
    O* ol = out + oo;
    if constexpr (kArg) {
      for (int64_t k = 0; k < len; ++k) ol[k * os] = O(k);
      heap_sort(
          len,
          [&](int64_t a, int64_t b) {
            const int64_t ia = int64_t(ol[a * os]), ib = int64_t(ol[b * os]);
            const T va = xl[ia * xs], vb = xl[ib * xs];
            return sort_less(va, vb) || (!sort_less(vb, va) && ia < ib);
          },
          [&](int64_t a, int64_t b) {
            const O t = ol[a * os];
            ol[a * os] = ol[b * os];
            ol[b * os] = t;
          });
    } else {
      for (int64_t k = 0; k < len; ++k) ol[k * os] = static_cast<O>(xl[k * xs]);
      heap_sort(
          len, [&](int64_t a, int64_t b) { return sort_less(ol[a * os], ol[b * os]); },
          [&](int64_t a, int64_t b) {
            const O t = ol[a * os];
            ol[a * os] = ol[b * os];
            ol[b * os] = t;
          });
    }
  }
}

constexpr int64_t kBlockSortMax = 2048;  // entries of a line sorted by one block
constexpr int kBlockSortThreads = 256;

// One block per line (block-stride over lines): the line's values and indices in shared
// memory, padded to a power of two `padded` with entries that sort last, sorted by a bitonic
// network, then written out.
template <class T, class O, bool kArg>
__global__ void __launch_bounds__(kBlockSortThreads)
    block_sort_kernel(const T* x, O* out, CopyGeometry lines, int64_t xs, int64_t os,
                      int64_t len, int64_t count, int64_t padded) {
  __shared__ T keys[kBlockSortMax];
  __shared__ int64_t order[kBlockSortMax];
  // entry a before entry b: by value, then index; padding (index >= len) after every entry
  auto before = [&](int64_t a, int64_t b) {
    const int64_t ia = order[a], ib = order[b];
    if (ia >= len || ib >= len) return ia < ib;
    return sort_less(keys[a], keys[b]) || (!sort_less(keys[b], keys[a]) && ia < ib);
  };
  for (int64_t line = blockIdx.x; line < count; line += gridDim.x) {
    int64_t xo, oo;
    copy_offsets(line, lines, &xo, &oo);
    for (int64_t i = threadIdx.x; i < padded; i += blockDim.x) {
      order[i] = i;
      if (i < len) keys[i] = x[xo + i * xs];
    }
    __syncthreads();
    for (int64_t k = 2; k <= padded; k <<= 1) {
      for (int64_t j = k >> 1; j > 0; j >>= 1) {
        for (int64_t i = threadIdx.x; i < padded; i += blockDim.x) {
          const int64_t l = i ^ j;
          if (l <= i) continue;
          if ((i & k) == 0 ? before(l, i) : before(i, l)) {
            const T t = keys[i];
            keys[i] = keys[l];
            keys[l] = t;
            const int64_t o = order[i];
            order[i] = order[l];
            order[l] = o;
          }
        }
        __syncthreads();
      }
    }
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
      if constexpr (kArg) out[oo + i * os] = O(order[i]);
      else out[oo + i * os] = static_cast<O>(keys[i]);
    }
    __syncthreads();  // the next line reuses the shared arrays
  }
}

// out = sort(x, axis) (kArg false, O = T) or argsort(x, axis) (kArg true, O = int64_t).
// (`scratch`, the device scratch, is unused: the sorts work in shared memory or in `out`.)
template <class T, class O, bool kArg, class DeviceScratch>
int sort_along(const croton_buffer& x, croton_buffer& out, int32_t axis, DeviceScratch& scratch,
               croton_error* err) {
  (void)scratch;
  CopyGeometry lines;
  int64_t count = 1;
  for (int32_t d = 0; d < x.ndim; ++d) {
    if (d == axis) continue;
    lines.shape[lines.ndim] = x.shape[d];
    lines.sstr[lines.ndim] = x.strides[d];
    lines.dstr[lines.ndim] = out.strides[d];
    count *= x.shape[d];
    ++lines.ndim;
  }
  const int64_t len = x.shape[axis];
  if (count == 0 || len == 0) return 0;
  if (len <= kBlockSortMax) {
    int64_t padded = 1;
    while (padded < len) padded <<= 1;
    const int64_t cap = resident_blocks() * 4;
    auto* const blocks = block_sort_kernel<T, O, kArg>;  // commas: not a macro argument
    CROTON_LAUNCH(blocks, static_cast<unsigned>(count < cap ? count : cap), kBlockSortThreads)(
        static_cast<const T*>(x.data), static_cast<O*>(out.data), lines, x.strides[axis],
        out.strides[axis], len, count, padded);
    return check_launch(err, kArg ? "the argsort kernel" : "the sort kernel");
  }
  auto* const kernel = sort_kernel<T, O, kArg>;  // a name with commas: not a macro argument
  CROTON_LAUNCH(kernel, blocks_for(count), kThreads)(
      static_cast<const T*>(x.data), static_cast<O*>(out.data), lines, x.strides[axis],
      out.strides[axis], len, count);
  return check_launch(err, kArg ? "the argsort kernel" : "the sort kernel");
}

}  // namespace cuda
}  // namespace croton
