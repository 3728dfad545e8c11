// Reduction kernels that do not fit the generated `reduce` loop: argmax/argmin (an index, not a
// value) and cumulative sums/products. Any strides; shapes were checked before the call.
#pragma once
#include <cstdint>
#include <type_traits>

#include "../abi.h"

namespace croton {

// Advance the C-order multi-index `idx` over `shape`; false once it wraps around.
inline bool next_index(int32_t ndim, const int64_t* shape, int64_t* idx) {
  for (int32_t d = ndim - 1; d >= 0; --d) {
    if (++idx[d] < shape[d]) return true;
    idx[d] = 0;
  }
  return false;
}

// Step the C-order multi-index `idx` back by one; false once it wraps around.
inline bool prev_index(int32_t ndim, const int64_t* shape, int64_t* idx) {
  for (int32_t d = ndim - 1; d >= 0; --d) {
    if (--idx[d] >= 0) return true;
    idx[d] = shape[d] - 1;
  }
  return false;
}

inline int64_t offset_of(int32_t ndim, const int64_t* idx, const int64_t* strides) {
  int64_t off = 0;
  for (int32_t d = 0; d < ndim; ++d) off += idx[d] * strides[d];
  return off;
}

template <class T>
inline bool is_nan_value(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return v != v;
  } else {
    (void)v;
    return false;
  }
}

// out[kept...] = the index (in the C-order flattening of the `red` axes of x) of the first
// maximum (IsMax) or minimum; a NaN wins over every number, as in NumPy. Every reduced extent is
// nonzero (checked before the call).
template <class T, bool IsMax>
inline void arg_reduce(const croton_buffer& x, const croton_buffer& out, int32_t nkept,
                       const int32_t* kept, int32_t nred, const int32_t* red) {
  const T* px = static_cast<const T*>(x.data);
  int64_t* po = static_cast<int64_t*>(out.data);
  int64_t kshape[8] = {0}, kstr[8] = {0}, ostr[8] = {0}, rshape[8] = {0}, rstr[8] = {0};
  int64_t nout = 1, nr = 1;
  for (int32_t k = 0; k < nkept; ++k) {
    kshape[k] = x.shape[kept[k]];
    kstr[k] = x.strides[kept[k]];
    ostr[k] = out.strides[k];
    nout *= kshape[k];
  }
  for (int32_t r = 0; r < nred; ++r) {
    rshape[r] = x.shape[red[r]];
    rstr[r] = x.strides[red[r]];
    nr *= rshape[r];
  }
  if (nout == 0 || nr == 0) return;
  int64_t ki[8] = {0};
  do {
    const T* base = px + offset_of(nkept, ki, kstr);
    int64_t ri[8] = {0};
    T best = base[0];
    bool best_nan = is_nan_value(best);
    int64_t best_i = 0;
    for (int64_t n = 1; n < nr && !best_nan; ++n) {
      next_index(nred, rshape, ri);
      const T v = base[offset_of(nred, ri, rstr)];
      if (is_nan_value(v)) {
        best_i = n;
        best_nan = true;
      } else if (IsMax ? (best < v) : (v < best)) {
        best = v;
        best_i = n;
      }
    }
    po[offset_of(nkept, ki, ostr)] = best_i;
  } while (next_index(nkept, kshape, ki));
}

// Running sum (IsProd false) or product of x along `axis`, into out (same shape), from the end
// when `reverse`. axis < 0: walk x in C order and write the walk into out in C order (out has
// the same number of elements, any shape).
template <class TI, class TO, bool IsProd>
inline void cumulate(const croton_buffer& x, const croton_buffer& out, int32_t axis,
                     bool reverse) {
  const TI* px = static_cast<const TI*>(x.data);
  TO* po = static_cast<TO*>(out.data);
  const TO identity = IsProd ? TO(1) : TO(0);
  if (axis < 0) {
    int64_t n = 1;
    for (int32_t d = 0; d < x.ndim; ++d) n *= x.shape[d];
    if (n == 0) return;
    int64_t xi[8] = {0}, oi[8] = {0};
    if (reverse) {
      for (int32_t d = 0; d < x.ndim; ++d) xi[d] = x.shape[d] - 1;
      for (int32_t d = 0; d < out.ndim; ++d) oi[d] = out.shape[d] - 1;
    }
    TO acc = identity;
    for (int64_t k = 0; k < n; ++k) {
      const TO v = static_cast<TO>(px[offset_of(x.ndim, xi, x.strides)]);
      acc = IsProd ? static_cast<TO>(acc * v) : static_cast<TO>(acc + v);
      po[offset_of(out.ndim, oi, out.strides)] = acc;
      if (reverse) {
        prev_index(x.ndim, x.shape, xi);
        prev_index(out.ndim, out.shape, oi);
      } else {
        next_index(x.ndim, x.shape, xi);
        next_index(out.ndim, out.shape, oi);
      }
    }
    return;
  }
  int64_t outer[8] = {0};
  for (int32_t d = 0; d < x.ndim; ++d) {
    outer[d] = d == axis ? 1 : x.shape[d];
    if (outer[d] == 0) return;
  }
  const int64_t len = x.shape[axis], xs = x.strides[axis], os = out.strides[axis];
  int64_t idx[8] = {0};
  do {
    const TI* xb = px + offset_of(x.ndim, idx, x.strides);
    TO* ob = po + offset_of(out.ndim, idx, out.strides);
    TO acc = identity;
    for (int64_t k = 0; k < len; ++k) {
      const int64_t i = reverse ? len - 1 - k : k;
      const TO v = static_cast<TO>(xb[i * xs]);
      acc = IsProd ? static_cast<TO>(acc * v) : static_cast<TO>(acc + v);
      ob[i * os] = acc;
    }
  } while (next_index(x.ndim, outer, idx));
}

}  // namespace croton
