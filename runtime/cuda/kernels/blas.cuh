// Matrix products on the device (the CUDA target's gemm, gemv, ger and dot;
// codegen/lowering/cuda_blas.py): float32 and float64 through cuBLAS, other dtypes (an integer
// dot) through a plain kernel, one thread per output element.
//
// croton's arrays are row-major views with element strides; cuBLAS is column-major. A
// row-major (rows, cols) matrix with leading dimension ld is cuBLAS's (cols, rows) matrix with
// the same ld, so the row-major product W = a @ b is cuBLAS's W^T = b^T a^T: the operands swap
// places, and an operand stored the other way round (unit row stride: a transposed view) is
// passed with CUBLAS_OP_T. As the CPU's runtime/cpu/kernels/gemm.hpp does, transposes and
// strides become flags and leading dimensions; only layouts cuBLAS cannot read (no unit stride,
// negative or zero strides) are copied into contiguous device scratch first, by a kernel. The
// output may be any strided view (an update computed in place writes a shared variable's
// storage, the addend being that same storage): a column-major output is computed as its
// transpose, any other layout cuBLAS cannot write in scratch, then copied back.
//
// One cuBLAS handle per thread and device (and per module: these symbols are hidden in each
// function's module), created at the thread's first product on that device and kept (never
// destroyed: a handle destroyed at process exit may outlive the CUDA runtime it was made
// with); it runs on the legacy default stream, as the generated kernels do,
// so the products are ordered with them. Failures are CROTON_ERR_DEVICE naming cuBLAS's status
// (cublasGetStatusName and cublasGetStatusString). cuBLAS's results are bitwise reproducible on
// one GPU model and toolkit (no atomics in gemm, gemv and ger).
#pragma once
#include <cublas_v2.h>

#include "kernels/dot.hpp"  // the CPU's merged_dim: which dimensions a contraction merges

#include <climits>
#include <cstdint>
#include <cstdio>
#include <type_traits>

namespace croton {
namespace cuda {

// err as a failed cuBLAS call: its status's name and text, and which call.
inline int fail_cublas(croton_error* err, cublasStatus_t status, const char* what) {
  err->code = CROTON_ERR_DEVICE;
  err->check = -1;
  err->ndim_a = err->ndim_b = 0;
  err->message[0] = '\0';
  std::snprintf(err->reason, sizeof(err->reason), "cuBLAS error in %s: %s (%s)", what,
                cublasGetStatusName(status), cublasGetStatusString(status));
  return CROTON_ERR_DEVICE;
}

// The calling thread's cuBLAS handle for the current device, created on first use.
inline int blas_handle(cublasHandle_t* handle, croton_error* err) {
  constexpr int kMaxDevices = 64;
  static thread_local cublasHandle_t handles[kMaxDevices] = {};
  int device = 0;
  const cudaError_t got = cudaGetDevice(&device);
  if (got != cudaSuccess) return fail_cuda(err, got, "cudaGetDevice (for cuBLAS)");
  if (device < 0 || device >= kMaxDevices)
    return fail_cublas(err, CUBLAS_STATUS_NOT_SUPPORTED, "a device numbered 64 or more");
  if (handles[device] == nullptr) {
    const cublasStatus_t status = cublasCreate(&handles[device]);
    if (status != CUBLAS_STATUS_SUCCESS) {
      handles[device] = nullptr;
      return fail_cublas(err, status, "cublasCreate");
    }
  }
  *handle = handles[device];
  return 0;
}

// A 2-D strided view of device memory (element strides). Vectors are (1, n) or (n, 1).
template <class T>
struct DevMat {
  T* data;
  int64_t rows, cols, rs, cs;
};

template <class T>
inline DevMat<T> dev_mat(const croton_buffer& b) {
  return DevMat<T>{static_cast<T*>(b.data), b.shape[0], b.shape[1], b.strides[0], b.strides[1]};
}

// `b` (0-d, 1-d or 2-d) as a matrix: a vector is a row (as_row) or a column.
template <class T>
inline DevMat<T> dev_mat_of(const croton_buffer& b, bool as_row) {
  T* p = static_cast<T*>(b.data);
  if (b.ndim == 2) return dev_mat<T>(b);
  if (b.ndim == 0) return DevMat<T>{p, 1, 1, 1, 1};
  return as_row ? DevMat<T>{p, 1, b.shape[0], b.shape[0], b.strides[0]}
                : DevMat<T>{p, b.shape[0], 1, b.strides[0], 1};
}

// dst = src (both (rows, cols), element strides; a zero stride of src broadcasts it).
template <class T>
__global__ void __launch_bounds__(kThreads) blas_copy2d(T* dst, int64_t drs, int64_t dcs,
                                                        const T* src, int64_t srs, int64_t scs,
                                                        int64_t cols, int64_t n) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    const int64_t r = i / cols, c = i % cols;
    dst[r * drs + c * dcs] = src[r * srs + c * scs];
  }
}

