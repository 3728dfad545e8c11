// gemm: out = beta * C + alpha * (A @ B) with C broadcast to out's shape; one BLAS call.
//
// Transposed and strided A and B go to BLAS as they are (transpose flags, leading dimensions);
// only layouts BLAS cannot take are copied. `out` may have any strides (an update computed in
// place writes the shared variable's storage, C being that storage): a column-major out is
// computed as out^T = B^T A^T, any other layout BLAS cannot write in scratch memory.
#pragma once
#include "../blas.hpp"

#include "../cold.hpp"

CROTON_COLD_BEGIN

namespace croton {

template <class T>
inline Mat<T> as_mat(const croton_buffer& b) {
  return Mat<T>{static_cast<T*>(b.data), b.shape[0], b.shape[1], b.strides[0], b.strides[1]};
}

// `m` as BLAS reads it: as it is, or a row-major copy in slot `slot` of `tmp`.
template <class T>
inline Mat<T> blas_operand(const Mat<T>& m, BlasCopies<T>& tmp, int slot, int* trans,
                           int64_t* ld) {
  if (blas_layout(m, trans, ld)) return m;
  T* c = tmp.take(slot, m.rows * m.cols);
  copy_contiguous(m, c);
  const Mat<T> copy{c, m.rows, m.cols, m.cols, 1};
  blas_layout(copy, trans, ld);
  return copy;
}

// out (m, n); C (m|1, n|1); A (m, k); B (k, n).
template <class T>
void gemm(const croton_buffer& C, T alpha, const croton_buffer& A, const croton_buffer& B,
                 T beta, const croton_buffer& out) {
  const Mat<T> o = as_mat<T>(out);
  const int64_t m = o.rows, n = o.cols, k = A.shape[1];
  if (m == 0 || n == 0) return;
  BlasCopies<T> tmp;
  bool transposed = false;
  int64_t ldc = 1;
  const Mat<T> w = blas_target(o, tmp, 0, &transposed, &ldc);
  if (beta == T(0)) {
    scale_all(w, beta);
  } else {
    copy_broadcast(C, w);
  }
  if (k == 0) {  // an empty sum: BLAS rejects k = 0 with some leading dimensions
    scale_all(w, beta);
  } else {
    Mat<T> a = as_mat<T>(A), b = as_mat<T>(B);
    if (transposed) {  // BLAS writes the row-major out^T = B^T A^T
      const Mat<T> at{a.data, a.cols, a.rows, a.cs, a.rs};
      a = Mat<T>{b.data, b.cols, b.rows, b.cs, b.rs};
      b = at;
    }
    int ta = kNoTrans, tb = kNoTrans;
    int64_t lda = 1, ldb = 1;
    a = blas_operand(a, tmp, 1, &ta, &lda);
    b = blas_operand(b, tmp, 2, &tb, &ldb);
    blas_gemm<T>(ta, tb, a.rows, b.cols, k, alpha, a.data, lda, b.data, ldb, beta, w.data, ldc);
  }
  copy_back(w, o);
}

}  // namespace croton

CROTON_COLD_END

// Compiled once per toolchain into libcroton_kernels (runtime/cpu/kernels_library.cpp,
// build_tools/kernels.py): built with CROTON_PREBUILT_KERNELS, a function's translation
// unit declares these instantiations extern and links them instead of compiling them.
#define CROTON_GEMM_INSTANCES(EXTERN, T) \
  EXTERN template void gemm<T>(const croton_buffer&, T, const croton_buffer&, const croton_buffer&, T, const croton_buffer&);
#define CROTON_GEMM_TYPES(X) X(float) X(double)
#ifdef CROTON_PREBUILT_KERNELS
namespace croton {
#define CROTON_EXTERN_GEMM(T) CROTON_GEMM_INSTANCES(extern, T)
CROTON_GEMM_TYPES(CROTON_EXTERN_GEMM)
#undef CROTON_EXTERN_GEMM
}  // namespace croton
#endif
