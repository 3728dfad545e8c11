// Indexing on the device (codegen/lowering/cuda_indexing.py): advanced-index gathers and
// scatters (set / accumulate) over a basic view, and the per-row gather and scatter of
// cross-entropy with class indices. The host's view arithmetic is the CPU's
// (runtime/cpu/kernels/subtensor.hpp: croton::subtensor::View touches no array data).
//
// Index errors: a kernel checks every index on the device and keeps the first bad position (the
// CPU's order) with atomicMin in a device word; the host copies that word back (one small
// synchronous copy per call of an op that checks indices, as Theano's GPU kernels read back
// their error flag) and reports the index like the CPU, before anything is scattered.
//
// Determinism: repeated indices accumulate in the CPU's order (the same sums, bit for bit) and
// the last write wins for set; no atomics on values. A scatter marks each target's first and
// last position (integer atomicMin/atomicMax) and the first one's thread walks the positions
// in order; when the indexed axes span too many elements for that table, a thread per element
// of the region's non-indexed dims walks every position instead.
//
// Example (generated code):
//   if (int rc = croton::cuda::gather<float>(err, B4, 1, idx, axes, checks, true, B5, scratch))
//     return rc;
#pragma once
#include <cstdint>

#include "kernels/subtensor.hpp"  // the CPU runtime's (runtime/cpu/kernels): View, load_index