// w *= beta; beta 0 writes zeros (whatever w held, NaN included, as BLAS with beta 0).
template <class T>
__global__ void __launch_bounds__(kThreads) blas_scale2d(T* w, int64_t rs, int64_t cs,
                                                         int64_t cols, int64_t n, T beta) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    T& v = w[(i / cols) * rs + (i % cols) * cs];
    v = beta == T(0) ? T(0) : T(v * beta);
  }
}

// c = a @ b for dtypes cuBLAS has no product for (integers, bool): one thread per element,
// summed in order (the CPU's triple loop's order: the same result).
template <class T>
__global__ void __launch_bounds__(kThreads) plain_matmul(DevMat<T> a, DevMat<T> b, DevMat<T> c) {
  const int64_t n = c.rows * c.cols;
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    const int64_t r = i / c.cols, col = i % c.cols;
    T acc = T(0);
    for (int64_t p = 0; p < a.cols; ++p) acc = acc + a.data[r * a.rs + p * a.cs] * b.data[p * b.rs + col * b.cs];
    c.data[r * c.rs + col * c.cs] = acc;
  }
}

template <class T>
inline int copy2d(const DevMat<T>& dst, const T* src, int64_t srs, int64_t scs,
                  croton_error* err) {
  const int64_t n = dst.rows * dst.cols;
  if (n == 0) return 0;
  CROTON_LAUNCH(blas_copy2d<T>, blocks_for(n), kThreads)(dst.data, dst.rs, dst.cs, src, srs, scs,
                                                         dst.cols, n);
  return check_launch(err, "a copy for cuBLAS");
}

template <class T>
inline int scale2d(const DevMat<T>& w, T beta, croton_error* err) {
  const int64_t n = w.rows * w.cols;
  if (n == 0) return 0;
  CROTON_LAUNCH(blas_scale2d<T>, blocks_for(n), kThreads)(w.data, w.rs, w.cs, w.cols, n, beta);
  return check_launch(err, "a scaling for cuBLAS");
}

// How cuBLAS reads the row-major view `m` without a copy: *trans false when its rows have unit
// stride (cuBLAS's m^T, CUBLAS_OP_N in the swapped product), true when its columns do; *ld its
// leading dimension. false: the layout needs a copy.
template <class T>
inline bool blas_layout(const DevMat<T>& m, bool* trans, int64_t* ld) {
  if ((m.cs == 1 || m.cols == 1) && m.rs >= (m.cols > 1 ? m.cols : 1)) {
    *trans = false;
    *ld = m.rows == 1 ? (m.cols > 1 ? m.cols : 1) : m.rs;
    return true;
  }
  if ((m.rs == 1 || m.rows == 1) && m.cs >= (m.rows > 1 ? m.rows : 1)) {
    *trans = true;
    *ld = m.cols == 1 ? (m.rows > 1 ? m.rows : 1) : m.cs;
    return true;
  }
  return false;
}

// `m` as cuBLAS reads it: itself, or a row-major copy in device scratch.
template <class T>
inline int blas_operand(DevMat<T>* m, bool* trans, int64_t* ld, DeviceScratch& scratch,
                        croton_error* err) {
  if (blas_layout(*m, trans, ld)) return 0;
  T* copy = static_cast<T*>(scratch.alloc(int64_t(sizeof(T)) * m->rows * m->cols));
  if (copy == nullptr) return fail_alloc(err);
  const DevMat<T> dst{copy, m->rows, m->cols, m->cols, 1};
  if (int rc = copy2d(dst, m->data, m->rs, m->cs, err)) return rc;
  *m = dst;
  blas_layout(*m, trans, ld);
  return 0;
}

