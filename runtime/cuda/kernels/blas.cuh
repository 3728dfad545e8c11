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

}  // namespace cuda
}  // namespace croton
