// Pooling on the CUDA target (Theano's pool_2d / pool_3d and their gradients, the CPU's
// runtime/cpu/kernels/nnet.hpp): max, sum, average including or excluding the padding, any
// window, stride and padding, ignore_border either way (the lowering sized the output), over
// the last 2 or 3 axes of buffers of any element strides. The same parameters
// (croton::PoolParams) and windows (croton::pool_window) as the CPU's.
//
// Direct kernels, one thread per element written, summing in the CPU's order (so the results
// equal the CPU's bit for bit): no atomics.
//   - forward: one thread per pooled element, its window's loop inside;
//   - sum/average gradient and max gradient: one thread per input element, summing over the
//     windows that hold it (in window order); the max gradient adds a window's gradient where
//     the input equals the window's maximum, so ties all receive it (Theano's MaxPoolGrad);
//   - the max gradient's own gradient: one thread per pooled element.
//
// Example (generated code):
//   if (int rc = croton::cuda::pool_forward<float>(B0, B1, croton::PoolParams{2, {1, 2, 2},
//       {1, 2, 2}, {0, 0, 0}, 0}, err)) return rc;
#pragma once
#pragma nv_diag_suppress 1675
#include "kernels/nnet.hpp"  // the CPU's: PoolParams, Pool3, pool_window
#pragma nv_diag_default 1675