// Where cuBLAS writes the nonempty result `o`: itself when its rows have unit stride, or its
// columns (*transposed: cuBLAS writes the row-major o^T), else contiguous scratch that
// `finish` copies into `o`. *ld: the leading dimension of what is written.
template <class T>
inline int blas_target(const DevMat<T>& o, DevMat<T>* w, bool* transposed, int64_t* ld,
                       DeviceScratch& scratch, croton_error* err) {
  const int64_t m = o.rows, n = o.cols;
  *transposed = false;
  *w = o;
  if ((o.cs == 1 || n == 1) && (m == 1 || o.rs >= n)) {
    *ld = m == 1 ? n : o.rs;
    return 0;
  }
  if ((o.rs == 1 || m == 1) && (n == 1 || o.cs >= m)) {
    *transposed = true;
    *ld = n == 1 ? m : o.cs;
    return 0;
  }
  T* p = static_cast<T*>(scratch.alloc(int64_t(sizeof(T)) * m * n));
  if (p == nullptr) return fail_alloc(err);
  *w = DevMat<T>{p, m, n, n, 1};
  *ld = n;
  return 0;
}

template <class T>
inline int finish(const DevMat<T>& w, const DevMat<T>& o, croton_error* err) {
  return w.data == o.data ? 0 : copy2d(o, w.data, w.rs, w.cs, err);
}

// w = the addend `c` ((m|1, n|1), or (m|1,) as a column) broadcast to w's shape; nothing to
// copy when `c` already is w (an update computed in place).
template <class T>
inline int load_addend(const croton_buffer& c, const DevMat<T>& w, croton_error* err) {
  const T* pc = static_cast<const T*>(c.data);
  const int64_t rs = c.shape[0] == 1 ? 0 : c.strides[0];
  const int64_t cs = c.ndim < 2 || c.shape[1] == 1 ? 0 : c.strides[1];
  if (pc == w.data && (rs == w.rs || w.rows == 1) && (cs == w.cs || w.cols == 1)) return 0;
  return copy2d(w, pc, rs, cs, err);
}

// cuBLAS takes int sizes, leading dimensions and increments: larger ones are refused, not
// truncated.
template <class... I>
inline int check_int(croton_error* err, I... values) {
  if (((values <= int64_t(INT_MAX)) && ...)) return 0;
  return fail_cublas(err, CUBLAS_STATUS_NOT_SUPPORTED, "a product with a size over 2^31 - 1");
}

