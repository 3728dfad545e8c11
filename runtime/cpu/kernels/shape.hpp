// Kernels of the shape and construction ops (croton/ops/shape_ops.py, lowered by
// codegen/lowering/shape_ops.py): strided copies with broadcasting, reshape (a view when the
// input is contiguous, else a copy), concatenate, repeat, arange, eye, diagonals.
//
// Functions that read computed values (shapes that depend on data) are named value*: the
// lowering keeps the shape lines that call them in place instead of hoisting them.
//
// Example (C++):
//   croton::broadcast_copy<float, double>(src, dst);   // dst[...] = src, broadcast, converted
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "../runtime.hpp"

namespace croton {

// Element `i` of a 1-d buffer (a computed shape vector), converted.
template <typename T>
inline T value(const croton_buffer& b, int64_t i) {
  croton_buffer e = b;
  e.data = static_cast<char*>(b.data) + i * b.strides[0] * dtype_size(b.dtype);
  return value<T>(e);
}

// Calls f(offset_a, offset_b) for every index of `shape`, in C order, with element strides
// `sa` and `sb`.
template <typename F>
inline void for_each_index(int32_t ndim, const int64_t* shape, const int64_t* sa,
                           const int64_t* sb, F&& f) {
  if (numel(ndim, shape) == 0) return;
  if (ndim == 0) {
    f(int64_t(0), int64_t(0));
    return;
  }
  int64_t idx[CROTON_MAX_NDIM] = {0};
  int64_t oa = 0, ob = 0;
  const int32_t last = ndim - 1;
  const int64_t n = shape[last], ta = sa[last], tb = sb[last];
  for (;;) {
    for (int64_t i = 0; i < n; ++i) f(oa + i * ta, ob + i * tb);
    int32_t d = last - 1;
    for (; d >= 0; --d) {
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < shape[d]) break;
      oa -= sa[d] * shape[d];
      ob -= sb[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// dst[...] = src, with src right-aligned to dst's dims and its length-1 dims broadcast.
template <typename S, typename D>
void broadcast_copy(const croton_buffer& src, const croton_buffer& dst) {
  int64_t sa[CROTON_MAX_NDIM];
  const int32_t lead = dst.ndim - src.ndim;
  for (int32_t d = 0; d < dst.ndim; ++d) {
    const int32_t s = d - lead;
    sa[d] = (s < 0 || src.shape[s] == 1) ? 0 : src.strides[s];
  }
  const S* ps = static_cast<const S*>(src.data);
  D* pd = static_cast<D*>(dst.data);
  for_each_index(dst.ndim, dst.shape, sa, dst.strides,
                 [&](int64_t a, int64_t b) { pd[b] = static_cast<D>(ps[a]); });
}

// dst[...] += src (same shape).
template <typename T>
inline void add_into(const croton_buffer& src, const croton_buffer& dst) {
  const T* ps = static_cast<const T*>(src.data);
  T* pd = static_cast<T*>(dst.data);
  for_each_index(dst.ndim, dst.shape, src.strides, dst.strides,
                 [&](int64_t a, int64_t b) { pd[b] = static_cast<T>(pd[b] + ps[a]); });
}

// Zero every element of a freshly allocated (contiguous) buffer.
template <typename T>
inline void zero_fill(const croton_buffer& b) {
  const int64_t n = numel(b.ndim, b.shape);
  if (n > 0) std::memset(b.data, 0, static_cast<size_t>(n) * sizeof(T));
}

// The sub-buffer of `b` holding indices [start, start + length) along `axis` (a view).
template <typename T>
inline croton_buffer slice_axis(const croton_buffer& b, int32_t axis, int64_t start,
                                int64_t length) {
  croton_buffer v = b;
  v.shape[axis] = length;
  v.data = static_cast<T*>(b.data) + start * b.strides[axis];
  return v;
}

// Fills the requested shape `dims` (one entry may be -1) for an input of `numel` elements;
// false when the sizes do not agree.
inline bool infer_reshape(int64_t numel, int64_t* dims, int32_t nd) {
  int64_t known = 1;
  int32_t unknown = -1;
  for (int32_t d = 0; d < nd; ++d) {
    if (dims[d] == -1) {
      if (unknown >= 0) return false;
      unknown = d;
    } else if (dims[d] < 0) {
      return false;
    } else {
      known = mul_sat(known, dims[d]);  // an overflowing product never equals numel
    }
  }
  if (unknown < 0) return known == numel;
  if (known == 0 || numel % known != 0) return false;
  dims[unknown] = numel / known;
  return true;
}

// dst (shape already set) becomes src's data in C order: a view when src is contiguous, else a
// copy into scratch memory.
template <typename T>
int reshape_into(const croton_buffer& src, croton_buffer& dst, Scratch& scratch,
                        croton_error* err) {
  if (is_contiguous(src)) {
    dst.data = src.data;
  } else {
    dst.data = scratch.alloc(mul_sat(numel(dst.ndim, dst.shape), int64_t(sizeof(T))));
    if (dst.data == nullptr) return fail_alloc(err);
    int64_t out_strides[CROTON_MAX_NDIM];
    contiguous_strides(src.ndim, src.shape, out_strides);
    const T* ps = static_cast<const T*>(src.data);
    T* pd = static_cast<T*>(dst.data);
    for_each_index(src.ndim, src.shape, src.strides, out_strides,
                   [&](int64_t a, int64_t b) { pd[b] = ps[a]; });
  }
  contiguous_strides(dst.ndim, dst.shape, dst.strides);
  return 0;
}

// Copies src into dst at [start, start + src.shape[axis]) along `axis`; returns the next start.
template <typename S, typename D>
inline int64_t copy_into_slice(const croton_buffer& src, const croton_buffer& dst, int32_t axis,
                               int64_t start) {
  const int64_t length = src.shape[axis];
  broadcast_copy<S, D>(src, slice_axis<D>(dst, axis, start, length));
  return start + length;
}

// The repeat count of element i along the axis (a vector of one count applies to all).
inline int64_t repeat_count(const croton_buffer& repeats, int64_t i) {
  return value<int64_t>(repeats, repeats.shape[0] == 1 ? 0 : i);
}

// True when the counts are non-negative and there is one per element (or a single one).
inline bool value_repeats_ok(const croton_buffer& repeats, int64_t n) {
  if (repeats.shape[0] != n && repeats.shape[0] != 1) return false;
  for (int64_t i = 0; i < repeats.shape[0]; ++i)
    if (value<int64_t>(repeats, i) < 0) return false;
  return true;
}

// The length of the repeated axis; kTooMany when the sum overflows (the allocation of the
// result then fails as too big, instead of a wrapped length that the copy would overrun).
inline int64_t value_repeat_total(const croton_buffer& repeats, int64_t n) {
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i)
    if (__builtin_add_overflow(total, repeat_count(repeats, i), &total)) return kTooMany;
  return total;
}

// dst = numpy.repeat(src, repeats, axis).
template <typename T>
inline void repeat_along(const croton_buffer& src, const croton_buffer& repeats, int32_t axis,
                         const croton_buffer& dst) {
  int64_t j = 0;
  for (int64_t i = 0; i < src.shape[axis]; ++i) {
    const croton_buffer from = slice_axis<T>(src, axis, i, 1);
    for (int64_t r = repeat_count(repeats, i); r > 0; --r, ++j)
      broadcast_copy<T, T>(from, slice_axis<T>(dst, axis, j, 1));
  }
}

// The gradient of repeat: dst[i] = sum of the grad slices that element i was copied to.
template <typename T>
inline void repeat_sum(const croton_buffer& grad, const croton_buffer& repeats, int32_t axis,
                       const croton_buffer& dst) {
  zero_fill<T>(dst);
  int64_t j = 0;
  for (int64_t i = 0; i < dst.shape[axis]; ++i) {
    const croton_buffer to = slice_axis<T>(dst, axis, i, 1);
    for (int64_t r = repeat_count(repeats, i); r > 0; --r, ++j)
      add_into<T>(slice_axis<T>(grad, axis, j, 1), to);
  }
}

// Number of elements of numpy.arange(start, stop, step) (0 when step is 0: the kernel fails).
template <typename V>
inline int64_t arange_length(V start, V stop, V step) {
  if (step == V(0)) return 0;
  if constexpr (std::is_integral_v<V>) {  // in 128 bits: stop - start cannot overflow
    __extension__ typedef __int128 wide;
    const wide span = static_cast<wide>(stop) - static_cast<wide>(start);
    wide n = span / step;
    if (n * step != span) ++n;
    if (n <= 0) return 0;
    return n > static_cast<wide>(kTooMany) ? kTooMany : static_cast<int64_t>(n);
  } else {
    const double n = std::ceil((static_cast<double>(stop) - start) / step);
    if (!(n < 9.2e18)) return n > 0 ? kTooMany : 0;  // also NaN: no int64 conversion
    return n > 0 ? static_cast<int64_t>(n) : 0;
  }
}

// NumPy's fill: first = start, delta = T(start + step) - first, out[i] = first + i * delta.
template <typename T, typename V>
inline int arange_fill(V start, V step, const croton_buffer& dst, croton_error* err,
                       int32_t check) {
  if (step == V(0)) return fail_value(err, check, "step must not be zero");
  T* pd = static_cast<T*>(dst.data);
  const T first = static_cast<T>(start);
  const T delta = static_cast<T>(static_cast<T>(start + step) - first);
  for (int64_t i = 0; i < dst.shape[0]; ++i) {
    if constexpr (std::is_integral_v<T>) {
      pd[i * dst.strides[0]] = static_cast<T>(static_cast<int64_t>(first) +
                                              i * static_cast<int64_t>(delta));
    } else {
      pd[i * dst.strides[0]] = static_cast<T>(first + static_cast<T>(i) * delta);
    }
  }
  return 0;
}

// Identity-like matrix: ones on diagonal k.
template <typename T>
inline void eye_fill(const croton_buffer& dst, int64_t k) {
  zero_fill<T>(dst);
  T* pd = static_cast<T*>(dst.data);
  for (int64_t i = 0; i < dst.shape[0]; ++i) {
    const int64_t j = i + k;
    if (j >= 0 && j < dst.shape[1]) pd[i * dst.strides[0] + j * dst.strides[1]] = T(1);
  }
}

// Length of diagonal k of a (rows, cols) matrix.
inline int64_t diag_length(int64_t rows, int64_t cols, int64_t k) {
  const int64_t n = k >= 0 ? (rows < cols - k ? rows : cols - k)
                           : (rows + k < cols ? rows + k : cols);
  return n > 0 ? n : 0;
}

// dst: zeros with src (a vector) on diagonal k.
template <typename T>
inline void alloc_diag(const croton_buffer& src, const croton_buffer& dst, int64_t k) {
  zero_fill<T>(dst);
  const T* ps = static_cast<const T*>(src.data);
  T* pd = static_cast<T*>(dst.data);
  const int64_t r0 = k < 0 ? -k : 0, c0 = k > 0 ? k : 0;
  int64_t n = diag_length(dst.shape[0], dst.shape[1], k);
  if (src.shape[0] < n) n = src.shape[0];
  for (int64_t i = 0; i < n; ++i)
    pd[(r0 + i) * dst.strides[0] + (c0 + i) * dst.strides[1]] = ps[i * src.strides[0]];
}

// dst (a vector view, shape set) becomes diagonal k of the matrix src.
template <typename T>
inline void diag_view(const croton_buffer& src, croton_buffer& dst, int64_t k) {
  const int64_t r0 = k < 0 ? -k : 0, c0 = k > 0 ? k : 0;
  dst.data = static_cast<T*>(src.data) + (dst.shape[0] > 0 ? r0 * src.strides[0] +
                                                                  c0 * src.strides[1] : 0);
  dst.strides[0] = src.strides[0] + src.strides[1];
}

}  // namespace croton

// Compiled once per toolchain into libcroton_kernels (runtime/cpu/kernels_library.cpp,
// build_tools/kernels.py): built with CROTON_PREBUILT_KERNELS, a function's translation
// unit declares these instantiations extern and links them instead of compiling them.
#define CROTON_SHAPE_INSTANCES(EXTERN, T) \
  EXTERN template void broadcast_copy<T, T>(const croton_buffer&, const croton_buffer&); \
  EXTERN template int reshape_into<T>(const croton_buffer&, croton_buffer&, Scratch&, croton_error*);
#define CROTON_SHAPE_TYPES(X) X(float) X(double) X(int64_t) X(int32_t) X(int8_t) X(uint8_t) X(bool)
#ifdef CROTON_PREBUILT_KERNELS
namespace croton {
#define CROTON_EXTERN_SHAPE(T) CROTON_SHAPE_INSTANCES(extern, T)
CROTON_SHAPE_TYPES(CROTON_EXTERN_SHAPE)
#undef CROTON_EXTERN_SHAPE
}  // namespace croton
#endif
