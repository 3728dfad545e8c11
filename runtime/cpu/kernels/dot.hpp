// Tensor contractions on top of the BLAS bridge: `contract` (tensordot, N-d dot) and
// `batched_matmul` (batched_dot). Operands may have any strides; layouts BLAS cannot read are
// copied into the call's scratch memory. Shapes were checked before the call.
#pragma once
#include <cstdint>

#include "../runtime.hpp"

namespace croton {

// Can dims [lo, hi) of x be read as one dim? Sets its length and element stride.
inline bool merged_dim(const croton_buffer& x, int32_t lo, int32_t hi, int64_t* length,
                       int64_t* stride) {
  int64_t n = 1, s = 1, expected = 0;
  bool first = true;
  for (int32_t d = hi - 1; d >= lo; --d) {
    n *= x.shape[d];
    if (x.shape[d] == 1) continue;
    if (first) {
      s = x.strides[d];
      first = false;
    } else if (x.strides[d] != expected) {
      *length = 0;
      return false;
    }
    expected = x.strides[d] * x.shape[d];
  }
  *length = n;
  *stride = s;
  return true;
}

// Copy x (any strides) into `dst` in C order, or `src` (C order) into x.
template <class T>
inline void strided_copy(const croton_buffer& x, T* flat, bool to_flat) {
  int64_t n = 1;
  for (int32_t d = 0; d < x.ndim; ++d) n *= x.shape[d];
  if (n == 0) return;
  T* px = static_cast<T*>(x.data);
  int64_t idx[8] = {0};
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = 0;
    for (int32_t d = 0; d < x.ndim; ++d) off += idx[d] * x.strides[d];
    if (to_flat) {
      flat[k] = px[off];
    } else {
      px[off] = flat[k];
    }
    for (int32_t d = x.ndim - 1; d >= 0; --d) {
      if (++idx[d] < x.shape[d]) break;
      idx[d] = 0;
    }
  }
}

// x as a (rows, cols) matrix: dims [0, split) are the rows, [split, ndim) the columns; copied
// into scratch when either group cannot be merged. false when out of memory.
template <class T>
inline bool as_matrix(const croton_buffer& x, int32_t split, Scratch& scratch, Mat<T>* m) {
  int64_t rows = 1, cols = 1, rs = 1, cs = 1;
  const bool r_ok = merged_dim(x, 0, split, &rows, &rs);
  const bool c_ok = merged_dim(x, split, x.ndim, &cols, &cs);
  if (r_ok && c_ok) {
    *m = Mat<T>{static_cast<T*>(x.data), rows, cols, rs, cs};
    return true;
  }
  rows = 1;
  cols = 1;
  for (int32_t d = 0; d < split; ++d) rows *= x.shape[d];
  for (int32_t d = split; d < x.ndim; ++d) cols *= x.shape[d];
  T* copy = static_cast<T*>(scratch.alloc(mul_sat(mul_sat(rows, cols), int64_t(sizeof(T)))));
  if (copy == nullptr) return false;
  strided_copy(x, copy, true);
  *m = Mat<T>{copy, rows, cols, cols, 1};
  return true;
}

// c = tensordot(a, b, naxes): a's last `naxes` dims contracted with b's first `naxes`.
template <class T>
inline bool contract(const croton_buffer& a, const croton_buffer& b, const croton_buffer& c,
                     int32_t naxes, Scratch& scratch) {
  Mat<T> am{}, bm{};
  if (!as_matrix(a, a.ndim - naxes, scratch, &am)) return false;
  if (!as_matrix(b, naxes, scratch, &bm)) return false;
  int64_t rows = 1, cols = 1, rs = 1, cs = 1;
  const int32_t split = a.ndim - naxes;
  if (merged_dim(c, 0, split, &rows, &rs) && merged_dim(c, split, c.ndim, &cols, &cs)) {
    matmul(am, bm, Mat<T>{static_cast<T*>(c.data), rows, cols, rs, cs});
    return true;
  }
  T* tmp = static_cast<T*>(scratch.alloc(mul_sat(mul_sat(am.rows, bm.cols), int64_t(sizeof(T)))));
  if (tmp == nullptr) return false;
  matmul(am, bm, Mat<T>{tmp, am.rows, bm.cols, bm.cols, 1});
  strided_copy(c, tmp, false);
  return true;
}

// A 2-d or 3-d operand's matrix for batch i: (M, K) rows, or a vector as (1, K) / (K, 1).
template <class T>
inline Mat<T> batch_matrix(const croton_buffer& x, int64_t i, bool vector_as_row) {
  T* base = static_cast<T*>(x.data) + i * x.strides[0];
  if (x.ndim == 3) return Mat<T>{base, x.shape[1], x.shape[2], x.strides[1], x.strides[2]};
  if (vector_as_row) return Mat<T>{base, 1, x.shape[1], 0, x.strides[1]};
  return Mat<T>{base, x.shape[1], 1, x.strides[1], 0};
}

// c[i] = a[i] @ b[i] for 2-d (vector per batch) or 3-d (matrix per batch) operands.
template <class T>
void batched_matmul(const croton_buffer& a, const croton_buffer& b, const croton_buffer& c) {
  const int64_t batch = a.shape[0];
  for (int64_t i = 0; i < batch; ++i) {
    const Mat<T> am = batch_matrix<T>(a, i, true);
    const Mat<T> bm = batch_matrix<T>(b, i, false);
    T* base = static_cast<T*>(c.data) + i * c.strides[0];
    Mat<T> cm{base, 1, 1, 0, 0};
    if (a.ndim == 3 && b.ndim == 3) {
      cm = Mat<T>{base, c.shape[1], c.shape[2], c.strides[1], c.strides[2]};
    } else if (a.ndim == 3) {
      cm = Mat<T>{base, c.shape[1], 1, c.strides[1], 0};
    } else if (b.ndim == 3) {
      cm = Mat<T>{base, 1, c.shape[1], 0, c.strides[1]};
    }
    matmul(am, bm, cm);
  }
}

}  // namespace croton

// Compiled once per toolchain into libcroton_kernels (runtime/cpu/kernels_library.cpp,
// build_tools/kernels.py): built with CROTON_PREBUILT_KERNELS, a function's translation
// unit declares these instantiations extern and links them instead of compiling them.
#define CROTON_BATCHED_MATMUL_INSTANCES(EXTERN, T) \
  EXTERN template void batched_matmul<T>(const croton_buffer&, const croton_buffer&, const croton_buffer&);
#define CROTON_BATCHED_MATMUL_TYPES(X) X(float) X(double)
#ifdef CROTON_PREBUILT_KERNELS
namespace croton {
#define CROTON_EXTERN_BATCHED_MATMUL(T) CROTON_BATCHED_MATMUL_INSTANCES(extern, T)
CROTON_BATCHED_MATMUL_TYPES(CROTON_EXTERN_BATCHED_MATMUL)
#undef CROTON_EXTERN_BATCHED_MATMUL
}  // namespace croton
#endif