// o = alpha * a @ b + beta * (o as loaded by the caller; not read when beta is 0), for a (m,
// k), b (k, n), o (m, n) of any strides.
template <class T>
int product(DevMat<T> a, DevMat<T> b, T alpha, T beta, const croton_buffer* addend,
            const DevMat<T>& o, DeviceScratch& scratch, croton_error* err) {
  const int64_t m = o.rows, n = o.cols, k = a.cols;
  if (m == 0 || n == 0) return 0;
  if constexpr (!std::is_same_v<T, float> && !std::is_same_v<T, double>) {
    (void)alpha;  // dot only: alpha 1, beta 0, no addend
    (void)beta;
    (void)addend;
    CROTON_LAUNCH(plain_matmul<T>, blocks_for(m * n), kThreads)(a, b, o);
    return check_launch(err, "the product kernel");
  } else {
    DevMat<T> w{};
    bool transposed = false;
    int64_t ldw = 1;
    if (int rc = blas_target(o, &w, &transposed, &ldw, scratch, err)) return rc;
    if (beta != T(0) && addend != nullptr)
      if (int rc = load_addend(*addend, w, err)) return rc;
    if (k == 0) {  // an empty sum: out = beta * addend, without cuBLAS
      if (int rc = scale2d(w, beta, err)) return rc;
      return finish(w, o, err);
    }
    if (transposed) {  // cuBLAS writes the row-major o^T = b^T a^T
      const DevMat<T> at{a.data, a.cols, a.rows, a.cs, a.rs};
      a = DevMat<T>{b.data, b.cols, b.rows, b.cs, b.rs};
      b = at;
    }
    bool ta = false, tb = false;
    int64_t lda = 1, ldb = 1;
    if (int rc = blas_operand(&a, &ta, &lda, scratch, err)) return rc;
    if (int rc = blas_operand(&b, &tb, &ldb, scratch, err)) return rc;
    // the row-major (M, N) = (a.rows, b.cols) result is cuBLAS's (N, M): b^T a^T
    if (int rc = check_int(err, a.rows, b.cols, k, lda, ldb, ldw)) return rc;
    cublasHandle_t h = nullptr;
    if (int rc = blas_handle(&h, err)) return rc;
    const cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t status;
    if constexpr (std::is_same_v<T, float>) {
      status = cublasSgemm(h, opb, opa, int(b.cols), int(a.rows), int(k), &alpha, b.data,
                           int(ldb), a.data, int(lda), &beta, w.data, int(ldw));
    } else {
      status = cublasDgemm(h, opb, opa, int(b.cols), int(a.rows), int(k), &alpha, b.data,
                           int(ldb), a.data, int(lda), &beta, w.data, int(ldw));
    }
    if (status != CUBLAS_STATUS_SUCCESS)
      return fail_cublas(err, status, std::is_same_v<T, float> ? "cublasSgemm" : "cublasDgemm");
    return finish(w, o, err);
  }
}

// gemm: out = beta * C + alpha * (A @ B), C (m|1, n|1) broadcast; out (m, n), A (m, k),
// B (k, n).
template <class T>
int gemm(const croton_buffer& C, T alpha, const croton_buffer& A, const croton_buffer& B, T beta,
         const croton_buffer& out, DeviceScratch& scratch, croton_error* err) {
  return product(dev_mat<T>(A), dev_mat<T>(B), alpha, beta, &C, dev_mat<T>(out), scratch, err);
}

// dot: out = a @ b for 1-d or 2-d a and b (a vector a is a row, a vector b a column).
template <class T>
int dot(const croton_buffer& a, const croton_buffer& b, const croton_buffer& out,
        DeviceScratch& scratch, croton_error* err) {
  const DevMat<T> am = dev_mat_of<T>(a, true), bm = dev_mat_of<T>(b, false);
  const DevMat<T> om = dev_mat_of<T>(out, a.ndim == 1);  // a (k,) @ b (k, n): a row of n
  return product(am, bm, T(1), T(0), nullptr, om, scratch, err);
}

// A vector as cuBLAS reads it: a positive increment, else a contiguous copy in scratch.
template <class T>
inline int blas_vector(const croton_buffer& v, T** data, int64_t* inc, DeviceScratch& scratch,
                       croton_error* err) {
  const int64_t n = v.shape[0], s = v.strides[0];
  *data = static_cast<T*>(v.data);
  *inc = 1;
  if (n <= 1) return 0;
  if (s >= 1) {
    *inc = s;
    return 0;
  }
  T* copy = static_cast<T*>(scratch.alloc(int64_t(sizeof(T)) * n));
  if (copy == nullptr) return fail_alloc(err);
  if (int rc = copy2d(DevMat<T>{copy, n, 1, 1, 1}, *data, s, 0, err)) return rc;
  *data = copy;
  return 0;
}

