// The construction ops' fills on the device (codegen/lowering/cuda_shape_ops.py; the CPU's are
// in runtime/cpu/kernels/shape.hpp, with the same results): broadcast copies (alloc, and each
// input of join into its slice of the output), eye, arange, alloc_diag. A thread per element of
// the destination; any strides.
//
// Example (generated code):
//   if (int rc = croton::cuda::eye_fill<float>(err, B0, 0)) return rc;
#pragma once
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/shape.hpp"  // the CPU runtime's: slice_axis, diag_length
#include "kernels/subtensor.hpp"  // the CPU runtime's (runtime/cpu/kernels): View, load_index

namespace croton {
namespace cuda {

// The destination's shape, its strides and the source's strides aligned to it (0: broadcast).
struct CopyGeometry {
  int32_t ndim = 0;
  int64_t shape[CROTON_MAX_NDIM] = {}, sstr[CROTON_MAX_NDIM] = {}, dstr[CROTON_MAX_NDIM] = {};
};

// The source's and the destination's offsets of C-order position `e` of g's shape.
__device__ __forceinline__ void copy_offsets(int64_t e, const CopyGeometry& g, int64_t* so,
                                             int64_t* d_off) {
  *so = *d_off = 0;
  for (int32_t d = g.ndim - 1; d >= 0; --d) {
    const int64_t p = e % g.shape[d];
    e /= g.shape[d];
    *so += p * g.sstr[d];
    *d_off += p * g.dstr[d];
  }
}

template <class S, class D>
__global__ void broadcast_copy_kernel(const S* src, D* dst, CopyGeometry g, int64_t n) {
  for (int64_t e = global_index(); e < n; e += grid_stride()) {
    int64_t so, d_off;
    copy_offsets(e, g, &so, &d_off);
    dst[d_off] = static_cast<D>(src[so]);
  }
}

// dst[...] = src, src right-aligned to dst's dims, its length-1 dims broadcast (alloc; join
// copies each input into its slice of the output, croton::slice_axis).
template <typename S, typename D>
int broadcast_copy(croton_error* err, const croton_buffer& src, const croton_buffer& dst) {
  CopyGeometry g;
  g.ndim = dst.ndim;
  const int32_t lead = dst.ndim - src.ndim;
  for (int32_t d = 0; d < dst.ndim; ++d) {
    const int32_t s = d - lead;
    g.shape[d] = dst.shape[d];
    g.dstr[d] = dst.strides[d];
    g.sstr[d] = (s < 0 || src.shape[s] == 1) ? 0 : src.strides[s];
  }
  const int64_t n = numel(dst.ndim, dst.shape);
  if (n == 0) return 0;
  auto* const kernel = broadcast_copy_kernel<S, D>;  // a name with commas: not a macro argument
  CROTON_LAUNCH(kernel, blocks_for(n), kThreads)(
      static_cast<const S*>(src.data), static_cast<D*>(dst.data), g, n);
  return check_launch(err, "the broadcast copy kernel");
}

// dst (shape already set) becomes src's data in C order: a view when src is contiguous, else a
// copy into device scratch memory (shape.hpp's reshape_into).
template <typename T>
int reshape_into(const croton_buffer& src, croton_buffer& dst, DeviceScratch& scratch,
                 croton_error* err) {
  if (is_contiguous(src)) {
    dst.data = src.data;
  } else {
    dst.data = scratch.alloc(mul_sat(numel(dst.ndim, dst.shape), int64_t(sizeof(T))));
    if (dst.data == nullptr) return fail_alloc(err);
    croton_buffer flat = src;  // src's shape, contiguous, over dst's memory
    flat.data = dst.data;
    contiguous_strides(src.ndim, src.shape, flat.strides);
    if (int rc = broadcast_copy<T, T>(err, src, flat)) return rc;
  }
  contiguous_strides(dst.ndim, dst.shape, dst.strides);
  return 0;
}

template <class T>
__global__ void eye_kernel(T* dst, int64_t s0, int64_t s1, int64_t rows, int64_t cols,
                           int64_t k) {
  for (int64_t e = global_index(); e < rows * cols; e += grid_stride()) {
    const int64_t i = e / cols, j = e % cols;
    dst[i * s0 + j * s1] = j == i + k ? T(1) : T(0);
  }
}

// Ones on diagonal k, zeros elsewhere.
template <typename T>
int eye_fill(croton_error* err, const croton_buffer& dst, int64_t k) {
  const int64_t rows = dst.shape[0], cols = dst.shape[1];
  if (rows == 0 || cols == 0) return 0;
  CROTON_LAUNCH(eye_kernel<T>, blocks_for(rows * cols), kThreads)(
      static_cast<T*>(dst.data), dst.strides[0], dst.strides[1], rows, cols, k);
  return check_launch(err, "the eye kernel");
}

template <class T>
__global__ void arange_kernel(T* dst, int64_t stride, int64_t n, T first, T delta) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    if constexpr (std::is_integral_v<T>) {
      dst[i * stride] = static_cast<T>(static_cast<int64_t>(first) +
                                       i * static_cast<int64_t>(delta));
    } else {
      dst[i * stride] = static_cast<T>(first + static_cast<T>(i) * delta);
    }
  }
}

