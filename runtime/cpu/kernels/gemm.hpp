// gemm: out = beta * C + alpha * (A @ B) with C broadcast to out's shape; one BLAS call.
#pragma once
#include "../blas.hpp"

#include "../cold.hpp"

CROTON_COLD_BEGIN

namespace croton {

template <class T>
inline Mat<T> as_mat(const croton_buffer& b) {
  return Mat<T>{static_cast<T*>(b.data), b.shape[0], b.shape[1], b.strides[0], b.strides[1]};
}

// `out` is contiguous (m, n); C has shape (m|1, n|1); A (m, k); B (k, n).
template <class T>
inline void gemm(const croton_buffer& C, T alpha, const croton_buffer& A, const croton_buffer& B,
                 T beta, const croton_buffer& out) {
  const Mat<T> a = as_mat<T>(A), b = as_mat<T>(B), o = as_mat<T>(out);
  const int64_t m = o.rows, n = o.cols, k = a.cols;
  if (m == 0 || n == 0) return;
  T* po = o.data;
  if (beta != T(0)) {  // out = C, broadcast (rows copied with memcpy when they are contiguous)
    const T* pc = static_cast<const T*>(C.data);
    const int64_t rs = C.shape[0] == 1 ? 0 : C.strides[0], cs = C.shape[1] == 1 ? 0 : C.strides[1];
    if (cs == 1 && o.cs == 1) {
      for (int64_t i = 0; i < m; ++i) std::memcpy(po + i * o.rs, pc + i * rs, sizeof(T) * size_t(n));
    } else {
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) po[i * o.rs + j * o.cs] = pc[i * rs + j * cs];
    }
  }
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) po[i * o.rs + j * o.cs] *= beta;
    return;
  }
  struct Buffers {
    T* a = nullptr;
    T* b = nullptr;
    ~Buffers() { std::free(a); std::free(b); }
  } tmp;
  Mat<T> A2 = a, B2 = b;
  int ta = kNoTrans, tb = kNoTrans;
  int64_t lda = 1, ldb = 1;
  if (!blas_layout(A2, &ta, &lda)) {
    tmp.a = static_cast<T*>(std::malloc(sizeof(T) * size_t(m * k)));
    copy_contiguous(A2, tmp.a);
    A2 = Mat<T>{tmp.a, m, k, k, 1};
    blas_layout(A2, &ta, &lda);
  }
  if (!blas_layout(B2, &tb, &ldb)) {
    tmp.b = static_cast<T*>(std::malloc(sizeof(T) * size_t(k * n)));
    copy_contiguous(B2, tmp.b);
    B2 = Mat<T>{tmp.b, k, n, n, 1};
    blas_layout(B2, &tb, &ldb);
  }
  const int ldc = int(n > 1 ? o.rs : (o.rs > 0 ? o.rs : 1));
  if constexpr (std::is_same_v<T, float>) {
    CROTON_CBLAS(sgemm)(kRowMajor, ta, tb, int(m), int(n), int(k), alpha, A2.data, int(lda),
                        B2.data, int(ldb), beta, po, ldc);
  } else {
    CROTON_CBLAS(dgemm)(kRowMajor, ta, tb, int(m), int(n), int(k), alpha, A2.data, int(lda),
                        B2.data, int(ldb), beta, po, ldc);
  }
}

}  // namespace croton

CROTON_COLD_END