// gemv: out = beta * Y + alpha * op(A) @ X (op(A) = A, or A^T with `trans`), Y (m|1,)
// broadcast; out (m,), A (m, k) or (k, m), X (k,).
template <class T>
int gemv(const croton_buffer& Y, T alpha, const croton_buffer& A, bool trans,
         const croton_buffer& X, T beta, const croton_buffer& out, DeviceScratch& scratch,
         croton_error* err) {
  DevMat<T> a = dev_mat<T>(A);
  if (trans) a = DevMat<T>{a.data, a.cols, a.rows, a.cs, a.rs};
  const int64_t m = out.shape[0], k = a.cols;
  if (m == 0) return 0;
  const DevMat<T> o{static_cast<T*>(out.data), m, 1, out.strides[0], 1};
  const bool direct = out.strides[0] >= 1 || m == 1;  // cuBLAS's y: a positive increment
  DevMat<T> w = o;
  if (!direct) {
    T* p = static_cast<T*>(scratch.alloc(int64_t(sizeof(T)) * m));
    if (p == nullptr) return fail_alloc(err);
    w = DevMat<T>{p, m, 1, 1, 1};
  }
  const int64_t incy = m == 1 ? 1 : w.rs;
  if (beta != T(0))
    if (int rc = load_addend(Y, w, err)) return rc;
  if (k == 0) {
    if (int rc = scale2d(w, beta, err)) return rc;
    return finish(w, o, err);
  }
  bool ta = false;
  int64_t lda = 1, incx = 1;
  T* x = nullptr;
  if (int rc = blas_operand(&a, &ta, &lda, scratch, err)) return rc;
  if (int rc = blas_vector(X, &x, &incx, scratch, err)) return rc;
  // stored row-major: (m, k) unless ta, then (k, m) = a^T; cuBLAS's (cols, rows) matrix of it
  const int64_t rows = ta ? k : m, cols = ta ? m : k;
  if (int rc = check_int(err, rows, cols, lda, incx, incy)) return rc;
  cublasHandle_t h = nullptr;
  if (int rc = blas_handle(&h, err)) return rc;
  const cublasOperation_t op = ta ? CUBLAS_OP_N : CUBLAS_OP_T;
  cublasStatus_t status;
  if constexpr (std::is_same_v<T, float>) {
    status = cublasSgemv(h, op, int(cols), int(rows), &alpha, a.data, int(lda), x, int(incx),
                         &beta, w.data, int(incy));
  } else {
    status = cublasDgemv(h, op, int(cols), int(rows), &alpha, a.data, int(lda), x, int(incx),
                         &beta, w.data, int(incy));
  }
  if (status != CUBLAS_STATUS_SUCCESS)
    return fail_cublas(err, status, std::is_same_v<T, float> ? "cublasSgemv" : "cublasDgemv");
  return finish(w, o, err);
}

// ger: out = A + alpha * outer(X, Y), A (m|1, n|1) broadcast; out (m, n), X (m,), Y (n,).
template <class T>
int ger(const croton_buffer& A, T alpha, const croton_buffer& X, const croton_buffer& Y,
        const croton_buffer& out, DeviceScratch& scratch, croton_error* err) {
  const DevMat<T> o = dev_mat<T>(out);
  if (o.rows == 0 || o.cols == 0) return 0;
  DevMat<T> w{};
  bool transposed = false;
  int64_t ldw = 1;
  if (int rc = blas_target(o, &w, &transposed, &ldw, scratch, err)) return rc;
  if (int rc = load_addend(A, w, err)) return rc;
  T *x = nullptr, *y = nullptr;
  int64_t incx = 1, incy = 1;
  if (int rc = blas_vector(X, &x, &incx, scratch, err)) return rc;
  if (int rc = blas_vector(Y, &y, &incy, scratch, err)) return rc;
  // the row-major w is (u.n, v.n): out, or out^T = outer(Y, X) when transposed; cuBLAS's
  // column-major (v.n, u.n) matrix of it gets alpha * v u^T
  T* u = transposed ? y : x;
  T* v = transposed ? x : y;
  const int64_t incu = transposed ? incy : incx, incv = transposed ? incx : incy;
  const int64_t nu = transposed ? o.cols : o.rows, nv = transposed ? o.rows : o.cols;
  if (int rc = check_int(err, nu, nv, ldw, incu, incv)) return rc;
  cublasHandle_t h = nullptr;
  if (int rc = blas_handle(&h, err)) return rc;
  cublasStatus_t status;
  if constexpr (std::is_same_v<T, float>) {
    status = cublasSger(h, int(nv), int(nu), &alpha, v, int(incv), u, int(incu), w.data,
                        int(ldw));
  } else {
    status = cublasDger(h, int(nv), int(nu), &alpha, v, int(incv), u, int(incu), w.data,
                        int(ldw));
  }
  if (status != CUBLAS_STATUS_SUCCESS)
    return fail_cublas(err, status, std::is_same_v<T, float> ? "cublasSger" : "cublasDger");
  return finish(w, o, err);
}

