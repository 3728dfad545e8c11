// The BLAS bridge: matrix products for generated kernels. Links the OpenBLAS that NumPy ships
// (scipy-openblas32, symbols prefixed `scipy_`) by default; define CROTON_BLAS_PREFIX empty to
// link a system CBLAS (`cblas_sgemm`) instead, e.g. in an exported library.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "abi.h"

#include "cold.hpp"

CROTON_COLD_BEGIN

#ifndef CROTON_BLAS_PREFIX
#define CROTON_BLAS_PREFIX scipy_
#endif
#define CROTON_CAT2(a, b) a##b
#define CROTON_CAT(a, b) CROTON_CAT2(a, b)
#define CROTON_CBLAS(name) CROTON_CAT(CROTON_BLAS_PREFIX, CROTON_CAT(cblas_, name))

extern "C" {
void CROTON_CBLAS(sgemm)(int order, int ta, int tb, int m, int n, int k, float alpha,
                         const float* a, int lda, const float* b, int ldb, float beta, float* c,
                         int ldc);
void CROTON_CBLAS(dgemm)(int order, int ta, int tb, int m, int n, int k, double alpha,
                         const double* a, int lda, const double* b, int ldb, double beta,
                         double* c, int ldc);
}

namespace croton {

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

// A 2-D strided view (element strides). Vectors are passed as (n, 1) or (1, n).
template <class T>
struct Mat {
  T* data;
  int64_t rows, cols, rs, cs;
};

// How BLAS can read `m` without a copy: returns false when the layout needs one.
template <class T>
inline bool blas_layout(const Mat<T>& m, int* trans, int64_t* ld) {
  if ((m.cs == 1 || m.cols == 1) && m.rs >= (m.cols > 1 ? m.cols : 1)) {
    *trans = kNoTrans;
    *ld = m.rs > 0 ? m.rs : 1;
    if (m.rows == 1) *ld = m.cols > 1 ? m.cols : 1;
    return true;
  }
  if ((m.rs == 1 || m.rows == 1) && m.cs >= (m.rows > 1 ? m.rows : 1)) {
    *trans = kTrans;
    *ld = m.cs > 0 ? m.cs : 1;
    if (m.cols == 1) *ld = m.rows > 1 ? m.rows : 1;
    return true;
  }
  return false;
}

template <class T>
inline void copy_contiguous(const Mat<T>& m, T* out) {
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j) out[i * m.cols + j] = m.data[i * m.rs + j * m.cs];
}

// c = a @ b, for c (m, n), a (m, k), b (k, n). c may have any strides.
template <class T>
inline void matmul(const Mat<T>& a, const Mat<T>& b, const Mat<T>& c) {
  const int64_t m = a.rows, k = a.cols, n = b.cols;
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty sum: BLAS may leave c untouched
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c.data[i * c.rs + j * c.cs] = T(0);
    return;
  }
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    // Copies for layouts BLAS cannot read; freed on every path out of this block.
    struct Buffers {
      T* a = nullptr;
      T* b = nullptr;
      T* c = nullptr;
      ~Buffers() { std::free(a); std::free(b); std::free(c); }
    } tmp;
    Mat<T> A = a, B = b;
    int ta = kNoTrans, tb = kNoTrans;  // always set below: a copy (k, n >= 1) is row-major
    int64_t lda = 1, ldb = 1;
    if (!blas_layout(A, &ta, &lda)) {
      tmp.a = static_cast<T*>(std::malloc(sizeof(T) * size_t(m * k > 0 ? m * k : 1)));
      copy_contiguous(A, tmp.a);
      A = Mat<T>{tmp.a, m, k, k, 1};
      blas_layout(A, &ta, &lda);
    }
    if (!blas_layout(B, &tb, &ldb)) {
      tmp.b = static_cast<T*>(std::malloc(sizeof(T) * size_t(k * n > 0 ? k * n : 1)));
      copy_contiguous(B, tmp.b);
      B = Mat<T>{tmp.b, k, n, n, 1};
      blas_layout(B, &tb, &ldb);
    }
    const bool c_direct = (c.cs == 1 || n == 1) && (c.rs >= n || m == 1);
    T* cdata = c.data;
    int64_t ldc = m == 1 ? n : c.rs;
    if (!c_direct) {
      tmp.c = static_cast<T*>(std::malloc(sizeof(T) * size_t(m * n)));
      cdata = tmp.c;
      ldc = n;
    }
    if (ldc < 1) ldc = 1;
    if constexpr (std::is_same_v<T, float>) {
      CROTON_CBLAS(sgemm)(kRowMajor, ta, tb, int(m), int(n), int(k), 1.0f, A.data, int(lda),
                          B.data, int(ldb), 0.0f, cdata, int(ldc));
    } else {
      CROTON_CBLAS(dgemm)(kRowMajor, ta, tb, int(m), int(n), int(k), 1.0, A.data, int(lda),
                          B.data, int(ldb), 0.0, cdata, int(ldc));
    }
    if (!c_direct)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) c.data[i * c.rs + j * c.cs] = cdata[i * n + j];
  } else {
    // Integer, bool and complex products: a plain triple loop (no BLAS for these types).
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        T acc = T(0);
        for (int64_t p = 0; p < k; ++p) acc = acc + a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
        c.data[i * c.rs + j * c.cs] = acc;
      }
  }
}

}  // namespace croton

CROTON_COLD_END