namespace croton {
namespace cuda {

// The leading (not pooled) axes of the buffers of one pooling, and each buffer's pooled axes.
template <int K>
struct PoolViews {
  int32_t lead;
  int64_t shape[CROTON_MAX_NDIM];        // the leading axes' lengths (all buffers share them)
  int64_t strides[K][CROTON_MAX_NDIM];   // each buffer's strides along them
  Pool3 v[K];                            // each buffer's pooled axes
  int64_t images;                        // the product of shape[0 .. lead)
};

template <int K>
PoolViews<K> pool_views(const croton_buffer* const (&bufs)[K], int nd) {
  PoolViews<K> pv{};
  pv.lead = bufs[0]->ndim - nd;
  pv.images = 1;
  for (int32_t d = 0; d < pv.lead; ++d) {
    pv.shape[d] = bufs[0]->shape[d];
    pv.images *= pv.shape[d];
  }
  for (int k = 0; k < K; ++k) {
    for (int32_t d = 0; d < pv.lead; ++d) pv.strides[k][d] = bufs[k]->strides[d];
    pv.v[k] = pool3(*bufs[k], nd);
  }
  return pv;
}

// The element offsets of image `img` in every buffer.
template <int K>
__device__ __forceinline__ void pool_image(const PoolViews<K>& pv, int64_t img, int64_t* off) {
  for (int k = 0; k < K; ++k) off[k] = 0;
  for (int32_t d = pv.lead - 1; d >= 0; --d) {
    const int64_t i = img % pv.shape[d];
    img /= pv.shape[d];
    for (int k = 0; k < K; ++k) off[k] += i * pv.strides[k][d];
  }
}

// Splits flat index `idx` over images x grid `n` into the image and the position `pos`.
__device__ __forceinline__ int64_t pool_split(int64_t idx, const int64_t* n, int64_t* pos) {
  pos[2] = idx % n[2];
  idx /= n[2];
  pos[1] = idx % n[1];
  idx /= n[1];
  pos[0] = idx % n[0];
  return idx / n[0];
}

// The windows [lo, hi] along `axis` holding input position `q` (empty when lo > hi).
__device__ __forceinline__ void pool_windows_of(const PoolParams& p, int axis, int64_t q,
                                                int64_t out, int64_t* lo, int64_t* hi) {
  const int64_t first = q + p.pd[axis] - p.ws[axis] + 1;  // k * st >= first
  *lo = first <= 0 ? 0 : (first + p.st[axis] - 1) / p.st[axis];
  const int64_t last = (q + p.pd[axis]) / p.st[axis];
  *hi = last < out - 1 ? last : out - 1;
}

// z = pool(x): buffers {x, z}; one thread per element of z.
template <class T>
__global__ void __launch_bounds__(kThreads) pool_forward_kernel(const T* px, T* pz,
                                                                 const PoolViews<2> pv,
                                                                 const PoolParams p) {
  const Pool3& xv = pv.v[0];
  const Pool3& zv = pv.v[1];
  const int64_t total = pv.images * zv.shape[0] * zv.shape[1] * zv.shape[2];
  for (int64_t idx = global_index(); idx < total; idx += grid_stride()) {
    int64_t pos[3], off[2];
    pool_image(pv, pool_split(idx, zv.shape, pos), off);
    pz[off[1] + pool_at(zv, pos[0], pos[1], pos[2])] = pooled_value(p, xv, px + off[0], pos);
  }
}

// gx = d pool / d x: buffers {x, z, gz, gx} (max) or {gx, gx, gz, gx} (sum, average; x and z
// unread); one thread per element of gx, summing over the windows that hold it.
template <class T>
__global__ void __launch_bounds__(kThreads) pool_grad_kernel(const T* px, const T* pz,
                                                              const T* pg, T* po,
                                                              const PoolViews<4> pv,
                                                              const PoolParams p) {
  const Pool3& xv = pv.v[0];
  const Pool3& zv = pv.v[1];
  const Pool3& gv = pv.v[2];
  const Pool3& ov = pv.v[3];
  const int64_t total = pv.images * ov.shape[0] * ov.shape[1] * ov.shape[2];
  for (int64_t idx = global_index(); idx < total; idx += grid_stride()) {
    int64_t q[3], off[4], lo[3], hi[3];
    pool_image(pv, pool_split(idx, ov.shape, q), off);
    for (int k = 0; k < 3; ++k) pool_windows_of(p, k, q[k], gv.shape[k], &lo[k], &hi[k]);
    const T x = p.mode == kPoolMax ? px[off[0] + pool_at(xv, q[0], q[1], q[2])] : T(0);
    T acc = T(0);
    int64_t pos[3];
    for (pos[0] = lo[0]; pos[0] <= hi[0]; ++pos[0])
      for (pos[1] = lo[1]; pos[1] <= hi[1]; ++pos[1])
        for (pos[2] = lo[2]; pos[2] <= hi[2]; ++pos[2]) {
          T v = pg[off[2] + pool_at(gv, pos[0], pos[1], pos[2])];
          if (p.mode == kPoolMax) {
            if (!(x == pz[off[1] + pool_at(zv, pos[0], pos[1], pos[2])])) continue;
          } else if (p.mode != kPoolSum) {
            v = static_cast<T>(v / static_cast<T>(pool_window(p, ov, pos).count));
          }
          acc += v;
        }
    po[off[3] + pool_at(ov, q[0], q[1], q[2])] = acc;
  }
}

// The max gradient's gradient: buffers {x, z, g, out}, out[window] = the sum of g where x equals
// the window's maximum; one thread per element of out.
template <class T>
__global__ void __launch_bounds__(kThreads) pool_grad_grad_kernel(const T* px, const T* pz,
                                                                   const T* pg, T* po,
                                                                   const PoolViews<4> pv,
                                                                   const PoolParams p) {
  const Pool3& xv = pv.v[0];
  const Pool3& zv = pv.v[1];
  const Pool3& gv = pv.v[2];
  const Pool3& ov = pv.v[3];
  const int64_t total = pv.images * zv.shape[0] * zv.shape[1] * zv.shape[2];
  for (int64_t idx = global_index(); idx < total; idx += grid_stride()) {
    int64_t pos[3], off[4];
    pool_image(pv, pool_split(idx, zv.shape, pos), off);
    const PoolWindow win = pool_window(p, xv, pos);
    const T m = pz[off[1] + pool_at(zv, pos[0], pos[1], pos[2])];
    T acc = T(0);
    for (int64_t a = win.lo[0]; a < win.hi[0]; ++a)
      for (int64_t b = win.lo[1]; b < win.hi[1]; ++b)
        for (int64_t c = win.lo[2]; c < win.hi[2]; ++c)
          if (px[off[0] + pool_at(xv, a, b, c)] == m) acc += pg[off[2] + pool_at(gv, a, b, c)];
    po[off[3] + pool_at(ov, pos[0], pos[1], pos[2])] = acc;
  }
}

// The host launchers: the generated code has checked the shapes (codegen/lowering/nnet.py).
template <class T>
int pool_forward(const croton_buffer& x, croton_buffer& z, const PoolParams& p,
                 croton_error* err) {
  const croton_buffer* const bufs[2] = {&x, &z};
  const PoolViews<2> pv = pool_views(bufs, p.nd);
  const int64_t total = pv.images * numel(3, pv.v[1].shape);
  if (total == 0) return 0;
  CROTON_LAUNCH(pool_forward_kernel<T>, blocks_for(total), kThreads)(
      static_cast<const T*>(x.data), static_cast<T*>(z.data), pv, p);
  return check_launch(err, "the pooling kernel");
}

template <class T>
int pool_avg_grad(const croton_buffer& gz, croton_buffer& gx, const PoolParams& p,
                  croton_error* err) {
  const croton_buffer* const bufs[4] = {&gx, &gx, &gz, &gx};
  const PoolViews<4> pv = pool_views(bufs, p.nd);
  const int64_t total = pv.images * numel(3, pv.v[3].shape);
  if (total == 0) return 0;
  CROTON_LAUNCH(pool_grad_kernel<T>, blocks_for(total), kThreads)(
      static_cast<const T*>(nullptr), static_cast<const T*>(nullptr),
      static_cast<const T*>(gz.data), static_cast<T*>(gx.data), pv, p);
  return check_launch(err, "the pooling gradient kernel");
}

template <class T>
int pool_max_grad(const croton_buffer& x, const croton_buffer& z, const croton_buffer& g,
                  croton_buffer& out, const PoolParams& p, bool grad_grad, croton_error* err) {
  const croton_buffer* const bufs[4] = {&x, &z, &g, &out};
  const PoolViews<4> pv = pool_views(bufs, p.nd);
  const int64_t total = pv.images * numel(3, pv.v[grad_grad ? 1 : 0].shape);
  if (total == 0) return 0;
  const T* px = static_cast<const T*>(x.data);
  const T* pz = static_cast<const T*>(z.data);
  const T* pg = static_cast<const T*>(g.data);
  T* po = static_cast<T*>(out.data);
  if (grad_grad)
    CROTON_LAUNCH(pool_grad_grad_kernel<T>, blocks_for(total), kThreads)(px, pz, pg, po, pv, p);
  else
    CROTON_LAUNCH(pool_grad_kernel<T>, blocks_for(total), kThreads)(px, pz, pg, po, pv, p);
  return check_launch(err, "the max-pooling gradient kernel");
}

}  // namespace cuda
}  // namespace croton