// dst = src for (n0, n1, n2) arrays with element strides (a batch of matrices).
template <class T>
__global__ void __launch_bounds__(kThreads) blas_copy3d(T* dst, int64_t d0, int64_t d1,
                                                        int64_t d2, const T* src, int64_t s0,
                                                        int64_t s1, int64_t s2, int64_t n1,
                                                        int64_t n2, int64_t n) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    const int64_t a = i / (n1 * n2), r = i / n2 % n1, c = i % n2;
    dst[a * d0 + r * d1 + c * d2] = src[a * s0 + r * s1 + c * s2];
  }
}

// Batch `i` of a (B, R, C) buffer, or of a (B, K) one as a row (1, K) or a column (K, 1).
template <class T>
inline DevMat<T> batch_mat(const croton_buffer& x, int64_t i, bool vector_as_row) {
  T* p = static_cast<T*>(x.data) + i * x.strides[0];
  if (x.ndim == 3) return DevMat<T>{p, x.shape[1], x.shape[2], x.strides[1], x.strides[2]};
  return vector_as_row ? DevMat<T>{p, 1, x.shape[1], x.shape[1], x.strides[1]}
                       : DevMat<T>{p, x.shape[1], 1, x.strides[1], 1};
}

// The batched operand x as one whose every batch's matrix (batch_mat) has a layout cuBLAS reads
// as it is: x itself, or (data only: the caller sets its strides and copies) contiguous scratch.
template <class T>
inline int batched_operand(const croton_buffer& x, bool as_row, croton_buffer* use,
                           DeviceScratch& scratch, croton_error* err) {
  *use = x;
  if (x.ndim < 2 || x.shape[0] == 0) return 0;  // (B,): a scalar per batch
  const DevMat<T> m = batch_mat<T>(x, 0, as_row);
  bool trans = false;
  int64_t ld = 1;
  if (blas_layout(m, &trans, &ld)) return 0;
  const int64_t n1 = x.ndim == 3 ? x.shape[1] : 1, n2 = x.shape[x.ndim - 1];
  const int64_t n = x.shape[0] * n1 * n2;
  T* p = static_cast<T*>(scratch.alloc(int64_t(sizeof(T)) * n));
  if (p == nullptr) return fail_alloc(err);
  use->data = p;  // its strides: C order (set by the caller)
  return 0;
}

// All batches of a (ua) times b (ub) into c in one cuBLAS call, when c's matrices are
// row-major (the output of the call: contiguous) and a's and b's readable as they are (after
// batched_operand); 1: not this way (the caller loops over the batches), else 0 or an error.
template <class T>
inline int strided_batched(const croton_buffer& ua, const croton_buffer& ub,
                           const croton_buffer& c, const DevMat<T>& a0, const DevMat<T>& b0,
                           const DevMat<T>& c0, croton_error* err) {
  const int64_t batch = ua.shape[0], m = c0.rows, n = c0.cols, k = a0.cols;
  bool ta = false, tb = false;
  int64_t lda = 1, ldb = 1;
  const bool row_major = (c0.cs == 1 || n == 1) && (m == 1 || c0.rs >= n);
  if (k == 0 || m == 0 || n == 0 || !row_major || !blas_layout(a0, &ta, &lda) ||
      !blas_layout(b0, &tb, &ldb))
    return 1;
  const int64_t ldc = m == 1 ? n : c0.rs;
  const int64_t sc = c.ndim > 0 ? c.strides[0] : 1;
  if (int rc = check_int(err, m, n, k, lda, ldb, ldc, batch)) return rc;
  cublasHandle_t h = nullptr;
  if (int rc = blas_handle(&h, err)) return rc;
  const T one = T(1), zero = T(0);
  const cublasOperation_t opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasStatus_t status;  // row-major c[i] = a[i] b[i] is cuBLAS's c[i]^T = b[i]^T a[i]^T
  if constexpr (std::is_same_v<T, float>) {
    status = cublasSgemmStridedBatched(h, opb, opa, int(n), int(m), int(k), &one, b0.data,
                                       int(ldb), ub.strides[0], a0.data, int(lda),
                                       ua.strides[0], &zero, c0.data, int(ldc), sc, int(batch));
  } else {
    status = cublasDgemmStridedBatched(h, opb, opa, int(n), int(m), int(k), &one, b0.data,
                                       int(ldb), ub.strides[0], a0.data, int(lda),
                                       ua.strides[0], &zero, c0.data, int(ldc), sc, int(batch));
  }
  if (status != CUBLAS_STATUS_SUCCESS)
    return fail_cublas(err, status, std::is_same_v<T, float> ? "cublasSgemmStridedBatched"
                                                             : "cublasDgemmStridedBatched");
  return 0;
}

