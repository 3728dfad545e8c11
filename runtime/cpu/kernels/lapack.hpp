// Dense linear algebra through LAPACK: inverse, determinant, solve, Cholesky and the Cholesky
// gradient. The LAPACK symbols carry the BLAS bridge's prefix (`scipy_dgetrf_` from
// scipy-openblas32; define CROTON_BLAS_PREFIX empty to link a system LAPACK: `dgetrf_`).
// LAPACK is column-major: every kernel copies its operands into Fortran-order scratch, so inputs
// may have any strides. Errors (a singular or not positive definite matrix) name the op and the
// user's line through the check id `cid`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../runtime.hpp"
#include "../cold.hpp"

CROTON_COLD_BEGIN

#define CROTON_LAPACK(name) CROTON_CAT(CROTON_BLAS_PREFIX, CROTON_CAT(name, _))

extern "C" {
void CROTON_LAPACK(sgetrf)(const int* m, const int* n, float* a, const int* lda, int* ipiv,
                           int* info);
void CROTON_LAPACK(dgetrf)(const int* m, const int* n, double* a, const int* lda, int* ipiv,
                           int* info);
void CROTON_LAPACK(sgesv)(const int* n, const int* nrhs, float* a, const int* lda, int* ipiv,
                          float* b, const int* ldb, int* info);
void CROTON_LAPACK(dgesv)(const int* n, const int* nrhs, double* a, const int* lda, int* ipiv,
                          double* b, const int* ldb, int* info);
// the trailing size_t is the hidden length of the Fortran character argument
void CROTON_LAPACK(spotrf)(const char* uplo, const int* n, float* a, const int* lda, int* info,
                           size_t uplo_len);
void CROTON_LAPACK(dpotrf)(const char* uplo, const int* n, double* a, const int* lda, int* info,
                           size_t uplo_len);
}

namespace croton {

template <class T>
inline void lapack_getrf(int n, T* a, int* ipiv, int* info) {
  blas_single_threaded();  // as every BLAS call (blas.hpp): one thread pool
  const int lda = n > 1 ? n : 1;
  if constexpr (std::is_same_v<T, float>) {
    CROTON_LAPACK(sgetrf)(&n, &n, a, &lda, ipiv, info);
  } else {
    CROTON_LAPACK(dgetrf)(&n, &n, a, &lda, ipiv, info);
  }
}

template <class T>
inline void lapack_gesv(int n, int nrhs, T* a, int* ipiv, T* b, int* info) {
  blas_single_threaded();  // as every BLAS call (blas.hpp): one thread pool
  const int ld = n > 1 ? n : 1;
  if constexpr (std::is_same_v<T, float>) {
    CROTON_LAPACK(sgesv)(&n, &nrhs, a, &ld, ipiv, b, &ld, info);
  } else {
    CROTON_LAPACK(dgesv)(&n, &nrhs, a, &ld, ipiv, b, &ld, info);
  }
}

template <class T>
inline void lapack_potrf(bool lower, int n, T* a, int* info) {
  blas_single_threaded();  // as every BLAS call (blas.hpp): one thread pool
  const int lda = n > 1 ? n : 1;
  const char uplo = lower ? 'L' : 'U';
  if constexpr (std::is_same_v<T, float>) {
    CROTON_LAPACK(spotrf)(&uplo, &n, a, &lda, info, 1);
  } else {
    CROTON_LAPACK(dpotrf)(&uplo, &n, a, &lda, info, 1);
  }
}

// Element (i, j) of a 2-d buffer, or element i of a 1-d one (j = 0).
template <class T>
inline T& at2(const croton_buffer& x, int64_t i, int64_t j) {
  T* p = static_cast<T*>(x.data);
  return x.ndim == 1 ? p[i * x.strides[0]] : p[i * x.strides[0] + j * x.strides[1]];
}

// A column-major copy of the (rows, cols) buffer x (a vector is one column).
template <class T>
inline T* fortran_copy(const croton_buffer& x, Scratch& scratch) {
  const int64_t rows = x.shape[0], cols = x.ndim == 2 ? x.shape[1] : 1;
  T* f = static_cast<T*>(scratch.alloc(mul_sat(mul_sat(rows, cols), int64_t(sizeof(T)))));
  if (f == nullptr) return nullptr;
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < rows; ++i) f[i + j * rows] = at2<T>(x, i, j);
  return f;
}

template <class T>
inline void from_fortran(const T* f, const croton_buffer& out) {
  const int64_t rows = out.shape[0], cols = out.ndim == 2 ? out.shape[1] : 1;
  for (int64_t j = 0; j < cols; ++j)
    for (int64_t i = 0; i < rows; ++i) at2<T>(out, i, j) = f[i + j * rows];
}

// out = inverse of the square matrix a.
template <class T>
inline int matrix_inverse(const croton_buffer& a, const croton_buffer& out, Scratch& scratch,
                          croton_error* err, int32_t cid) {
  const int n = int(a.shape[0]);
  if (n == 0) return 0;
  T* f = fortran_copy<T>(a, scratch);
  T* eye = static_cast<T*>(scratch.alloc(int64_t(n) * n * int64_t(sizeof(T))));
  int* ipiv = static_cast<int*>(scratch.alloc(int64_t(n) * int64_t(sizeof(int))));
  if (f == nullptr || eye == nullptr || ipiv == nullptr) return fail_alloc(err);
  for (int64_t k = 0; k < int64_t(n) * n; ++k) eye[k] = T(0);
  for (int64_t k = 0; k < n; ++k) eye[k * n + k] = T(1);
  int info = 0;
  lapack_gesv<T>(n, n, f, ipiv, eye, &info);
  if (info > 0) return fail_value(err, cid, "singular matrix");
  from_fortran(eye, out);
  return 0;
}