// NumPy's fill: first = start, delta = T(start + step) - first, out[i] = first + i * delta.
template <typename T, typename V>
int arange_fill(V start, V step, const croton_buffer& dst, croton_error* err, int32_t check) {
  if (step == V(0)) return fail_value(err, check, "step must not be zero");
  const T first = static_cast<T>(start);
  const T delta = static_cast<T>(static_cast<T>(start + step) - first);
  if (dst.shape[0] == 0) return 0;
  CROTON_LAUNCH(arange_kernel<T>, blocks_for(dst.shape[0]), kThreads)(
      static_cast<T*>(dst.data), dst.strides[0], dst.shape[0], first, delta);
  return check_launch(err, "the arange kernel");
}

template <class T>
__global__ void alloc_diag_kernel(const T* src, int64_t ss, int64_t n, T* dst, int64_t s0,
                                  int64_t s1, int64_t rows, int64_t cols, int64_t k) {
  const int64_t r0 = k < 0 ? -k : 0, c0 = k > 0 ? k : 0;
  for (int64_t e = global_index(); e < rows * cols; e += grid_stride()) {
    const int64_t i = e / cols, j = e % cols;
    const int64_t q = i - r0;  // the diagonal's element at (i, j), when j - c0 == q
    dst[i * s0 + j * s1] = (q >= 0 && q < n && j - c0 == q) ? src[q * ss] : T(0);
  }
}

// Zeros with src (a vector) on diagonal k.
template <typename T>
int alloc_diag(croton_error* err, const croton_buffer& src, const croton_buffer& dst, int64_t k) {
  const int64_t rows = dst.shape[0], cols = dst.shape[1];
  if (rows == 0 || cols == 0) return 0;
  int64_t n = diag_length(rows, cols, k);
  if (src.shape[0] < n) n = src.shape[0];
  CROTON_LAUNCH(alloc_diag_kernel<T>, blocks_for(rows * cols), kThreads)(
      static_cast<const T*>(src.data), src.strides[0], n, static_cast<T*>(dst.data),
      dst.strides[0], dst.strides[1], rows, cols, k);
  return check_launch(err, "the alloc_diag kernel");
}

// out (an int64 vector of x.ndim entries) = x's shape: a copy from the host.
inline int store_shape(croton_error* err, const croton_buffer& x, const croton_buffer& out) {
  for (int32_t d = 0; d < x.ndim; ++d) {
    const cudaError_t status = cudaMemcpy(static_cast<int64_t*>(out.data) + d * out.strides[0],
                                          &x.shape[d], sizeof(int64_t), cudaMemcpyHostToDevice);
    if (status != cudaSuccess) return fail_cuda(err, status, "storing a shape");
  }
  return 0;
}

