// A CPU emulation of the part of cuBLAS that runtime/cuda/kernels/blas.cuh calls, for
// tests/test_cuda_blas_emulated.py: reference column-major gemm (strided-batched too), gemv and
// ger (the textbook
// loops of the BLAS reference implementation, in double for float too), honouring transa,
// transb, m, n, k, lda, ldb, ldc, incx, incy, alpha and beta as cuBLAS documents them, and
// refusing what cuBLAS refuses (CUBLAS_STATUS_INVALID_VALUE: a negative size, a leading
// dimension smaller than the rows of the stored matrix, a zero increment; an uncreated handle).
// So the generated code's flags and leading dimensions are really exercised: a swapped operand
// or a wrong leading dimension gives a wrong result or an error here, as on a GPU. Memory is
// the host's (tests/cuda_emu/cuda_runtime.h).
#pragma once
#include <cstdint>

enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
struct cublasContext {
  int magic;
};
using cublasHandle_t = cublasContext*;

namespace croton_emu {
inline int blas_calls = 0;        // gemm, gemv and ger calls so far
inline int blas_handles = 0;      // handles created
inline bool blas_fail_next = false;  // the next gemm/gemv/ger fails (a test's request)
inline int strided_batched_calls = 0;  // cublas?gemmStridedBatched calls so far
constexpr int kHandleMagic = 0x6375626c;

inline cublasStatus_t blas_enter(cublasHandle_t h) {
  if (h == nullptr || h->magic != kHandleMagic) return CUBLAS_STATUS_NOT_INITIALIZED;
  ++blas_calls;
  if (blas_fail_next) {
    blas_fail_next = false;
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  return CUBLAS_STATUS_SUCCESS;
}

// element (i, j) of the column-major matrix at p with leading dimension ld, op applied
template <class T>
T at(const T* p, int ld, cublasOperation_t op, int i, int j) {
  return op == CUBLAS_OP_N ? p[i + int64_t(j) * ld] : p[j + int64_t(i) * ld];
}

template <class T>
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                    int k, const T* alpha, const T* a, int lda, const T* b, int ldb,
                    const T* beta, T* c, int ldc) {
  const int arows = ta == CUBLAS_OP_N ? m : k, brows = tb == CUBLAS_OP_N ? k : n;
  if (m < 0 || n < 0 || k < 0 || lda < (arows > 1 ? arows : 1) ||
      ldb < (brows > 1 ? brows : 1) || ldc < (m > 1 ? m : 1) || ta == CUBLAS_OP_C ||
      tb == CUBLAS_OP_C)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (cublasStatus_t s = blas_enter(h)) return s;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0;
      for (int p = 0; p < k; ++p) acc += double(at(a, lda, ta, i, p)) * double(at(b, ldb, tb, p, j));
      T& out = c[i + int64_t(j) * ldc];  // beta 0: c is not read (it may hold NaN)
      out = T(*alpha * acc + (*beta == T(0) ? 0.0 : double(*beta) * double(out)));
    }
  return CUBLAS_STATUS_SUCCESS;
}

template <class T>
cublasStatus_t gemv(cublasHandle_t h, cublasOperation_t trans, int m, int n, const T* alpha,
                    const T* a, int lda, const T* x, int incx, const T* beta, T* y, int incy) {
  if (m < 0 || n < 0 || lda < (m > 1 ? m : 1) || incx == 0 || incy == 0 || trans == CUBLAS_OP_C)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (cublasStatus_t s = blas_enter(h)) return s;
  const int leny = trans == CUBLAS_OP_N ? m : n, lenx = trans == CUBLAS_OP_N ? n : m;
  const int64_t x0 = incx > 0 ? 0 : int64_t(1 - lenx) * incx;  // BLAS's negative increments
  const int64_t y0 = incy > 0 ? 0 : int64_t(1 - leny) * incy;
  for (int i = 0; i < leny; ++i) {
    double acc = 0;
    for (int p = 0; p < lenx; ++p) {
      const T aip = trans == CUBLAS_OP_N ? a[i + int64_t(p) * lda] : a[p + int64_t(i) * lda];
      acc += double(aip) * double(x[x0 + p * int64_t(incx)]);
    }
    T& out = y[y0 + i * int64_t(incy)];
    out = T(*alpha * acc + (*beta == T(0) ? 0.0 : double(*beta) * double(out)));
  }
  return CUBLAS_STATUS_SUCCESS;
}

