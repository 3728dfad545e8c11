// Batched and N-d matrix products on the device (the CUDA target's batched_dot and contract,
// codegen/lowering/cuda_blas.py), over the layouts, handles and plain kernels of blas.cuh.
#pragma once
#include "kernels/blas.cuh"

namespace croton {
namespace cuda {

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
