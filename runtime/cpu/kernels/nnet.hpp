// Neural-network kernels: 2-D pooling over the last two dimensions (Theano's pool_2d and its
// gradients) and the per-row gather/scatter behind cross-entropy with class indices. Buffers
// may have any element strides; shapes were checked by the generated code.
//
// Example (generated code):
//   if (int rc = croton::take_along_last<double, int32_t>(B0, B1, B2, err, 3)) return rc;
#pragma once
#include "../runtime.hpp"
#include "../cold.hpp"

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
// Theano's pooled length of one axis of length n (Pool.out_shape); 0 for an empty axis.
inline int64_t pool_out_size(int64_t n, int64_t ws, int64_t st, int64_t pad, bool ignore_border) {
  if (n == 0) return 0;
  n += 2 * pad;
  if (ignore_border) return n >= ws ? (n - ws) / st + 1 : 0;
  if (st >= ws) return (n - 1) / st + 1;
  return (n - 1 - ws >= 0 ? (n - 1 - ws) / st + 1 : 0) + 1;
}

enum PoolMode { kPoolMax = 0, kPoolSum = 1, kPoolAverageIncPad = 2, kPoolAverageExcPad = 3 };

struct PoolParams {
  int64_t ws0, ws1, st0, st1, pd0, pd1;
  int mode;
};

// One output position's window in image coordinates, clipped to the image, and the divisor.
struct PoolWindow {
  int64_t r0, r1, c0, c1;
  double count;
};

inline PoolWindow pool_window(const PoolParams& p, int64_t h, int64_t w, int64_t i, int64_t j) {
  const int64_t rs = i * p.st0 - p.pd0, cs = j * p.st1 - p.pd1;
  PoolWindow win{rs > 0 ? rs : 0, rs + p.ws0 < h ? rs + p.ws0 : h,
                 cs > 0 ? cs : 0, cs + p.ws1 < w ? cs + p.ws1 : w, 1.0};
  if (p.mode == kPoolAverageIncPad) {
    const int64_t re = rs + p.ws0 < h + p.pd0 ? rs + p.ws0 : h + p.pd0;
    const int64_t ce = cs + p.ws1 < w + p.pd1 ? cs + p.ws1 : w + p.pd1;
    win.count = double((re - rs) * (ce - cs));
  } else if (p.mode == kPoolAverageExcPad) {
    win.count = double((win.r1 - win.r0) * (win.c1 - win.c0));
  }
  return win;
}

// Calls fn(offsets) for every image (index over all but the last two dims); offsets[k] is the
// image's element offset in bufs[k].
template <int K, class F>
inline void for_each_image(const croton_buffer* const (&bufs)[K], F&& fn) {
  const int32_t lead = bufs[0]->ndim - 2;
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

#define CROTON_AT(buf, ptr, off, r, c) \
  ptr[(off) + (r) * (buf).strides[(buf).ndim - 2] + (c) * (buf).strides[(buf).ndim - 1]]

template <class T>
int pool2d_forward(const croton_buffer& x, croton_buffer& z, const PoolParams& p) {
  const int64_t h = x.shape[x.ndim - 2], w = x.shape[x.ndim - 1];
  const int64_t oh = z.shape[z.ndim - 2], ow = z.shape[z.ndim - 1];
  const T* px = static_cast<const T*>(x.data);
  T* pz = static_cast<T*>(z.data);
  const croton_buffer* const bufs[2] = {&x, &z};
  for_each_image(bufs, [&](const int64_t* off) {
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const PoolWindow win = pool_window(p, h, w, i, j);
        T acc = p.mode == kPoolMax ? CROTON_AT(x, px, off[0], win.r0, win.c0) : T(0);
        for (int64_t r = win.r0; r < win.r1; ++r)
          for (int64_t c = win.c0; c < win.c1; ++c) {
            const T v = CROTON_AT(x, px, off[0], r, c);
            acc = p.mode == kPoolMax ? maximum(acc, v) : acc + v;
          }
        if (p.mode == kPoolAverageIncPad || p.mode == kPoolAverageExcPad)
          acc = static_cast<T>(acc / static_cast<T>(win.count));
        CROTON_AT(z, pz, off[1], i, j) = acc;
      }
  });
  return 0;
}

// gx = d pool / d x for the sum and average modes: each gz spread over its window.
template <class T>
int pool2d_avg_grad(const croton_buffer& gz, croton_buffer& gx, const PoolParams& p) {
  const int64_t h = gx.shape[gx.ndim - 2], w = gx.shape[gx.ndim - 1];
  const int64_t oh = gz.shape[gz.ndim - 2], ow = gz.shape[gz.ndim - 1];
  const T* pg = static_cast<const T*>(gz.data);
  T* px = static_cast<T*>(gx.data);
  const croton_buffer* const bufs[2] = {&gx, &gz};
  for_each_image(bufs, [&](const int64_t* off) {
    for (int64_t r = 0; r < h; ++r)
      for (int64_t c = 0; c < w; ++c) CROTON_AT(gx, px, off[0], r, c) = T(0);
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const PoolWindow win = pool_window(p, h, w, i, j);
        T v = CROTON_AT(gz, pg, off[1], i, j);
        if (p.mode != kPoolSum) v = static_cast<T>(v / static_cast<T>(win.count));
        for (int64_t r = win.r0; r < win.r1; ++r)
          for (int64_t c = win.c0; c < win.c1; ++c) CROTON_AT(gx, px, off[0], r, c) += v;
      }
  });
  return 0;
}

// Max pooling's gradient (grad_grad = false): gx[pos] += gz[i, j] at every position of window
// (i, j) where x equals the window's max z[i, j] (Theano's MaxPoolGrad: ties all receive it).
// Its own gradient (grad_grad = true): out[i, j] = sum of g[pos] over those positions.
template <class T>
int pool2d_max_grad(const croton_buffer& x, const croton_buffer& z, const croton_buffer& g,
                    croton_buffer& out, const PoolParams& p, bool grad_grad) {
  const int64_t h = x.shape[x.ndim - 2], w = x.shape[x.ndim - 1];
  const int64_t oh = z.shape[z.ndim - 2], ow = z.shape[z.ndim - 1];
  const T* px = static_cast<const T*>(x.data);
  const T* pz = static_cast<const T*>(z.data);
  const T* pg = static_cast<const T*>(g.data);
  T* po = static_cast<T*>(out.data);
  const croton_buffer* const bufs[4] = {&x, &z, &g, &out};
  for_each_image(bufs, [&](const int64_t* off) {
    const int64_t orows = grad_grad ? oh : h, ocols = grad_grad ? ow : w;
    for (int64_t r = 0; r < orows; ++r)
      for (int64_t c = 0; c < ocols; ++c) CROTON_AT(out, po, off[3], r, c) = T(0);
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const PoolWindow win = pool_window(p, h, w, i, j);
        const T m = CROTON_AT(z, pz, off[1], i, j);
        T acc = T(0);
        for (int64_t r = win.r0; r < win.r1; ++r)
          for (int64_t c = win.c0; c < win.c1; ++c) {
            if (!(CROTON_AT(x, px, off[0], r, c) == m)) continue;
            if (grad_grad)
              acc += CROTON_AT(g, pg, off[2], r, c);
            else
              CROTON_AT(out, po, off[3], r, c) += CROTON_AT(g, pg, off[2], i, j);
          }
        if (grad_grad) CROTON_AT(out, po, off[3], i, j) = acc;
      }
  });
  return 0;
}

#undef CROTON_AT

}  // namespace croton

CROTON_COLD_END