template <class T>
cublasStatus_t ger(cublasHandle_t h, int m, int n, const T* alpha, const T* x, int incx,
                   const T* y, int incy, T* a, int lda) {
  if (m < 0 || n < 0 || lda < (m > 1 ? m : 1) || incx == 0 || incy == 0)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (cublasStatus_t s = blas_enter(h)) return s;
  const int64_t x0 = incx > 0 ? 0 : int64_t(1 - m) * incx;
  const int64_t y0 = incy > 0 ? 0 : int64_t(1 - n) * incy;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i)
      a[i + int64_t(j) * lda] += T(*alpha * double(x[x0 + i * int64_t(incx)]) *
                                   double(y[y0 + j * int64_t(incy)]));
  return CUBLAS_STATUS_SUCCESS;
}
// one gemm per batch, the operands strideA, strideB, strideC elements apart
template <class T>
cublasStatus_t gemm_strided_batched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb,
                                    int m, int n, int k, const T* alpha, const T* a, int lda,
                                    long long sa, const T* b, int ldb, long long sb,
                                    const T* beta, T* c, int ldc, long long sc, int batch) {
  if (batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  ++strided_batched_calls;
  for (int i = 0; i < batch; ++i)
    if (cublasStatus_t s = gemm(h, ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta,
                                c + i * sc, ldc))
      return s;
  return CUBLAS_STATUS_SUCCESS;
}
}  // namespace croton_emu

inline cublasStatus_t cublasCreate(cublasHandle_t* h) {
  ++croton_emu::blas_handles;
  *h = new cublasContext{croton_emu::kHandleMagic};
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasDestroy(cublasHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
inline const char* cublasGetStatusName(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}
inline const char* cublasGetStatusString(cublasStatus_t s) {
  return s == CUBLAS_STATUS_INVALID_VALUE ? "an invalid value was used as an argument"
         : s == CUBLAS_STATUS_EXECUTION_FAILED ? "the GPU program failed to execute"
                                               : "emulated cuBLAS status";
}

#define CROTON_EMU_BLAS(name, impl, T)                                  \
  template <class... A>                                                 \
  inline cublasStatus_t name(cublasHandle_t h, A... args) {             \
    return croton_emu::impl<T>(h, args...);                             \
  }
CROTON_EMU_BLAS(cublasSgemm, gemm, float)
CROTON_EMU_BLAS(cublasDgemm, gemm, double)
CROTON_EMU_BLAS(cublasSgemv, gemv, float)
CROTON_EMU_BLAS(cublasDgemv, gemv, double)
CROTON_EMU_BLAS(cublasSgemmStridedBatched, gemm_strided_batched, float)
CROTON_EMU_BLAS(cublasDgemmStridedBatched, gemm_strided_batched, double)
CROTON_EMU_BLAS(cublasSger, ger, float)
CROTON_EMU_BLAS(cublasDger, ger, double)
#undef CROTON_EMU_BLAS

// the cuBLAS calls so far, the handles created; make the next call fail (the error path)
extern "C" int croton_emu_blas_calls() { return croton_emu::blas_calls; }
extern "C" int croton_emu_blas_handles() { return croton_emu::blas_handles; }
extern "C" int croton_emu_blas_strided_batched() { return croton_emu::strided_batched_calls; }
extern "C" void croton_emu_blas_fail_next() { croton_emu::blas_fail_next = true; }