namespace croton {
namespace cuda {

constexpr unsigned long long kNoBadIndex = ~0ull;

// An index element of any integer dtype, on the device (subtensor::load_index's rule).
__device__ __forceinline__ int64_t load_index(const void* p, int32_t dtype, int64_t at) {
  switch (dtype) {
    case CROTON_INT8: return static_cast<const int8_t*>(p)[at];
    case CROTON_INT16: return static_cast<const int16_t*>(p)[at];
    case CROTON_INT32: return static_cast<const int32_t*>(p)[at];
    case CROTON_UINT8: return static_cast<const uint8_t*>(p)[at];
    case CROTON_UINT16: return static_cast<const uint16_t*>(p)[at];
    case CROTON_UINT32: return static_cast<const uint32_t*>(p)[at];
    case CROTON_UINT64: {
      const uint64_t v = static_cast<const uint64_t*>(p)[at];
      return v > uint64_t(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
    }
    default: return static_cast<const int64_t*>(p)[at];
  }
}

// A device word holding the first bad position a kernel found (kNoBadIndex: none).
class BadIndexSlot {
 public:
  // Allocates the word from scratch and sets it to kNoBadIndex (all bits: stream-ordered, no
  // wait); nonzero (err filled) on failure.
  int open(croton_error* err, DeviceScratch& scratch) {
    word_ = static_cast<unsigned long long*>(scratch.alloc(sizeof(unsigned long long)));
    if (word_ == nullptr) return fail_alloc(err);
    const cudaError_t status = cudaMemsetAsync(word_, 0xFF, sizeof(kNoBadIndex), 0);
    return status == cudaSuccess ? 0 : fail_cuda(err, status, "clearing an index check");
  }
  unsigned long long* word() const { return word_; }
  // The first bad position (kNoBadIndex: none) into *bad, after the checking kernel.
  int read(croton_error* err, unsigned long long* bad) const {
    const cudaError_t status = cudaMemcpy(bad, word_, sizeof(*bad), cudaMemcpyDeviceToHost);
    return status == cudaSuccess ? 0 : fail_cuda(err, status, "reading an index check");
  }

 private:
  unsigned long long* word_ = nullptr;
};

// One index element read on the host (an error message's index): a copy of it.
inline int64_t host_index(const croton_buffer& b, int64_t at) {
  croton_buffer e = b;
  e.data = static_cast<char*>(b.data) + at * dtype_size(b.dtype);
  if (b.dtype == CROTON_UINT64) {
    const uint64_t v = value<uint64_t>(e);
    return v > uint64_t(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
  }
  return value<int64_t>(e);
}

// --- advanced indexing ---------------------------------------------------------------------
// The index arrays, broadcast together (subtensor::make_region's layout), passed by value.
struct IndexArrays {
  int32_t k = 0, nb = 0;
  int64_t count = 1;                          // broadcast positions
  int64_t bshape[CROTON_MAX_NDIM] = {};
  const void* data[CROTON_MAX_NDIM] = {};
  int32_t dtype[CROTON_MAX_NDIM] = {};
  int64_t stride[CROTON_MAX_NDIM][CROTON_MAX_NDIM] = {};  // [array][broadcast dim], 0: broadcast
  int64_t xlen[CROTON_MAX_NDIM] = {}, xstride[CROTON_MAX_NDIM] = {};  // the axis each indexes
};

// The region an index selects (subtensor::Region without its table), and which of its dims
// are the broadcast dims of the index arrays (`table`).
struct DeviceRegion {
  int32_t ndim = 0;
  int64_t shape[CROTON_MAX_NDIM] = {};
  int64_t xstride[CROTON_MAX_NDIM] = {};
  int64_t tstride[CROTON_MAX_NDIM] = {};
  bool table[CROTON_MAX_NDIM] = {};
};

// offsets[t] = the element offset in x of broadcast position t, and (targets != nullptr) its
// indices as one number in the indexed axes' C order; the first bad index (position t * k + j,
// the CPU's order) goes to *bad.
__global__ void index_offsets(IndexArrays a, int64_t* offsets, int64_t* targets,
                              unsigned long long* bad) {
  for (int64_t t = global_index(); t < a.count; t += grid_stride()) {
    int64_t pos[CROTON_MAX_NDIM] = {};
    int64_t rest = t;
    for (int32_t d = a.nb - 1; d >= 0; --d) {
      pos[d] = rest % a.bshape[d];
      rest /= a.bshape[d];
    }
    int64_t offset = 0, target = 0;
    for (int32_t j = 0; j < a.k; ++j) {
      int64_t at = 0;
      for (int32_t d = 0; d < a.nb; ++d) at += pos[d] * a.stride[j][d];
      const int64_t i = load_index(a.data[j], a.dtype[j], at);
      const int64_t w = i < 0 ? i + a.xlen[j] : i;
      if (w < 0 || w >= a.xlen[j]) {
        atomicMin(bad, static_cast<unsigned long long>(t * a.k + j));
        offset = 0;
        break;
      }
      offset += w * a.xstride[j];
      target = target * a.xlen[j] + w;
    }
    offsets[t] = offset;
    if (targets != nullptr) targets[t] = target;
  }
}

// Builds the region of `x` (a view) selected by the k index arrays, computes their offsets on
// the device and checks them; an index out of range fails check checks[j] with the CPU's
// message. `offsets` is nullptr when k == 0 (the region is x itself). With `targets`, also the
// indices of each position as one number (*targets, nullptr when k == 0) below *space.
inline int make_region(croton_error* err, const croton_buffer& x, int32_t k,
                       const croton_buffer* const* idx, const int32_t* axes,
                       const int32_t* checks, bool adjacent, DeviceScratch& scratch,
                       DeviceRegion* r, const int64_t** offsets,
                       const int64_t** targets = nullptr, int64_t* space = nullptr) {
  IndexArrays a;
  a.k = k;
  for (int32_t j = 0; j < k; ++j) a.nb = idx[j]->ndim > a.nb ? idx[j]->ndim : a.nb;
  for (int32_t d = 0; d < a.nb; ++d) {
    a.bshape[d] = 1;
    for (int32_t j = 0; j < k; ++j) {
      const int32_t dj = d - (a.nb - idx[j]->ndim);
      if (dj >= 0 && idx[j]->shape[dj] != 1) a.bshape[d] = idx[j]->shape[dj];
    }
    a.count *= a.bshape[d];
  }
  for (int32_t j = 0; j < k; ++j) {
    const croton_buffer& b = *idx[j];
    a.data[j] = b.data;
    a.dtype[j] = b.dtype;
    for (int32_t dj = 0; dj < b.ndim; ++dj)
      a.stride[j][dj + (a.nb - b.ndim)] = b.shape[dj] == 1 ? 0 : b.strides[dj];
    a.xlen[j] = x.shape[axes[j]];
    a.xstride[j] = x.strides[axes[j]];
  }
  *offsets = nullptr;
  if (targets != nullptr) {
    *targets = nullptr;
    *space = 1;
    for (int32_t j = 0; j < k; ++j) *space = mul_sat(*space, a.xlen[j]);
  }
  if (k > 0 && a.count > 0) {
    auto* table = static_cast<int64_t*>(scratch.alloc(a.count * 8));
    int64_t* ids = nullptr;
    if (targets != nullptr) ids = static_cast<int64_t*>(scratch.alloc(a.count * 8));
    if (table == nullptr || (targets != nullptr && ids == nullptr)) return fail_alloc(err);
    BadIndexSlot slot;
    if (int rc = slot.open(err, scratch)) return rc;
    CROTON_LAUNCH(index_offsets, blocks_for(a.count), kThreads)(a, table, ids, slot.word());
    if (int rc = check_launch(err, "the index check kernel")) return rc;
    unsigned long long bad = kNoBadIndex;
    if (int rc = slot.read(err, &bad)) return rc;
    if (bad != kNoBadIndex) {
      const int64_t t = static_cast<int64_t>(bad) / k;
      const int32_t j = static_cast<int32_t>(static_cast<int64_t>(bad) % k);
      int64_t at = 0, rest = t;
      for (int32_t d = a.nb - 1; d >= 0; --d) {
        at += (rest % a.bshape[d]) * a.stride[j][d];
        rest /= a.bshape[d];
      }
      return fail_index(err, checks[j], host_index(*idx[j], at), a.xlen[j]);
    }
    *offsets = table;
    if (targets != nullptr) *targets = ids;
  }
  int32_t nd = 0;
  auto add_table_dims = [&]() {
    int64_t s = 1;
    for (int32_t d = a.nb - 1; d >= 0; --d) {
      r->tstride[nd + d] = s;
      s *= a.bshape[d];
    }
    for (int32_t d = 0; d < a.nb; ++d) {
      r->shape[nd] = a.bshape[d];
      r->table[nd] = true;
      r->xstride[nd++] = 0;
    }
  };
  auto indexed = [&](int32_t d) {
    for (int32_t j = 0; j < k; ++j)
      if (axes[j] == d) return true;
    return false;
  };
  if (!adjacent && k > 0) add_table_dims();
  for (int32_t d = 0; d < x.ndim; ++d) {
    if (!indexed(d)) {
      r->shape[nd] = x.shape[d];
      r->tstride[nd] = 0;
      r->table[nd] = false;
      r->xstride[nd++] = x.strides[d];
    } else if (adjacent && d == axes[0]) {
      add_table_dims();
    }
  }
  r->ndim = nd;
  return 0;
}

// Element strides of a buffer with the region's ndim, as a by-value kernel argument.
struct Strides {
  int64_t s[CROTON_MAX_NDIM] = {};
};

template <class T>
__global__ void gather_kernel(DeviceRegion r, const int64_t* offsets, const T* x, Strides os,
                              T* out, int64_t n) {
  for (int64_t e = global_index(); e < n; e += grid_stride()) {
    int64_t rest = e, xo = 0, to = 0, oo = 0;
    for (int32_t d = r.ndim - 1; d >= 0; --d) {
      const int64_t p = rest % r.shape[d];
      rest /= r.shape[d];
      xo += p * r.xstride[d];
      to += p * r.tstride[d];
      oo += p * os.s[d];
    }
    out[oo] = x[xo + (offsets != nullptr ? offsets[to] : 0)];
  }
}

// out = x[idx]: `out` has the region's shape.
template <class T>
int gather(croton_error* err, const croton_buffer& x, int32_t k, const croton_buffer* const* idx,
           const int32_t* axes, const int32_t* checks, bool adjacent, croton_buffer& out,
           DeviceScratch& scratch) {
  DeviceRegion r;
  const int64_t* offsets = nullptr;
  if (int rc = make_region(err, x, k, idx, axes, checks, adjacent, scratch, &r, &offsets))
    return rc;
  const int64_t n = numel(r.ndim, r.shape);
  if (n == 0) return 0;
  Strides os;
  for (int32_t d = 0; d < r.ndim; ++d) os.s[d] = out.strides[d];
  CROTON_LAUNCH(gather_kernel<T>, blocks_for(n), kThreads)(
      r, offsets, static_cast<const T*>(x.data), os, static_cast<T*>(out.data), n);
  return check_launch(err, "the gather kernel (advanced indexing)");
}

// A thread per element of the non-table dims; each walks the table positions in order.
template <class T, bool kSet>
__global__ void scatter_kernel(DeviceRegion r, const int64_t* offsets, int64_t count, T* x,
                               const T* y, Strides ys, int64_t m) {
  for (int64_t e = global_index(); e < m; e += grid_stride()) {
    int64_t rest = e, xo = 0, yo = 0;
    for (int32_t d = r.ndim - 1; d >= 0; --d) {
      if (r.table[d]) continue;
      const int64_t p = rest % r.shape[d];
      rest /= r.shape[d];
      xo += p * r.xstride[d];
      yo += p * ys.s[d];
    }
    for (int64_t t = 0; t < count; ++t) {
      int64_t yt = 0;
      for (int32_t d = 0; d < r.ndim; ++d)
        if (r.table[d]) yt += (t / r.tstride[d]) % r.shape[d] * ys.s[d];
      T* px = x + xo + (offsets != nullptr ? offsets[t] : 0);
      if constexpr (kSet) {
        *px = y[yo + yt];
      } else {
        *px = static_cast<T>(*px + y[yo + yt]);
      }
    }
  }
}

// The first and last position of each target (integer atomics: the same result in any order).
__global__ void mark_owners(const int64_t* targets, int64_t count, unsigned long long* first,
                            unsigned long long* last) {
  for (int64_t t = global_index(); t < count; t += grid_stride()) {
    atomicMin(&first[targets[t]], static_cast<unsigned long long>(t));
    atomicMax(&last[targets[t]], static_cast<unsigned long long>(t));
  }
}

// A thread per (position t, element of the non-table dims); the first position of each target
// owns it and walks the positions to the target's last in order: repeated indices accumulate in
// the CPU's order (set: the last one's value), and distinct ones run in parallel.
template <class T, bool kSet>
__global__ void scatter_owned_kernel(DeviceRegion r, const int64_t* offsets,
                                     const int64_t* targets, const unsigned long long* first,
                                     const unsigned long long* last, int64_t count, T* x,
                                     const T* y, Strides ys, int64_t m) {
  for (int64_t g = global_index(); g < count * m; g += grid_stride()) {
    const int64_t t = g / m, id = targets[t];
    if (first[id] != static_cast<unsigned long long>(t)) continue;
    int64_t rest = g % m, xo = 0, yo = 0;
    for (int32_t d = r.ndim - 1; d >= 0; --d) {
      if (r.table[d]) continue;
      const int64_t p = rest % r.shape[d];
      rest /= r.shape[d];
      xo += p * r.xstride[d];
      yo += p * ys.s[d];
    }
    auto y_at = [&](int64_t u) {
      int64_t yt = 0;
      for (int32_t d = 0; d < r.ndim; ++d)
        if (r.table[d]) yt += (u / r.tstride[d]) % r.shape[d] * ys.s[d];
      return y[yo + yt];
    };
    T* px = x + xo + offsets[t];
    const int64_t end = static_cast<int64_t>(last[id]);
    if constexpr (kSet) {
      *px = y_at(end);
    } else {
      T acc = *px;
      for (int64_t u = t; u <= end; ++u)
        if (targets[u] == id) acc = static_cast<T>(acc + y_at(u));
      *px = acc;
    }
  }
}

// x[idx] = y (kSet) or x[idx] += y, in place in `x` (a view of the op's fresh output); `y` has
// the region's ndim and broadcasts along its length-1 dims. When the indexed axes span few
// enough elements (kOwnerSpace), each target's first position owns it (scatter_owned_kernel);
// otherwise a thread per element of the non-table dims walks every position (scatter_kernel).
template <class T, bool kSet>
int scatter(croton_error* err, croton_buffer& x, int32_t k, const croton_buffer* const* idx,
            const int32_t* axes, const int32_t* checks, bool adjacent, const croton_buffer& y,
            DeviceScratch& scratch) {
  DeviceRegion r;
  const int64_t *offsets = nullptr, *targets = nullptr;
  int64_t space = 0;
  if (int rc = make_region(err, x, k, idx, axes, checks, adjacent, scratch, &r, &offsets,
                           &targets, &space))
    return rc;
  int64_t m = 1, count = 1;
  for (int32_t d = 0; d < r.ndim; ++d) (r.table[d] ? count : m) *= r.shape[d];
  if (m == 0 || count == 0) return 0;
  Strides ys;
  for (int32_t d = 0; d < y.ndim; ++d) ys.s[d] = y.shape[d] == 1 ? 0 : y.strides[d];
  if (targets != nullptr && space <= 64 * count + (int64_t(1) << 16)) {
    auto* first = static_cast<unsigned long long*>(scratch.alloc(space * 8));
    auto* last = static_cast<unsigned long long*>(scratch.alloc(space * 8));
    if (first == nullptr || last == nullptr) return fail_alloc(err);
    cudaError_t status = cudaMemsetAsync(first, 0xFF, static_cast<size_t>(space * 8), 0);
    if (status == cudaSuccess)
      status = cudaMemsetAsync(last, 0, static_cast<size_t>(space * 8), 0);
    if (status != cudaSuccess) return fail_cuda(err, status, "clearing a scatter's owners");
    CROTON_LAUNCH(mark_owners, blocks_for(count), kThreads)(targets, count, first, last);
    if (int rc = check_launch(err, "the scatter's owner kernel")) return rc;
    auto* const owned = scatter_owned_kernel<T, kSet>;  // a name with commas: not a macro argument
    CROTON_LAUNCH(owned, blocks_for(count * m), kThreads)(
        r, offsets, targets, first, last, count, static_cast<T*>(x.data),
        static_cast<const T*>(y.data), ys, m);
    return check_launch(err, kSet ? "the scatter kernel (set_subtensor)"
                                  : "the scatter kernel (inc_subtensor)");
  }
  auto* const kernel = scatter_kernel<T, kSet>;  // a name with commas: not a macro argument
  CROTON_LAUNCH(kernel, blocks_for(m), kThreads)(
      r, offsets, count, static_cast<T*>(x.data), static_cast<const T*>(y.data), ys, m);
  return check_launch(err, kSet ? "the scatter kernel (set_subtensor)"
                                : "the scatter kernel (inc_subtensor)");
}

// --- per-row gather / scatter (cross-entropy with class indices) ----------------------------
// out[i] = x[i, idx[i]]; a bad index goes to *bad (its row).
template <class T, class I>
__global__ void take_rows_kernel(const T* x, int64_t xs0, int64_t xs1, int64_t cols,
                                 const I* idx, int64_t is, T* out, int64_t os, int64_t rows,
                                 unsigned long long* bad) {
  for (int64_t i = global_index(); i < rows; i += grid_stride()) {
    const int64_t j = static_cast<int64_t>(idx[i * is]);
    if (j < 0 || j >= cols) {
      atomicMin(bad, static_cast<unsigned long long>(i));
      continue;
    }
    out[i * os] = x[i * xs0 + j * xs1];
  }
}

// The CPU's message for the first bad row `bad` (kNoBadIndex: none, 0 returned).
template <class I>
int report_bad_row(croton_error* err, int32_t check, const BadIndexSlot& slot,
                   const croton_buffer& idx, int64_t cols) {
  unsigned long long bad = kNoBadIndex;
  if (int rc = slot.read(err, &bad)) return rc;
  if (bad == kNoBadIndex) return 0;
  return fail_index(err, check, host_index(idx, static_cast<int64_t>(bad) * idx.strides[0]),
                    cols);
}

template <class T, class I>
int take_along_last(const croton_buffer& x, const croton_buffer& idx, croton_buffer& out,
                    croton_error* err, int32_t check, DeviceScratch& scratch) {
  const int64_t rows = idx.shape[0];
  if (rows == 0) return 0;
  BadIndexSlot slot;
  if (int rc = slot.open(err, scratch)) return rc;
  auto* const kernel = take_rows_kernel<T, I>;  // a name with commas: not a macro argument
  CROTON_LAUNCH(kernel, blocks_for(rows), kThreads)(
      static_cast<const T*>(x.data), x.strides[0], x.strides[1], x.shape[1],
      static_cast<const I*>(idx.data), idx.strides[0], static_cast<T*>(out.data),
      out.strides[0], rows, slot.word());
  if (int rc = check_launch(err, "the take_along_last kernel")) return rc;
  return report_bad_row<I>(err, check, slot, idx, x.shape[1]);
}

// out[i, j] = g[i] where j == idx[i], else 0; a bad index goes to *bad (its row).
template <class T, class I>
__global__ void take_rows_grad_kernel(const T* g, int64_t gs, const I* idx, int64_t is, T* out,
                                      int64_t os0, int64_t os1, int64_t rows, int64_t cols,
                                      unsigned long long* bad) {
  for (int64_t e = global_index(); e < rows * cols; e += grid_stride()) {
    const int64_t i = e / cols, j = e % cols;
    const int64_t want = static_cast<int64_t>(idx[i * is]);
    if (j == 0 && (want < 0 || want >= cols)) atomicMin(bad, static_cast<unsigned long long>(i));
    out[i * os0 + j * os1] = j == want ? g[i * gs] : T(0);
  }
}

template <class T, class I>
int take_along_last_grad(const croton_buffer& g, const croton_buffer& idx, croton_buffer& out,
                         croton_error* err, int32_t check, DeviceScratch& scratch) {
  const int64_t rows = out.shape[0], cols = out.shape[1];
  if (rows == 0) return 0;
  if (cols == 0) return fail_index(err, check, host_index(idx, 0), cols);  // every index is bad
  BadIndexSlot slot;
  if (int rc = slot.open(err, scratch)) return rc;
  auto* const kernel = take_rows_grad_kernel<T, I>;  // a name with commas: not a macro argument
  CROTON_LAUNCH(kernel, blocks_for(rows * cols), kThreads)(
      static_cast<const T*>(g.data), g.strides[0], static_cast<const I*>(idx.data),
      idx.strides[0], static_cast<T*>(out.data), out.strides[0], out.strides[1], rows, cols,
      slot.word());
  if (int rc = check_launch(err, "the take_along_last_grad kernel")) return rc;
  return report_bad_row<I>(err, check, slot, idx, cols);
}

// --- boolean masks (x[mask]: the coordinates of the true elements) ---------------------------
// A mask's shape and strides, passed by value.
struct MaskGeometry {
  int32_t ndim = 0;
  int64_t shape[CROTON_MAX_NDIM] = {}, strides[CROTON_MAX_NDIM] = {};
  int64_t* coords[CROTON_MAX_NDIM] = {};  // mask_coordinates: the output vectors
  int64_t cstride[CROTON_MAX_NDIM] = {};
};

inline MaskGeometry mask_geometry(const croton_buffer& mask) {
  MaskGeometry g;
  g.ndim = mask.ndim;
  for (int32_t d = 0; d < mask.ndim; ++d) {
    g.shape[d] = mask.shape[d];
    g.strides[d] = mask.strides[d];
  }
  return g;
}

// Integer sums with atomics are exact whatever the order: deterministic.
__global__ void mask_count_kernel(const bool* mask, MaskGeometry g, int64_t n,
                                  unsigned long long* count) {
  unsigned long long mine = 0;
  for (int64_t e = global_index(); e < n; e += grid_stride()) {
    int64_t rest = e, at = 0;
    for (int32_t d = g.ndim - 1; d >= 0; --d) {
      at += (rest % g.shape[d]) * g.strides[d];
      rest /= g.shape[d];
    }
    mine += mask[at] ? 1 : 0;
  }
  if (mine != 0) atomicAdd(count, mine);
}

// Counts the true elements of `mask` into the int64 scalar `count` (device memory), after
// checking that the mask's shape equals x's dims from `axis` on (subtensor::mask_count).
inline int mask_count(croton_error* err, int32_t check, const croton_buffer& mask,
                      const croton_buffer& x, int32_t axis, croton_buffer& count) {
  for (int32_t d = 0; d < mask.ndim; ++d)
    if (mask.shape[d] != x.shape[axis + d])
      return fail_index(err, check, mask.shape[d], x.shape[axis + d]);
  const cudaError_t status = cudaMemsetAsync(count.data, 0, 8, 0);
  if (status != cudaSuccess) return fail_cuda(err, status, "clearing a mask's count");
  const int64_t n = numel(mask.ndim, mask.shape);
  if (n == 0) return 0;
  CROTON_LAUNCH(mask_count_kernel, blocks_for(n), kThreads)(
      static_cast<const bool*>(mask.data), mask_geometry(mask), n,
      static_cast<unsigned long long*>(count.data));
  return check_launch(err, "the mask count kernel");
}

// One thread walks the mask in C order (the coordinates' order): a serial kernel.
__global__ void mask_coordinates_kernel(const bool* mask, MaskGeometry g, int64_t n) {
  if (global_index() != 0) return;
  int64_t written = 0;
  for (int64_t e = 0; e < n; ++e) {
    int64_t rest = e, at = 0, pos[CROTON_MAX_NDIM] = {};
    for (int32_t d = g.ndim - 1; d >= 0; --d) {
      pos[d] = rest % g.shape[d];
      rest /= g.shape[d];
      at += pos[d] * g.strides[d];
    }
    if (!mask[at]) continue;
    for (int32_t d = 0; d < g.ndim; ++d) g.coords[d][written * g.cstride[d]] = pos[d];
    ++written;
  }
}

// The coordinates of the true elements of `mask` in C order: coords[d] gets those along dim d.
inline int mask_coordinates(croton_error* err, const croton_buffer& mask,
                            croton_buffer* const* coords) {
  MaskGeometry g = mask_geometry(mask);
  for (int32_t d = 0; d < mask.ndim; ++d) {
    g.coords[d] = static_cast<int64_t*>(coords[d]->data);
    g.cstride[d] = coords[d]->strides[0];
  }
  const int64_t n = numel(mask.ndim, mask.shape);
  if (n == 0) return 0;
  CROTON_LAUNCH(mask_coordinates_kernel, 1, 1)(static_cast<const bool*>(mask.data), g, n);
  return check_launch(err, "the mask coordinates kernel");
}

}  // namespace cuda
}  // namespace croton
