// Max pooling over the last two axes for the common layout (C-contiguous input and output, no
// padding): one image after another in chunks of the thread pool, 2x2 windows of stride 2 as a
// straight four-way maximum, other windows clipped to the image (ignore_border=False's last
// partial window). Compiled at the flags' level (nnet.hpp's general kernels are cold code).
// Each returns false, and does nothing, when the layout does not fit; the general kernel runs.
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

// Max pooling's gradient for windows that do not overlap (stride >= window): gx[p] = gz[win]
// where x[p] equals its window's max z[win] (ties all receive it, as Theano's MaxPoolGrad),
// else 0. x, z, gz and gx C-contiguous.
template <class T>
bool pool2d_max_grad_fast(const croton_buffer& x, const croton_buffer& z, const croton_buffer& gz,
                          croton_buffer& gx, const int64_t* ws, const int64_t* st,
                          const int64_t* pd) {
  if (!pool2d_fast_fits(x, z, pd) || !pool2d_fast_fits(gx, gz, pd) || st[0] < ws[0] ||
      st[1] < ws[1])
    return false;
  const int64_t h = x.shape[x.ndim - 2], w = x.shape[x.ndim - 1];
  const int64_t oh = z.shape[z.ndim - 2], ow = z.shape[z.ndim - 1];
  const int64_t images = numel(x.ndim - 2, x.shape);
  const T* px = static_cast<const T*>(x.data);
  const T* pz = static_cast<const T*>(z.data);
  const T* pg = static_cast<const T*>(gz.data);
  T* po = static_cast<T*>(gx.data);
  parallel_for(images, images * h * w, [&](int64_t lo, int64_t hi) {
    for (int64_t img = lo; img < hi; ++img) {
      const T* xi = px + img * h * w;
      T* oi = po + img * h * w;
      for (int64_t k = 0; k < h * w; ++k) oi[k] = T(0);
      const T* zi = pz + img * oh * ow;
      const T* gi = pg + img * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        const int64_t a0 = i * st[0], a1 = a0 + ws[0] < h ? a0 + ws[0] : h;
        for (int64_t j = 0; j < ow; ++j) {
          const int64_t b0 = j * st[1], b1 = b0 + ws[1] < w ? b0 + ws[1] : w;
          const T m = zi[i * ow + j], g = gi[i * ow + j];
          for (int64_t a = a0; a < a1; ++a)
            for (int64_t b = b0; b < b1; ++b)
              if (xi[a * w + b] == m) oi[a * w + b] = g;
        }
      }
    }
  });
  return true;
}

}  // namespace croton
