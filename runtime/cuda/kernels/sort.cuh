// sort and argsort along one axis on the device (codegen/lowering/sort.py, target cuda; the
// CPU's are runtime/cpu/kernels/sort.hpp, with the same results). Entries are ordered by
// (value, index), NaNs last as NumPy: a total order, so any correct sort gives the stable order
// the CPU's std::stable_sort gives. Any strides.
//   - lines of up to kTile entries: one block per line, a bitonic sorting network in shared
//     memory (log2(n) (log2(n) + 1) / 2 steps, each a barrier of the block), written out;
//   - longer lines: each tile of kTile entries sorted so into device scratch memory (values and
//     indices), then merge passes doubling the sorted runs (one thread per entry finds its place
//     by a binary search in the other run), then written out.
//
// Example (generated code):
//   if (int rc = croton::cuda::sort_along<float, float, false>(B0, B1, 1, scratch, err)) return rc;
#pragma once
#include <cstdint>

#include "kernels/shape.cuh"  // CopyGeometry, copy_offsets
#include "kernels/sort.hpp"  // the CPU runtime's: sort_less, NumPy's order

namespace croton {
namespace cuda {

constexpr int64_t kTile = 2048;  // entries one block sorts in shared memory
constexpr int kSortThreads = 256;

// Entry (value a, index ia) before (b, ib): by value, then index. Index -1 marks the padding
// of a tile, after every entry.
template <class T>
__device__ __forceinline__ bool entry_before(const T& a, int64_t ia, const T& b, int64_t ib) {
  if (ia < 0 || ib < 0) return ib < 0 && ia >= 0;
  return sort_less(a, b) || (!sort_less(b, a) && ia < ib);
}

// Sorts keys/order[0, padded) of the block's shared arrays (padded: a power of two) with a
// bitonic network; every thread of the block calls it.
template <class T>
__device__ void bitonic_sort_block(T* keys, int64_t* order, int64_t padded) {
  for (int64_t k = 2; k <= padded; k <<= 1) {
    for (int64_t j = k >> 1; j > 0; j >>= 1) {
      for (int64_t i = threadIdx.x; i < padded; i += blockDim.x) {
        const int64_t l = i ^ j;
        if (l <= i) continue;
        const bool swap = (i & k) == 0 ? entry_before(keys[l], order[l], keys[i], order[i])
                                       : entry_before(keys[i], order[i], keys[l], order[l]);
        if (swap) {
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
}

// One block per (line, tile) pair, block-stride over them: the tile's entries sorted in shared
// memory. `direct`: the line is one tile and its result goes to `out` (value or index, with
// out's strides); otherwise to the scratch arrays `sk`/`si` (line-major, len entries a line).
template <class T, class O, bool kArg>
__global__ void __launch_bounds__(kSortThreads)
    sort_tiles_kernel(const T* x, O* out, T* sk, int64_t* si, CopyGeometry lines, int64_t xs,
                      int64_t os, int64_t len, int64_t tiles, int64_t count, int64_t padded,
                      bool direct) {
  __shared__ T keys[kTile];
  __shared__ int64_t order[kTile];
  for (int64_t work = blockIdx.x; work < count * tiles; work += gridDim.x) {
    const int64_t line = work / tiles, first = (work % tiles) * kTile;
    const int64_t n = len - first < kTile ? len - first : kTile;
    int64_t xo, oo;
    copy_offsets(line, lines, &xo, &oo);
    for (int64_t i = threadIdx.x; i < padded; i += blockDim.x) {
      order[i] = i < n ? first + i : -1;
      if (i < n) keys[i] = x[xo + (first + i) * xs];
    }
    __syncthreads();
    bitonic_sort_block(keys, order, padded);
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      if (direct) {
        if constexpr (kArg) out[oo + i * os] = O(order[i]);
        else out[oo + i * os] = static_cast<O>(keys[i]);
      } else {
        sk[line * len + first + i] = keys[i];
        si[line * len + first + i] = order[i];
      }
    }
    __syncthreads();  // the next tile reuses the shared arrays
  }
}

// One merge pass over every line: sorted runs of `width` entries become runs of 2 * width.
// Entry p of a run goes to its rank in its own run plus the number of entries of the paired
// run before it (a binary search): the order is total, so no two entries collide.
template <class T>
__global__ void merge_runs_kernel(const T* sk, const int64_t* si, T* dk, int64_t* di,
                                  int64_t len, int64_t width, int64_t total) {
  for (int64_t e = global_index(); e < total; e += grid_stride()) {
    const int64_t base = (e / len) * len, p = e % len;
    const int64_t pair = (p / (2 * width)) * (2 * width);
    const bool first = p - pair < width;
    const int64_t own = first ? pair : pair + width;
    const int64_t other = first ? pair + width : pair;
    const int64_t other_end = first ? (pair + 2 * width < len ? pair + 2 * width : len)
                                    : pair + width;
    const T key = sk[e];
    const int64_t index = si[e];
    int64_t lo = other < len ? other : len, hi = other_end > lo ? other_end : lo;
    while (lo < hi) {  // entries of the other run before this one
      const int64_t mid = lo + (hi - lo) / 2;
      if (entry_before(sk[base + mid], si[base + mid], key, index)) lo = mid + 1;
      else hi = mid;
    }
    const int64_t place = pair + (p - own) + (lo - (other < len ? other : len));
    dk[base + place] = key;
    di[base + place] = index;
  }
}

// The sorted scratch arrays written out (values or indices, with out's strides).
template <class T, class O, bool kArg>
__global__ void sort_write_kernel(const T* sk, const int64_t* si, O* out, CopyGeometry lines,
                                  int64_t os, int64_t len, int64_t total) {
  for (int64_t e = global_index(); e < total; e += grid_stride()) {
    int64_t xo, oo;
    copy_offsets(e / len, lines, &xo, &oo);
    O* dst = out + oo + (e % len) * os;
    if constexpr (kArg) *dst = O(si[e]);
    else *dst = static_cast<O>(sk[e]);
  }
}

// out = sort(x, axis) (kArg false, O = T) or argsort(x, axis) (kArg true, O = int64_t).
// `scratch`: the device scratch arena (two copies of every entry, value and index, for lines
// longer than a tile).
template <class T, class O, bool kArg, class DeviceScratch>
int sort_along(const croton_buffer& x, croton_buffer& out, int32_t axis, DeviceScratch& scratch,
               croton_error* err) {
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
  const char* what = kArg ? "the argsort kernel" : "the sort kernel";
  const int64_t tiles = (len + kTile - 1) / kTile;
  int64_t padded = 1;
  while (padded < (len < kTile ? len : kTile)) padded <<= 1;
  const int64_t blocks = resident_blocks() * 4, work = count * tiles;
  const unsigned grid = static_cast<unsigned>(work < blocks ? work : blocks);
  const auto* xp = static_cast<const T*>(x.data);
  auto* op = static_cast<O*>(out.data);
  auto* const tile_sort = sort_tiles_kernel<T, O, kArg>;  // commas: not a macro argument
  if (tiles == 1) {
    CROTON_LAUNCH(tile_sort, grid, kSortThreads)(xp, op, nullptr, nullptr, lines, x.strides[axis],
                                                 out.strides[axis], len, 1, count, padded, true);
    return check_launch(err, what);
  }
  const int64_t total = count * len;
  if (total > INT64_MAX / int64_t(2 * (sizeof(T) + sizeof(int64_t))))
    return fail_too_big(err, x.ndim, x.shape);
  T* keys[2] = {static_cast<T*>(scratch.alloc(total * int64_t(sizeof(T)))),
                static_cast<T*>(scratch.alloc(total * int64_t(sizeof(T))))};
  int64_t* order[2] = {static_cast<int64_t*>(scratch.alloc(total * int64_t(sizeof(int64_t)))),
                       static_cast<int64_t*>(scratch.alloc(total * int64_t(sizeof(int64_t))))};
  if (!keys[0] || !keys[1] || !order[0] || !order[1]) return fail_alloc(err);
  CROTON_LAUNCH(tile_sort, grid, kSortThreads)(xp, op, keys[0], order[0], lines, x.strides[axis],
                                               out.strides[axis], len, tiles, count, padded,
                                               false);
  if (int rc = check_launch(err, what)) return rc;
  int src = 0;
  for (int64_t width = kTile; width < len; width *= 2, src ^= 1) {
    auto* const merge = merge_runs_kernel<T>;
    CROTON_LAUNCH(merge, blocks_for(total), kThreads)(keys[src], order[src], keys[src ^ 1],
                                                      order[src ^ 1], len, width, total);
    if (int rc = check_launch(err, what)) return rc;
  }
  auto* const write = sort_write_kernel<T, O, kArg>;
  CROTON_LAUNCH(write, blocks_for(total), kThreads)(keys[src], order[src], op, lines,
                                                    out.strides[axis], len, total);
  return check_launch(err, what);
}

}  // namespace cuda
}  // namespace croton