// out (0-d) = determinant of the square matrix a, from its LU factorization.
template <class T>
inline int det(const croton_buffer& a, const croton_buffer& out, Scratch& scratch,
               croton_error* err) {
  const int n = int(a.shape[0]);
  T* result = static_cast<T*>(out.data);
  if (n == 0) {
    *result = T(1);
    return 0;
  }
  T* f = fortran_copy<T>(a, scratch);
  int* ipiv = static_cast<int*>(scratch.alloc(int64_t(n) * int64_t(sizeof(int))));
  if (f == nullptr || ipiv == nullptr) return fail_alloc(err);
  int info = 0;
  lapack_getrf<T>(n, f, ipiv, &info);
  T d = T(1);
  for (int64_t k = 0; k < n; ++k) {
    d *= f[k * n + k];
    if (ipiv[k] != k + 1) d = -d;
  }
  *result = d;  // info > 0: an exactly zero pivot, d is 0
  return 0;
}

// out = x with a @ x = b; b (and out) a vector or a matrix of right-hand sides.
template <class T>
inline int solve(const croton_buffer& a, const croton_buffer& b, const croton_buffer& out,
                 Scratch& scratch, croton_error* err, int32_t cid) {
  const int n = int(a.shape[0]);
  const int nrhs = b.ndim == 2 ? int(b.shape[1]) : 1;
  if (n == 0 || nrhs == 0) return 0;
  T* f = fortran_copy<T>(a, scratch);
  T* rhs = fortran_copy<T>(b, scratch);
  int* ipiv = static_cast<int*>(scratch.alloc(int64_t(n) * int64_t(sizeof(int))));
  if (f == nullptr || rhs == nullptr || ipiv == nullptr) return fail_alloc(err);
  int info = 0;
  lapack_gesv<T>(n, nrhs, f, ipiv, rhs, &info);
  if (info > 0) return fail_value(err, cid, "singular matrix");
  from_fortran(rhs, out);
  return 0;
}

// out = the Cholesky factor of a (lower: a = L L^T; else a = U^T U), reading only that
// triangle of a; the other triangle of out is zero.
template <class T>
inline int cholesky(const croton_buffer& a, const croton_buffer& out, bool lower,
                    Scratch& scratch, croton_error* err, int32_t cid) {
  const int n = int(a.shape[0]);
  if (n == 0) return 0;
  T* f = fortran_copy<T>(a, scratch);
  if (f == nullptr) return fail_alloc(err);
  int info = 0;
  lapack_potrf<T>(lower, n, f, &info);
  if (info > 0) return fail_value(err, cid, "matrix is not positive definite");
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < n; ++i)
      if (lower ? i < j : i > j) f[i + j * n] = T(0);
  from_fortran(f, out);
  return 0;
}

// The gradient of cholesky (Murray 2016, as Theano's CholeskyGrad): with L the lower factor and
// G its output gradient, P = tril(L^T G) with a halved diagonal, S = L^-T P L^-1, and the
// gradient is tril(S + S^T) - diag(S) (transposed throughout for the upper factor).
template <class T>
inline int cholesky_grad(const croton_buffer& factor, const croton_buffer& g,
                         const croton_buffer& out, bool lower, Scratch& scratch,
                         croton_error* err) {
  const int64_t n = factor.shape[0];
  if (n == 0) return 0;
  const int64_t bytes = n * n * int64_t(sizeof(T));
  T* l = static_cast<T*>(scratch.alloc(bytes));  // row-major, lower
  T* gl = static_cast<T*>(scratch.alloc(bytes));
  T* p = static_cast<T*>(scratch.alloc(bytes));
  if (l == nullptr || gl == nullptr || p == nullptr) return fail_alloc(err);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      l[i * n + j] = lower ? at2<T>(factor, i, j) : at2<T>(factor, j, i);
      gl[i * n + j] = lower ? at2<T>(g, i, j) : at2<T>(g, j, i);
    }
  for (int64_t i = 0; i < n; ++i)  // P = tril(L^T G), diagonal halved
    for (int64_t j = 0; j < n; ++j) {
      T acc = T(0);
      if (j <= i)
        for (int64_t k = 0; k < n; ++k) acc += l[k * n + i] * gl[k * n + j];
      p[i * n + j] = i == j ? acc / T(2) : acc;
    }
  for (int64_t r = 0; r < n; ++r)  // X = P L^-1: each row x solves L^T x^T = p^T
    for (int64_t j = n - 1; j >= 0; --j) {
      T acc = p[r * n + j];
      for (int64_t k = j + 1; k < n; ++k) acc -= p[r * n + k] * l[k * n + j];
      p[r * n + j] = acc / l[j * n + j];
    }
  for (int64_t c = 0; c < n; ++c)  // S = L^-T X: each column solves L^T s = x
    for (int64_t i = n - 1; i >= 0; --i) {
      T acc = p[i * n + c];
      for (int64_t k = i + 1; k < n; ++k) acc -= l[k * n + i] * p[k * n + c];
      p[i * n + c] = acc / l[i * n + i];
    }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      T v = T(0);
      if (i > j) v = p[i * n + j] + p[j * n + i];
      if (i == j) v = p[i * n + i];
      if (lower) {
        at2<T>(out, i, j) = v;
      } else {
        at2<T>(out, j, i) = v;
      }
    }
  return 0;
}

}  // namespace croton

CROTON_COLD_END
