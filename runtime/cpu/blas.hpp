// The BLAS bridge: matrix products (gemm, gemv, ger) for generated kernels. Links the OpenBLAS
// that NumPy ships (scipy-openblas32, symbols prefixed `scipy_`) by default; define
// CROTON_BLAS_PREFIX empty to link a system CBLAS (`cblas_sgemm`) instead, e.g. in an exported
// library.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "abi.h"
#include "parallel.hpp"

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
void CROTON_CBLAS(sgemv)(int order, int trans, int m, int n, float alpha, const float* a, int lda,
                         const float* x, int incx, float beta, float* y, int incy);
void CROTON_CBLAS(dgemv)(int order, int trans, int m, int n, double alpha, const double* a,
                         int lda, const double* x, int incx, double beta, double* y, int incy);
void CROTON_CBLAS(sger)(int order, int m, int n, float alpha, const float* x, int incx,
                        const float* y, int incy, float* a, int lda);
void CROTON_CBLAS(dger)(int order, int m, int n, double alpha, const double* x, int incx,
                        const double* y, int incy, double* a, int lda);
// OpenBLAS's thread count; weak, so a BLAS without it links too (its threads are then its own).
void CROTON_CAT(CROTON_BLAS_PREFIX, openblas_set_num_threads)(int) __attribute__((weak));
}

namespace croton {

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

// A 2-D strided view (element strides). Vectors are passed as (n, 1) or (1, n).
template <class T>
struct Mat {
  T* data;
  int64_t rows, cols, rs, cs;
};

// BLAS itself runs on one thread and croton splits each product across its own thread pool:
// one pool of threads on the machine. (Two pools, OpenBLAS's and OpenMP's, take turns for the
// same cores: an OpenMP thread that spins after a loop slows the BLAS call that follows, and
// one that sleeps costs 0.1-0.3 ms to wake on these machines, more than most loops take.)
inline void blas_single_threaded() {
  static const bool done = [] {
    if (&CROTON_CAT(CROTON_BLAS_PREFIX, openblas_set_num_threads) != nullptr)
      CROTON_CAT(CROTON_BLAS_PREFIX, openblas_set_num_threads)(1);
    return true;
  }();
  (void)done;
}

// A BLAS multiply-add counts as 1/32 of an elementwise loop's element in the threading
// threshold (CROTON_OMP_MIN_WORK): a product is split from about 1M multiply-adds (15-25 us on
// one core).
constexpr int64_t kBlasWorkDivisor = 32;
// From this many multiply-adds (512^3 x 2) a product runs as one chunk per thread (blas_gemm).
constexpr int64_t kGemmOneChunkPerThread = int64_t(1) << 28;

template <class T>
inline void blas_gemm_call(int ta, int tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                           int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    CROTON_CBLAS(sgemm)(kRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b,
                        int(ldb), beta, c, int(ldc));
  } else {
    CROTON_CBLAS(dgemm)(kRowMajor, ta, tb, int(m), int(n), int(k), alpha, a, int(lda), b,
                        int(ldb), beta, c, int(ldc));
  }
}

template <class T>
inline void blas_gemv(int ta, int64_t rows, int64_t cols, T alpha, const T* a, int64_t lda,
                      const T* x, int64_t incx, T beta, T* y, int64_t incy);

