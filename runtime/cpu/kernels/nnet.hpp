// Neural-network kernels: pooling over the last two or three dimensions (Theano's pool_2d /
// pool_3d and their gradients) and the per-row gather/scatter behind cross-entropy with class
// indices. Buffers may have any element strides; shapes were checked by the generated code.
//
// Example (generated code):
//   if (int rc = croton::take_along_last<double, int32_t>(B0, B1, B2, err, 3)) return rc;
#pragma once
#include "../runtime.hpp"
#include "../cold.hpp"
#include "pool_fast.hpp"

CROTON_COLD_BEGIN

namespace croton {

// --- per-row gather / scatter -------------------------------------------------------------------
// out[i] = x[i, idx[i]]; an index outside [0, x.shape[1]) fails check `check`.
template <class T, class I>
int take_along_last(const croton_buffer& x, const croton_buffer& idx, croton_buffer& out,
                    croton_error* err, int32_t check) {
  const T* px = static_cast<const T*>(x.data);
  const I* pi = static_cast<const I*>(idx.data);
  T* po = static_cast<T*>(out.data);
  for (int64_t i = 0; i < idx.shape[0]; ++i) {
    const int64_t j = static_cast<int64_t>(pi[i * idx.strides[0]]);
    if (j < 0 || j >= x.shape[1]) return fail_index(err, check, j, x.shape[1]);
    po[i * out.strides[0]] = px[i * x.strides[0] + j * x.strides[1]];
  }
  return 0;
}

// out = zeros (rows, cols); out[i, idx[i]] = g[i].
template <class T, class I>
int take_along_last_grad(const croton_buffer& g, const croton_buffer& idx, croton_buffer& out,
                         croton_error* err, int32_t check) {
  const T* pg = static_cast<const T*>(g.data);
  const I* pi = static_cast<const I*>(idx.data);
  T* po = static_cast<T*>(out.data);
  const int64_t cols = out.shape[1];
  for (int64_t i = 0; i < out.shape[0]; ++i)
    for (int64_t j = 0; j < cols; ++j) po[i * out.strides[0] + j * out.strides[1]] = T(0);
  for (int64_t i = 0; i < idx.shape[0]; ++i) {
    const int64_t j = static_cast<int64_t>(pi[i * idx.strides[0]]);
    if (j < 0 || j >= cols) return fail_index(err, check, j, cols);
    po[i * out.strides[0] + j * out.strides[1]] = pg[i * g.strides[0]];
  }
  return 0;
}

// --- pooling -------------------------------------------------------------------------------------
// Pooling over the last nd (2 or 3) dimensions; a 2-d pooling runs as a 3-d one of depth 1.
// Window, stride and padding are run-time values (Theano accepts symbolic ones).

// Theano's pooled length of one axis of length n (Pool.out_shape); 0 for an empty axis.
inline int64_t pool_out_size(int64_t n, int64_t ws, int64_t st, int64_t pad, bool ignore_border) {
  if (n == 0) return 0;
  n += 2 * pad;
  if (ignore_border) return n >= ws ? (n - ws) / st + 1 : 0;
  if (st >= ws) return (n - 1) / st + 1;
  return (n - 1 - ws >= 0 ? (n - 1 - ws) / st + 1 : 0) + 1;
}

enum PoolMode { kPoolMax = 0, kPoolSum = 1, kPoolAverageIncPad = 2, kPoolAverageExcPad = 3 };

// Window, stride and padding of the three innermost axes (a 2-d pooling: depth 1, 1, 0).
struct PoolParams {
  int nd;
  int64_t ws[3], st[3], pd[3];
  int mode;
};

// A buffer's pooled axes as three (shape, stride) pairs, the missing depth as (1, 0).
struct Pool3 {
  int64_t shape[3], strides[3];
};

inline Pool3 pool3(const croton_buffer& b, int nd) {
  Pool3 v{{1, 1, 1}, {0, 0, 0}};
  for (int k = 0; k < nd; ++k) {
    v.shape[3 - nd + k] = b.shape[b.ndim - nd + k];
    v.strides[3 - nd + k] = b.strides[b.ndim - nd + k];
  }
  return v;
}

// One output position's window in image coordinates, clipped to the image, and the divisor
// (also the CUDA kernels', runtime/cuda/kernels/pool.cuh).
struct PoolWindow {
  int64_t lo[3], hi[3];
  double count;
};

CROTON_HD inline PoolWindow pool_window(const PoolParams& p, const Pool3& in,
                                       const int64_t* pos) {
  PoolWindow win{};
  double inc = 1.0, exc = 1.0;
  for (int k = 0; k < 3; ++k) {
    const int64_t s = pos[k] * p.st[k] - p.pd[k], e = s + p.ws[k];
    win.lo[k] = s > 0 ? s : 0;
    win.hi[k] = e < in.shape[k] ? e : in.shape[k];
    inc *= double((e < in.shape[k] + p.pd[k] ? e : in.shape[k] + p.pd[k]) - s);
    exc *= double(win.hi[k] - win.lo[k]);
  }
  win.count = p.mode == kPoolAverageIncPad ? inc : p.mode == kPoolAverageExcPad ? exc : 1.0;
  return win;
}

// Calls fn(offsets) for every image (index over all but the pooled dims); offsets[k] is the
// image's element offset in bufs[k].
template <int K, class F>
inline void for_each_image(const croton_buffer* const (&bufs)[K], int nd, F&& fn) {
  const int32_t lead = bufs[0]->ndim - nd;
  int64_t count = 1;
  for (int32_t d = 0; d < lead; ++d) count *= bufs[0]->shape[d];
  int64_t index[CROTON_MAX_NDIM] = {0};
  int64_t offsets[K];
  for (int64_t k = 0; k < count; ++k) {
    for (int b = 0; b < K; ++b) {
      offsets[b] = 0;
      for (int32_t d = 0; d < lead; ++d) offsets[b] += index[d] * bufs[b]->strides[d];
    }
    fn(offsets);
    for (int32_t d = lead - 1; d >= 0; --d) {
      if (++index[d] < bufs[0]->shape[d]) break;
      index[d] = 0;
    }
  }
}

CROTON_HD inline int64_t pool_at(const Pool3& v, int64_t a, int64_t b, int64_t c) {
  return a * v.strides[0] + b * v.strides[1] + c * v.strides[2];
}

// The pooled value of output position `pos` over the image at px (the CPU's loop and the CUDA
// kernel both): max, sum or average of its window, in the window's order.
template <class T>
CROTON_HD inline T pooled_value(const PoolParams& p, const Pool3& xv, const T* px,
                                const int64_t* pos) {
  const PoolWindow win = pool_window(p, xv, pos);
  const bool empty = win.lo[0] >= win.hi[0] || win.lo[1] >= win.hi[1] || win.lo[2] >= win.hi[2];
  T acc = p.mode == kPoolMax && !empty ? px[pool_at(xv, win.lo[0], win.lo[1], win.lo[2])] : T(0);
  for (int64_t a = win.lo[0]; a < win.hi[0]; ++a)
    for (int64_t b = win.lo[1]; b < win.hi[1]; ++b)
      for (int64_t c = win.lo[2]; c < win.hi[2]; ++c) {
        const T v = px[pool_at(xv, a, b, c)];
        acc = p.mode == kPoolMax ? maximum(acc, v) : acc + v;
      }
  if (p.mode == kPoolAverageIncPad || p.mode == kPoolAverageExcPad)
    acc = static_cast<T>(acc / static_cast<T>(win.count));
  return acc;
}

// Calls fn(pos) for every position of the (n0, n1, n2) grid.
template <class F>
inline void pool_grid(const int64_t* n, F&& fn) {
  int64_t pos[3];
  for (pos[0] = 0; pos[0] < n[0]; ++pos[0])
    for (pos[1] = 0; pos[1] < n[1]; ++pos[1])
      for (pos[2] = 0; pos[2] < n[2]; ++pos[2]) fn(pos);
}

template <class T>
int pool_forward(const croton_buffer& x, croton_buffer& z, const PoolParams& p) {
  if (p.nd == 2 && p.mode == kPoolMax && pool2d_max_fast<T>(x, z, p.ws + 1, p.st + 1, p.pd + 1))
    return 0;
  const Pool3 xv = pool3(x, p.nd), zv = pool3(z, p.nd);
  const T* px = static_cast<const T*>(x.data);
  T* pz = static_cast<T*>(z.data);
  const croton_buffer* const bufs[2] = {&x, &z};
  for_each_image(bufs, p.nd, [&](const int64_t* off) {
    pool_grid(zv.shape, [&](const int64_t* pos) {
      pz[off[1] + pool_at(zv, pos[0], pos[1], pos[2])] = pooled_value(p, xv, px + off[0], pos);
    });
  });
  return 0;
}

template <class T>
inline void pool_zero(T* p, int64_t off, const Pool3& v) {
  pool_grid(v.shape,
            [&](const int64_t* pos) { p[off + pool_at(v, pos[0], pos[1], pos[2])] = T(0); });
}

// gx = d pool / d x for the sum and average modes: each gz spread over its window.
template <class T>
int pool_avg_grad(const croton_buffer& gz, croton_buffer& gx, const PoolParams& p) {
  const Pool3 xv = pool3(gx, p.nd), zv = pool3(gz, p.nd);
  const T* pg = static_cast<const T*>(gz.data);
  T* px = static_cast<T*>(gx.data);
  const croton_buffer* const bufs[2] = {&gx, &gz};
  for_each_image(bufs, p.nd, [&](const int64_t* off) {
    pool_zero(px, off[0], xv);
    pool_grid(zv.shape, [&](const int64_t* pos) {
      const PoolWindow win = pool_window(p, xv, pos);
      T v = pg[off[1] + pool_at(zv, pos[0], pos[1], pos[2])];
      if (p.mode != kPoolSum) v = static_cast<T>(v / static_cast<T>(win.count));
      for (int64_t a = win.lo[0]; a < win.hi[0]; ++a)
        for (int64_t b = win.lo[1]; b < win.hi[1]; ++b)
          for (int64_t c = win.lo[2]; c < win.hi[2]; ++c) px[off[0] + pool_at(xv, a, b, c)] += v;
    });
  });
  return 0;
}

// Max pooling's gradient (grad_grad = false): gx[pos] += gz[window] at every position of a
// window where x equals the window's max z (Theano's MaxPoolGrad: ties all receive it).
// Its own gradient (grad_grad = true): out[window] = sum of g[pos] over those positions.
template <class T>
int pool_max_grad(const croton_buffer& x, const croton_buffer& z, const croton_buffer& g,
                  croton_buffer& out, const PoolParams& p, bool grad_grad) {
  if (p.nd == 2 && !grad_grad &&
      pool2d_max_grad_fast<T>(x, z, g, out, p.ws + 1, p.st + 1, p.pd + 1))
    return 0;
  const Pool3 xv = pool3(x, p.nd), zv = pool3(z, p.nd), gv = pool3(g, p.nd);
  const Pool3 ov = pool3(out, p.nd);
  const T* px = static_cast<const T*>(x.data);
  const T* pz = static_cast<const T*>(z.data);
  const T* pg = static_cast<const T*>(g.data);
  T* po = static_cast<T*>(out.data);
  const croton_buffer* const bufs[4] = {&x, &z, &g, &out};
  for_each_image(bufs, p.nd, [&](const int64_t* off) {
    pool_zero(po, off[3], ov);
    pool_grid(zv.shape, [&](const int64_t* pos) {
      const PoolWindow win = pool_window(p, xv, pos);
      const int64_t zpos = pool_at(zv, pos[0], pos[1], pos[2]);
      const T m = pz[off[1] + zpos];
      T acc = T(0);
      for (int64_t a = win.lo[0]; a < win.hi[0]; ++a)
        for (int64_t b = win.lo[1]; b < win.hi[1]; ++b)
          for (int64_t c = win.lo[2]; c < win.hi[2]; ++c) {
            if (!(px[off[0] + pool_at(xv, a, b, c)] == m)) continue;
            if (grad_grad)
              acc += pg[off[2] + pool_at(gv, a, b, c)];
            else
              po[off[3] + pool_at(ov, a, b, c)] += pg[off[2] + pool_at(gv, pos[0], pos[1], pos[2])];
          }
      if (grad_grad) po[off[3] + pool_at(ov, pos[0], pos[1], pos[2])] = acc;
    });
  });
  return 0;
}

}  // namespace croton

CROTON_COLD_END

// Compiled once per toolchain into libcroton_kernels (runtime/cpu/kernels_library.cpp,
// build_tools/kernels.py): built with CROTON_PREBUILT_KERNELS, a function's translation
// unit declares these instantiations extern and links them instead of compiling them.
#define CROTON_POOL_INSTANCES(EXTERN, T) \
  EXTERN template int pool_forward<T>(const croton_buffer&, croton_buffer&, const PoolParams&); \
  EXTERN template int pool_avg_grad<T>(const croton_buffer&, croton_buffer&, const PoolParams&); \
  EXTERN template int pool_max_grad<T>(const croton_buffer&, const croton_buffer&, const croton_buffer&, croton_buffer&, const PoolParams&, bool);
#define CROTON_POOL_TYPES(X) X(float) X(double)
#ifdef CROTON_PREBUILT_KERNELS
namespace croton {
#define CROTON_EXTERN_POOL(T) CROTON_POOL_INSTANCES(extern, T)
CROTON_POOL_TYPES(CROTON_EXTERN_POOL)
#undef CROTON_EXTERN_POOL
}  // namespace croton
#endif
