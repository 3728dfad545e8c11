// gemv: out = beta * y + alpha * op(A) @ x (op(A) = A, or A^T with `trans`), y broadcast to out;
// ger: out = A + alpha * outer(x, y), A broadcast to out. One BLAS call each.
//
// Strided and transposed operands go to BLAS as they are (a leading dimension, an increment or
// the transpose flag); only layouts BLAS cannot take (no unit stride, negative or zero strides)
// are copied first. `out` may be any strided view (a shared variable's storage when the update
// is computed in place, y or A being that same storage): a layout BLAS cannot write is computed
// in scratch memory and copied back. Empty dimensions never reach BLAS.
#pragma once
#include "gemm.hpp"

#include "../cold.hpp"

CROTON_COLD_BEGIN

namespace croton {

// A strided vector view (element stride; 0 for a broadcast element).
template <class T>
struct StridedVec {
  T* data;
  int64_t n, s;
};

template <class T>
inline StridedVec<T> as_vec(const croton_buffer& b) {
  const int64_t n = b.shape[0];
  return StridedVec<T>{static_cast<T*>(b.data), n, n == 1 ? 0 : b.strides[0]};
}

// `v` as BLAS reads it: a positive increment, else a contiguous copy in slot `slot` of `tmp`.
template <class T>
inline StridedVec<T> blas_vec(const StridedVec<T>& v, BlasCopies<T>& tmp, int slot) {
  if (v.n <= 1) return StridedVec<T>{v.data, v.n, 1};
  if (v.s >= 1) return v;
  T* c = tmp.take(slot, v.n);
  for (int64_t i = 0; i < v.n; ++i) c[i] = v.data[i * v.s];
  return StridedVec<T>{c, v.n, 1};
}

// out (m,); Y (m|1,); A (m, k), or (k, m) with trans; X (k,).
template <class T>
void gemv(const croton_buffer& Y, T alpha, const croton_buffer& A, bool trans,
                 const croton_buffer& X, T beta, const croton_buffer& out) {
  Mat<T> a = as_mat<T>(A);
  if (trans) a = Mat<T>{a.data, a.cols, a.rows, a.cs, a.rs};
  const int64_t m = out.shape[0], k = a.cols;
  if (m == 0) return;
  BlasCopies<T> tmp;
  T* po = static_cast<T*>(out.data);
  const int64_t os = out.strides[0];
  const bool direct = os >= 1 || m == 1;  // BLAS takes no negative increment for y here
  T* py = direct ? po : tmp.take(0, m);
  const int64_t incy = direct && m > 1 ? os : 1;
  if (beta == T(0)) {  // BLAS with beta 0 never reads y: no NaN of old contents leaks in
    for (int64_t i = 0; i < m; ++i) py[i * incy] = T(0);
  } else {
    const StridedVec<T> y = as_vec<T>(Y);
    if (!(y.data == py && (y.s == incy || m == 1)))  // in place, y already is out
      for (int64_t i = 0; i < m; ++i) py[i * incy] = y.data[i * y.s];
  }
  if (k == 0) {  // an empty product: out = beta * y
    for (int64_t i = 0; i < m; ++i) py[i * incy] *= beta;
  } else {
    int ta = kNoTrans;
    int64_t lda = 1;
    const Mat<T> a2 = blas_operand(a, tmp, 1, &ta, &lda);
    const StridedVec<T> x = blas_vec(as_vec<T>(X), tmp, 2);
    // the stored row-major matrix is (m, k) without transpose, (k, m) with it
    const int64_t rows = ta == kNoTrans ? m : k, cols = ta == kNoTrans ? k : m;
    blas_gemv<T>(ta, rows, cols, alpha, a2.data, lda, x.data, x.s, beta, py, incy);
  }
  if (!direct)
    for (int64_t i = 0; i < m; ++i) po[i * os] = py[i];
}

// out (m, n); A (m|1, n|1); X (m,); Y (n,).
template <class T>
void ger(const croton_buffer& A, T alpha, const croton_buffer& X, const croton_buffer& Y,
                const croton_buffer& out) {
  const Mat<T> o = as_mat<T>(out);
  const int64_t m = o.rows, n = o.cols;
  if (m == 0 || n == 0) return;
  BlasCopies<T> tmp;
  bool transposed = false;
  int64_t ld = 1;
  const Mat<T> w = blas_target(o, tmp, 0, &transposed, &ld);
  copy_broadcast(A, w);
  const StridedVec<T> x = blas_vec(as_vec<T>(X), tmp, 1), y = blas_vec(as_vec<T>(Y), tmp, 2);
  // a column-major out is the row-major out^T: out^T += alpha * y x^T
  const StridedVec<T>& u = transposed ? y : x;
  const StridedVec<T>& v = transposed ? x : y;
  blas_ger<T>(u.n, v.n, alpha, u.data, u.s, v.data, v.s, w.data, ld);
  copy_back(w, o);
}

}  // namespace croton

CROTON_COLD_END

// Compiled once per toolchain into libcroton_kernels (runtime/cpu/kernels_library.cpp,
// build_tools/kernels.py): built with CROTON_PREBUILT_KERNELS, a function's translation
// unit declares these instantiations extern and links them instead of compiling them.
#define CROTON_GEMV_INSTANCES(EXTERN, T) \
  EXTERN template void gemv<T>(const croton_buffer&, T, const croton_buffer&, bool, const croton_buffer&, T, const croton_buffer&); \
  EXTERN template void ger<T>(const croton_buffer&, T, const croton_buffer&, const croton_buffer&, const croton_buffer&);
#define CROTON_GEMV_TYPES(X) X(float) X(double)
#ifdef CROTON_PREBUILT_KERNELS
namespace croton {
#define CROTON_EXTERN_GEMV(T) CROTON_GEMV_INSTANCES(extern, T)
CROTON_GEMV_TYPES(CROTON_EXTERN_GEMV)
#undef CROTON_EXTERN_GEMV
}  // namespace croton
#endif