// batched_matmul (batched_dot): c[i] = a[i] @ b[i] for a (B, M, K) or (B, K) and b (B, K, N)
// or (B, K): float32 and float64 in one strided-batched cuBLAS call, after copying an operand
// whose matrices cuBLAS cannot read into contiguous scratch once for all batches; other
// dtypes (and empty products) one product per batch. c is the call's own output (contiguous).
template <class T>
int batched_matmul(const croton_buffer& a, const croton_buffer& b, const croton_buffer& c,
                   DeviceScratch& scratch, croton_error* err) {
  const int64_t batch = a.shape[0];
  if (batch == 0) return 0;
  croton_buffer ua = a, ub = b;  // what the products read
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    if (int rc = batched_operand<T>(a, true, &ua, scratch, err)) return rc;
    if (int rc = batched_operand<T>(b, false, &ub, scratch, err)) return rc;
  }
  croton_buffer* uses[2] = {&ua, &ub};
  const croton_buffer* originals[2] = {&a, &b};
  for (int k = 0; k < 2; ++k) {
    croton_buffer& u = *uses[k];
    const croton_buffer& x = *originals[k];
    if (u.data == x.data) continue;
    int64_t step = 1;  // a contiguous copy: C order
    for (int32_t d = x.ndim - 1; d >= 0; --d) {
      u.strides[d] = step;
      step *= x.shape[d];
    }
    const int64_t n1 = x.ndim == 3 ? x.shape[1] : 1, n2 = x.shape[x.ndim - 1];
    const int64_t x1 = x.ndim == 3 ? x.strides[1] : 0, x2 = x.strides[x.ndim - 1];
    const int64_t c1 = x.ndim == 3 ? u.strides[1] : 0, c2 = u.strides[x.ndim - 1];
    const int64_t n = x.shape[0] * n1 * n2;
    if (n == 0) continue;
    CROTON_LAUNCH(blas_copy3d<T>, blocks_for(n), kThreads)(
        static_cast<T*>(u.data), u.strides[0], c1, c2, static_cast<const T*>(x.data),
        x.strides[0], x1, x2, n1, n2, n);
    if (int rc = check_launch(err, "a copy for cuBLAS")) return rc;
  }
  for (int64_t i = 0; i < batch; ++i) {
    const DevMat<T> am = batch_mat<T>(ua, i, true), bm = batch_mat<T>(ub, i, false);
    T* base = static_cast<T*>(c.data) + i * (c.ndim > 0 ? c.strides[0] : 0);
    DevMat<T> cm{base, 1, 1, 1, 1};
    if (a.ndim == 3 && b.ndim == 3) {
      cm = DevMat<T>{base, c.shape[1], c.shape[2], c.strides[1], c.strides[2]};
    } else if (a.ndim == 3) {
      cm = DevMat<T>{base, c.shape[1], 1, c.strides[1], 1};
    } else if (b.ndim == 3) {
      cm = DevMat<T>{base, 1, c.shape[1], c.shape[1], c.strides[1]};
    }
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      if (i == 0) {  // every batch at once when cuBLAS can
        const int rc = strided_batched(ua, ub, c, am, bm, cm, err);
        if (rc != 1) return rc;
      }
    }
    if (int rc = product(am, bm, T(1), T(0), nullptr, cm, scratch, err)) return rc;
  }
  return 0;
}

