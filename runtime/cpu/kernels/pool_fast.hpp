// Max pooling over the last two axes for the common layout (C-contiguous input and output, no
// padding): one image after another in chunks of the thread pool, 2x2 windows of stride 2 as a
// straight four-way maximum, other windows clipped to the image (ignore_border=False's last
// partial window). Compiled at the flags' level (nnet.hpp's general kernels are cold code).
// Each returns false, and does nothing, when the case does not fit; the general kernel runs.
//
// Example (from nnet.hpp):
//   if (nd == 2 && mode == kPoolMax && pool2d_max_fast<float>(x, z, ws, st, pd)) return 0;
#pragma once
#include "../runtime.hpp"

namespace croton {

inline bool pool2d_fast_fits(const croton_buffer& x, const croton_buffer& z, const int64_t* pd) {
  return x.ndim >= 2 && x.ndim == z.ndim && pd[0] == 0 && pd[1] == 0 && is_contiguous(x) &&
         is_contiguous(z);
}

// z = max over each window of x (NaN-propagating, as the general kernel).
template <class T>
bool pool2d_max_fast(const croton_buffer& x, croton_buffer& z, const int64_t* ws,
                     const int64_t* st, const int64_t* pd) {
  if (!pool2d_fast_fits(x, z, pd)) return false;
  const int64_t h = x.shape[x.ndim - 2], w = x.shape[x.ndim - 1];
  const int64_t oh = z.shape[z.ndim - 2], ow = z.shape[z.ndim - 1];
  const int64_t images = numel(x.ndim - 2, x.shape);
  if (images == 0 || oh == 0 || ow == 0) return true;
  if (h == 0 || w == 0) return false;  // empty windows: the general kernel's zeros
  const T* px = static_cast<const T*>(x.data);
  T* pz = static_cast<T*>(z.data);
  const bool two = ws[0] == 2 && ws[1] == 2 && st[0] == 2 && st[1] == 2 && 2 * oh <= h &&
                   2 * ow <= w;
  parallel_for(images, images * h * w, [&](int64_t lo, int64_t hi) {
    for (int64_t img = lo; img < hi; ++img) {
      const T* xi = px + img * h * w;
      T* zi = pz + img * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        T* zr = zi + i * ow;
        if (two) {
          const T* r0 = xi + 2 * i * w;
          const T* r1 = r0 + w;
          for (int64_t j = 0; j < ow; ++j)
            zr[j] = maximum(maximum(r0[2 * j], r0[2 * j + 1]),
                            maximum(r1[2 * j], r1[2 * j + 1]));
          continue;
        }
        const int64_t a0 = i * st[0], a1 = a0 + ws[0] < h ? a0 + ws[0] : h;
        for (int64_t j = 0; j < ow; ++j) {
          const int64_t b0 = j * st[1], b1 = b0 + ws[1] < w ? b0 + ws[1] : w;
          T acc = xi[a0 * w + b0];
          for (int64_t a = a0; a < a1; ++a)
            for (int64_t b = b0; b < b1; ++b) acc = maximum(acc, xi[a * w + b]);
          zr[j] = acc;
        }
      }
    }
  });
  return true;
}

// The element offset of image `img` (an index over all but the last two dimensions) in b.
inline int64_t pool_image_offset(const croton_buffer& b, int64_t img) {
  int64_t off = 0;
  for (int32_t d = b.ndim - 3; d >= 0; --d) {
    off += (img % b.shape[d]) * b.strides[d];
    img /= b.shape[d];
  }
  return off;
}

// Max pooling's gradient for windows that do not overlap (stride >= window), no padding:
// gx[p] = gz[win] where x[p] equals its window's max z[win] (ties all receive it, as Theano's
// MaxPoolGrad), else 0. gx C-contiguous; x, z and gz any strides.
template <class T>
bool pool2d_max_grad_fast(const croton_buffer& x, const croton_buffer& z, const croton_buffer& gz,
                          croton_buffer& gx, const int64_t* ws, const int64_t* st,
                          const int64_t* pd) {
  if (x.ndim < 2 || pd[0] != 0 || pd[1] != 0 || st[0] < ws[0] || st[1] < ws[1] ||
      !is_contiguous(gx))
    return false;
  const int32_t nd = x.ndim;
  const int64_t h = x.shape[nd - 2], w = x.shape[nd - 1];
  const int64_t oh = z.shape[nd - 2], ow = z.shape[nd - 1];
  const int64_t images = numel(nd - 2, x.shape);
  const int64_t xh = x.strides[nd - 2], xw = x.strides[nd - 1];
  const int64_t zh = z.strides[nd - 2], zw = z.strides[nd - 1];
  const int64_t gh = gz.strides[nd - 2], gw = gz.strides[nd - 1];
  const T* px = static_cast<const T*>(x.data);
  const T* pz = static_cast<const T*>(z.data);
  const T* pg = static_cast<const T*>(gz.data);
  T* po = static_cast<T*>(gx.data);
  // Windows that tile the image exactly write every position; otherwise zeros go first.
  const bool tiled = st[0] == ws[0] && st[1] == ws[1] && oh * ws[0] == h && ow * ws[1] == w;
  const int64_t kh = ws[0], kw = ws[1];
  const bool two = kh == 2 && kw == 2 && st[0] == 2 && st[1] == 2 && xw == 1 && zw == 1 &&
                   gw == 1;
  parallel_for(images, images * h * w, [=](int64_t lo, int64_t hi) {
    for (int64_t img = lo; img < hi; ++img) {
      const T* xi = px + pool_image_offset(x, img);
      const T* zi = pz + pool_image_offset(z, img);
      const T* gi = pg + pool_image_offset(gz, img);
      T* oi = po + img * h * w;
      if (!tiled)
        for (int64_t k = 0; k < h * w; ++k) oi[k] = T(0);
      for (int64_t i = 0; i < oh; ++i) {
        const int64_t a0 = i * st[0], a1 = a0 + kh < h ? a0 + kh : h;
        const T* zr = zi + i * zh;
        const T* gr = gi + i * gh;
        for (int64_t a = a0; a < a1; ++a) {  // row by row of the output: streaming writes
          const T* xr = xi + a * xh;
          T* orow = oi + a * w;
          if (two) {  // 2x2 windows of stride 2 over unit-stride rows: a vectorized select
            CROTON_OMP(omp simd)
            for (int64_t j = 0; j < ow; ++j) {
              const T m = zr[j], g = gr[j], v0 = xr[2 * j], v1 = xr[2 * j + 1];
              orow[2 * j] = v0 == m ? g : T(0);
              orow[2 * j + 1] = v1 == m ? g : T(0);
            }
            continue;
          }
          for (int64_t j = 0; j < ow; ++j) {
            const int64_t b0 = j * st[1], b1 = b0 + kw < w ? b0 + kw : w;
            const T m = zr[j * zw], g = gr[j * gw];
            for (int64_t b = b0; b < b1; ++b) orow[b] = xr[b * xw] == m ? g : T(0);
          }
        }
      }
    }
  });
  return true;
}

}  // namespace croton