// Row-major c (m, n) = alpha * op(a) @ op(b) + beta * c, split across the threads by blocks of
// 16 columns when there are enough of them, else by rows (each thread one BLAS call on its part).
// A product with one row or one column is a gemv (BLAS's gemm kernels waste most of their work
// on it: x^T @ g for a 400x784 x took 260 us as a gemm, 30 us as a gemv).
template <class T>
void blas_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                      int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  if (n == 1) {  // c's column = op(a) @ op(b)'s column
    const int64_t incx = tb == kNoTrans ? ldb : 1;
    if (ta == kNoTrans) {
      blas_gemv(kNoTrans, m, k, alpha, a, lda, b, incx, beta, c, ldc);
    } else {
      blas_gemv(kTrans, k, m, alpha, a, lda, b, incx, beta, c, ldc);
    }
    return;
  }
  if (m == 1) {  // c's row = op(b)^T @ op(a)'s row
    const int64_t incx = ta == kNoTrans ? 1 : lda;
    if (tb == kNoTrans) {
      blas_gemv(kTrans, k, n, alpha, b, ldb, a, incx, beta, c, 1);
    } else {
      blas_gemv(kNoTrans, n, k, alpha, b, ldb, a, incx, beta, c, 1);
    }
    return;
  }
  blas_single_threaded();
  constexpr int64_t kBlock = 16;
  struct Job {
    int ta, tb;
    int64_t m, n, k;
    T alpha;
    const T* a;
    int64_t lda;
    const T* b;
    int64_t ldb;
    T beta;
    T* c;
    int64_t ldc;
    bool by_columns;
    int64_t offset;  // by columns: block i starts at column i * kBlock - offset (clamped to 0)
  } job{ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, n >= 4 * kBlock, 0};
  // Blocks of columns start on cache lines of c when its rows do (ldc a multiple of a line):
  // otherwise two threads write the line a block boundary splits, in every row (false
  // sharing; a shared weight matrix is wherever NumPy's allocator put it).
  constexpr int64_t kLine = 64;
  if (job.by_columns && (ldc * int64_t(sizeof(T))) % kLine == 0 &&
      reinterpret_cast<uintptr_t>(c) % sizeof(T) == 0) {
    const int64_t to_line = (kLine - int64_t(reinterpret_cast<uintptr_t>(c) % kLine)) % kLine;
    const int64_t shift = (to_line / int64_t(sizeof(T))) % kBlock;  // first aligned column
    job.offset = (kBlock - shift) % kBlock;
  }
  auto part = [](void* p, int64_t lo, int64_t hi, int) {
    const Job& j = *static_cast<const Job*>(p);
    if (j.by_columns) {
      const int64_t b0 = lo * kBlock - j.offset, b1 = hi * kBlock - j.offset;
      const int64_t c0 = b0 > 0 ? b0 : 0, c1 = b1 < j.n ? b1 : j.n;
      if (c1 <= c0) return;
      const T* bp = j.tb == kNoTrans ? j.b + c0 : j.b + c0 * j.ldb;
      blas_gemm_call(j.ta, j.tb, j.m, c1 - c0, j.k, j.alpha, j.a, j.lda, bp, j.ldb, j.beta,
                     j.c + c0, j.ldc);
    } else {
      const T* ap = j.ta == kNoTrans ? j.a + lo * j.lda : j.a + lo;
      blas_gemm_call(j.ta, j.tb, hi - lo, j.n, j.k, j.alpha, ap, j.lda, j.b, j.ldb, j.beta,
                     j.c + lo * j.ldc, j.ldc);
    }
  };
  const int64_t units = job.by_columns ? (n + job.offset + kBlock - 1) / kBlock : m;
  // Every chunk packs the whole shared operand again (all of a when split by columns, all of b
  // when split by rows): a large product is split into one chunk per thread, which packs it
  // least (1024^3 float32, medians of three runs: 10.9 ms against 12.6 in two per thread).
  const int chunks_per_thread = m * n * k >= kGemmOneChunkPerThread ? 1 : 2;
  if (parallel_chunks(units, m * n * k / kBlasWorkDivisor, part, &job, CROTON_OMP_MIN_WORK,
                      chunks_per_thread) == 0)
    part(&job, 0, units, 0);
}

// y = alpha * op(a) @ x + beta * y for the row-major (rows, cols) a, split by parts of y.
template <class T>
inline void blas_gemv(int ta, int64_t rows, int64_t cols, T alpha, const T* a, int64_t lda,
                      const T* x, int64_t incx, T beta, T* y, int64_t incy) {
  blas_single_threaded();
  struct Job {
    int ta;
    int64_t rows, cols;
    T alpha;
    const T* a;
    int64_t lda;
    const T* x;
    int64_t incx;
    T beta;
    T* y;
    int64_t incy;
  } job{ta, rows, cols, alpha, a, lda, x, incx, beta, y, incy};
  auto part = [](void* p, int64_t lo, int64_t hi, int) {
    const Job& j = *static_cast<const Job*>(p);
    const bool by_rows = j.ta == kNoTrans;  // y's elements are a's rows, or with trans its columns
    const T* ap = by_rows ? j.a + lo * j.lda : j.a + lo;
    const int r = int(by_rows ? hi - lo : j.rows), c = int(by_rows ? j.cols : hi - lo);
    if constexpr (std::is_same_v<T, float>) {
      CROTON_CBLAS(sgemv)(kRowMajor, j.ta, r, c, j.alpha, ap, int(j.lda), j.x, int(j.incx),
                          j.beta, j.y + lo * j.incy, int(j.incy));
    } else {
      CROTON_CBLAS(dgemv)(kRowMajor, j.ta, r, c, j.alpha, ap, int(j.lda), j.x, int(j.incx),
                          j.beta, j.y + lo * j.incy, int(j.incy));
    }
  };
  const int64_t units = ta == kNoTrans ? rows : cols;
  if (parallel_chunks(units, rows * cols, part, &job) == 0) part(&job, 0, units, 0);
}

// Row-major a (m, n) += alpha * x y^T, split by rows.
template <class T>
inline void blas_ger(int64_t m, int64_t n, T alpha, const T* x, int64_t incx, const T* y,
                     int64_t incy, T* a, int64_t lda) {
  blas_single_threaded();
  struct Job {
    int64_t n;
    T alpha;
    const T* x;
    int64_t incx;
    const T* y;
    int64_t incy;
    T* a;
    int64_t lda;
  } job{n, alpha, x, incx, y, incy, a, lda};
  auto part = [](void* p, int64_t lo, int64_t hi, int) {
    const Job& j = *static_cast<const Job*>(p);
    if constexpr (std::is_same_v<T, float>) {
      CROTON_CBLAS(sger)(kRowMajor, int(hi - lo), int(j.n), j.alpha, j.x + lo * j.incx,
                         int(j.incx), j.y, int(j.incy), j.a + lo * j.lda, int(j.lda));
    } else {
      CROTON_CBLAS(dger)(kRowMajor, int(hi - lo), int(j.n), j.alpha, j.x + lo * j.incx,
                         int(j.incx), j.y, int(j.incy), j.a + lo * j.lda, int(j.lda));
    }
  };
  if (parallel_chunks(m, m * n, part, &job) == 0) part(&job, 0, m, 0);
}

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