// --- repeat (numpy.repeat along an axis, counts per element) and its gradient --------------
// starts[i] = where element i's run begins along the output axis (starts[n]: the length), on
// the device: the counts are copied to the host once (their check and the output's length
// were read before, by the host driver), summed there and uploaded.
inline int repeat_starts(croton_error* err, const croton_buffer& repeats, int64_t n,
                         DeviceScratch& scratch, const int64_t** starts) {
  const int64_t m = repeats.shape[0], step = repeats.strides[0] * dtype_size(repeats.dtype);
  std::vector<unsigned char> counts(static_cast<size_t>(m * dtype_size(repeats.dtype)));
  for (int64_t i = 0; i < m; ++i) {  // one copy per count when strided, else one in all
    const bool whole = repeats.strides[0] == 1;
    const size_t bytes = static_cast<size_t>((whole ? m : 1) * dtype_size(repeats.dtype));
    const cudaError_t status = cudaMemcpy(counts.data() + i * dtype_size(repeats.dtype),
                                          static_cast<const char*>(repeats.data) + i * step,
                                          bytes, cudaMemcpyDeviceToHost);
    if (status != cudaSuccess) return fail_cuda(err, status, "reading the repeat counts");
    if (whole) break;
  }
  croton_buffer host = repeats;
  host.data = counts.data();
  host.strides[0] = 1;
  std::vector<int64_t> table(static_cast<size_t>(n + 1), 0);
  for (int64_t i = 0; i < n; ++i)
    table[i + 1] = table[i] + subtensor::load_index(host, m == 1 ? 0 : i);
  auto* dev = static_cast<int64_t*>(scratch.alloc((n + 1) * 8));
  if (dev == nullptr) return fail_alloc(err);
  const cudaError_t status = cudaMemcpy(dev, table.data(), (n + 1) * 8, cudaMemcpyHostToDevice);
  if (status != cudaSuccess) return fail_cuda(err, status, "uploading the repeat counts");
  *starts = dev;
  return 0;
}

template <class T, bool kSum>
__global__ void repeat_kernel(const T* src, T* dst, CopyGeometry g, int32_t axis,
                              const int64_t* starts, int64_t n, int64_t total) {
  for (int64_t e = global_index(); e < total; e += grid_stride()) {
    int64_t rest = e, so = 0, d_off = 0, at = 0;
    for (int32_t d = g.ndim - 1; d >= 0; --d) {  // g.shape: dst's; the axis handled below
      const int64_t p = rest % g.shape[d];
      rest /= g.shape[d];
      d_off += p * g.dstr[d];
      if (d == axis) {
        at = p;
      } else {
        so += p * g.sstr[d];
      }
    }
    if constexpr (kSum) {  // dst[at] = the sum of src over [starts[at], starts[at + 1])
      T acc = T(0);
      for (int64_t j = starts[at]; j < starts[at + 1]; ++j)
        acc = static_cast<T>(acc + src[so + j * g.sstr[axis]]);
      dst[d_off] = acc;
    } else {  // dst[at] = src[i], starts[i] <= at < starts[i + 1]
      int64_t lo = 0, hi = n;
      while (hi - lo > 1) {
        const int64_t mid = (lo + hi) / 2;
        (starts[mid] <= at ? lo : hi) = mid;
      }
      dst[d_off] = src[so + lo * g.sstr[axis]];
    }
  }
}

template <class T, bool kSum>
int launch_repeat(croton_error* err, const croton_buffer& src, const croton_buffer& repeats,
                  int32_t axis, const croton_buffer& dst, int64_t n, DeviceScratch& scratch) {
  const int64_t total = numel(dst.ndim, dst.shape);
  if (total == 0 || n == 0) return 0;
  const int64_t* starts = nullptr;
  if (int rc = repeat_starts(err, repeats, n, scratch, &starts)) return rc;
  CopyGeometry g;
  g.ndim = dst.ndim;
  for (int32_t d = 0; d < dst.ndim; ++d) {
    g.shape[d] = dst.shape[d];
    g.dstr[d] = dst.strides[d];
    g.sstr[d] = src.strides[d];
  }
  auto* const kernel = repeat_kernel<T, kSum>;  // a name with commas: not a macro argument
  CROTON_LAUNCH(kernel, blocks_for(total), kThreads)(
      static_cast<const T*>(src.data), static_cast<T*>(dst.data), g, axis, starts, n, total);
  return check_launch(err, kSum ? "the repeat_sum kernel" : "the repeat kernel");
}

// dst = numpy.repeat(src, repeats, axis) (shape.hpp's repeat_along).
template <typename T>
int repeat_along(croton_error* err, const croton_buffer& src, const croton_buffer& repeats,
                 int32_t axis, const croton_buffer& dst, DeviceScratch& scratch) {
  return launch_repeat<T, false>(err, src, repeats, axis, dst, src.shape[axis], scratch);
}

// The gradient of repeat: dst[i] = the sum of the grad slices element i was copied to, in order.
template <typename T>
int repeat_sum(croton_error* err, const croton_buffer& grad, const croton_buffer& repeats,
               int32_t axis, const croton_buffer& dst, DeviceScratch& scratch) {
  return launch_repeat<T, true>(err, grad, repeats, axis, dst, dst.shape[axis], scratch);
}

}  // namespace cuda
}  // namespace croton