// An N-d view's shape and element strides, passed to a kernel by value.
struct NdView {
  int64_t shape[CROTON_MAX_NDIM], strides[CROTON_MAX_NDIM];
  int32_t ndim;
};

// flat (C order, n elements) = the strided view at p, or (to_flat false) the reverse.
template <class T>
__global__ void __launch_bounds__(kThreads) blas_copynd(T* flat, T* p, NdView v, int64_t n,
                                                        bool to_flat) {
  for (int64_t i = global_index(); i < n; i += grid_stride()) {
    int64_t rest = i, offset = 0;
    for (int32_t d = v.ndim - 1; d >= 0; --d) {
      offset += rest % v.shape[d] * v.strides[d];
      rest /= v.shape[d];
    }
    if (to_flat) {
      flat[i] = p[offset];
    } else {
      p[offset] = flat[i];
    }
  }
}

template <class T>
inline int copy_nd(const croton_buffer& x, T* flat, bool to_flat, croton_error* err) {
  NdView v{};
  int64_t n = 1;
  v.ndim = x.ndim;
  for (int32_t d = 0; d < x.ndim; ++d) {
    v.shape[d] = x.shape[d];
    v.strides[d] = x.strides[d];
    n *= x.shape[d];
  }
  if (n == 0) return 0;
  CROTON_LAUNCH(blas_copynd<T>, blocks_for(n), kThreads)(flat, static_cast<T*>(x.data), v, n,
                                                         to_flat);
  return check_launch(err, "a copy for cuBLAS");
}

// x as a (rows, cols) matrix, dims [0, split) its rows and [split, ndim) its columns: a view
// when each group merges into one dimension, else a contiguous copy in scratch.
template <class T>
inline int nd_matrix(const croton_buffer& x, int32_t split, DevMat<T>* m, DeviceScratch& scratch,
                     croton_error* err) {
  int64_t rows = 1, cols = 1, rs = 1, cs = 1;
  if (merged_dim(x, 0, split, &rows, &rs) && merged_dim(x, split, x.ndim, &cols, &cs)) {
    *m = DevMat<T>{static_cast<T*>(x.data), rows, cols, rs, cs};
    return 0;
  }
  rows = cols = 1;
  for (int32_t d = 0; d < split; ++d) rows *= x.shape[d];
  for (int32_t d = split; d < x.ndim; ++d) cols *= x.shape[d];
  T* copy = static_cast<T*>(scratch.alloc(int64_t(sizeof(T)) * rows * cols));
  if (copy == nullptr) return fail_alloc(err);
  *m = DevMat<T>{copy, rows, cols, cols, 1};
  return copy_nd(x, copy, true, err);
}

// contract (tensordot): c = a's last `naxes` dims contracted with b's first `naxes`, as one
// matrix product of a (rows, K) and b (K, cols) (merged dimensions, or contiguous copies).
template <class T>
int contract(const croton_buffer& a, const croton_buffer& b, const croton_buffer& c,
             int32_t naxes, DeviceScratch& scratch, croton_error* err) {
  DevMat<T> am{}, bm{};
  if (int rc = nd_matrix(a, a.ndim - naxes, &am, scratch, err)) return rc;
  if (int rc = nd_matrix(b, naxes, &bm, scratch, err)) return rc;
  const int32_t split = a.ndim - naxes;
  int64_t rows = 1, cols = 1, rs = 1, cs = 1;
  if (merged_dim(c, 0, split, &rows, &rs) && merged_dim(c, split, c.ndim, &cols, &cs))
    return product(am, bm, T(1), T(0), nullptr,
                   DevMat<T>{static_cast<T*>(c.data), rows, cols, rs, cs}, scratch, err);
  T* flat = static_cast<T*>(scratch.alloc(int64_t(sizeof(T)) * am.rows * bm.cols));
  if (flat == nullptr) return fail_alloc(err);
  const DevMat<T> w{flat, am.rows, bm.cols, bm.cols, 1};
  if (int rc = product(am, bm, T(1), T(0), nullptr, w, scratch, err)) return rc;
  return copy_nd(c, flat, false, err);
}

}  // namespace cuda
}  // namespace croton