// Copies of operands in layouts BLAS cannot take, freed on every path out of a kernel.
template <class T>
struct BlasCopies {
  T* p[3] = {nullptr, nullptr, nullptr};
  ~BlasCopies() {
    for (T* q : p) std::free(q);
  }
  T* take(int slot, int64_t n) {
    p[slot] = static_cast<T*>(std::malloc(sizeof(T) * size_t(n > 0 ? n : 1)));
    return p[slot];
  }
};

// Where BLAS writes a nonempty (m, n) result `o` (any strides: an in-place update writes a shared
// variable's storage): `o` itself when its rows have unit stride (row-major, leading dimension
// *ld) or its columns do (*transposed: BLAS writes the row-major o^T), else contiguous scratch
// (slot `slot` of `tmp`) that `copy_back` copies into `o`.
template <class T>
inline Mat<T> blas_target(const Mat<T>& o, BlasCopies<T>& tmp, int slot, bool* transposed,
                          int64_t* ld) {
  const int64_t m = o.rows, n = o.cols;
  *transposed = false;
  if ((o.cs == 1 || n == 1) && (m == 1 || o.rs >= n)) {
    *ld = m == 1 ? n : o.rs;
    return o;
  }
  if ((o.rs == 1 || m == 1) && (n == 1 || o.cs >= m)) {
    *transposed = true;
    *ld = n == 1 ? m : o.cs;
    return o;
  }
  *ld = n;
  return Mat<T>{tmp.take(slot, m * n), m, n, n, 1};
}

template <class T>
inline void copy_back(const Mat<T>& w, const Mat<T>& o) {
  if (w.data == o.data) return;
  for (int64_t i = 0; i < o.rows; ++i)
    for (int64_t j = 0; j < o.cols; ++j) o.data[i * o.rs + j * o.cs] = w.data[i * w.cols + j];
}

// w = the (m|1, n|1) buffer `c` broadcast to w's shape; nothing to copy when `c` already is w
// (an update computed in place).
template <class T>
inline void copy_broadcast(const croton_buffer& c, const Mat<T>& w) {
  const T* pc = static_cast<const T*>(c.data);
  const int64_t rs = c.shape[0] == 1 ? 0 : c.strides[0], cs = c.shape[1] == 1 ? 0 : c.strides[1];
  if (pc == w.data && (rs == w.rs || w.rows == 1) && (cs == w.cs || w.cols == 1)) return;
  if (cs == 1 && w.cs == 1) {
    for (int64_t i = 0; i < w.rows; ++i)
      std::memcpy(w.data + i * w.rs, pc + i * rs, sizeof(T) * size_t(w.cols));
    return;
  }
  for (int64_t i = 0; i < w.rows; ++i)
    for (int64_t j = 0; j < w.cols; ++j) w.data[i * w.rs + j * w.cs] = pc[i * rs + j * cs];
}

// w *= beta; beta == 0 writes zeros (whatever w held: BLAS with beta 0 never reads it).
template <class T>
inline void scale_all(const Mat<T>& w, T beta) {
  for (int64_t i = 0; i < w.rows; ++i)
    for (int64_t j = 0; j < w.cols; ++j) {
      T& v = w.data[i * w.rs + j * w.cs];
      v = beta == T(0) ? T(0) : v * beta;
    }
}

// c = a @ b, for c (m, n), a (m, k), b (k, n). c may have any strides.
template <class T>
void matmul(const Mat<T>& a, const Mat<T>& b, const Mat<T>& c) {
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
    blas_gemm<T>(ta, tb, m, n, k, T(1), A.data, lda, B.data, ldb, T(0), cdata, ldc);
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

// Compiled once per toolchain into libcroton_kernels (runtime/cpu/kernels_library.cpp,
// build_tools/kernels.py): built with CROTON_PREBUILT_KERNELS, a function's translation
// unit declares these instantiations extern and links them instead of compiling them.
#define CROTON_BLAS_INSTANCES(EXTERN, T) \
  EXTERN template void blas_gemm<T>(int, int, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, int64_t); \
  EXTERN template void matmul<T>(const Mat<T>&, const Mat<T>&, const Mat<T>&);
#define CROTON_BLAS_TYPES(X) X(float) X(double)
#ifdef CROTON_PREBUILT_KERNELS
namespace croton {
#define CROTON_EXTERN_BLAS(T) CROTON_BLAS_INSTANCES(extern, T)
CROTON_BLAS_TYPES(CROTON_EXTERN_BLAS)
#undef CROTON_EXTERN_BLAS
}  // namespace croton
#endif
