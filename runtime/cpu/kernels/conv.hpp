// 2-D convolution kernels (Theano's conv2d: NCHW input, OIHW filters): forward, gradient wrt the
// input and gradient wrt the filters, each as im2col + one GEMM per image through the BLAS
// bridge. Buffers may have any element strides; the geometry (padding, subsampling, flip) comes
// from the generated code, which has already checked the shapes.
//
// Example (generated code):
//   if (int rc = croton::conv2d_forward<float>(B0, B1, B2, 1, 1, 2, 2, true, scratch, err)) return rc;
#pragma once
#include "../runtime.hpp"

namespace croton {

struct ConvGeometry {
  int64_t n, c, h, w;      // input
  int64_t o, kh, kw;       // filters (o, c, kh, kw)
  int64_t oh, ow;          // output rows and columns
  int64_t ph, pw, sh, sw;  // padding and subsampling
  bool flip;               // true convolution: the filter taps are reversed
  int64_t taps() const { return c * kh * kw; }
  int64_t pixels() const { return oh * ow; }
};

inline ConvGeometry conv_geometry(const croton_buffer& x, const croton_buffer& w,
                                  const croton_buffer& y, int64_t ph, int64_t pw, int64_t sh,
                                  int64_t sw, bool flip) {
  return ConvGeometry{x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0], w.shape[2],
                      w.shape[3], y.shape[2], y.shape[3], ph, pw, sh, sw, flip};
}

// The filter tap (p, q) of the (possibly flipped) filter used in a cross-correlation.
inline int64_t conv_tap(const ConvGeometry& g, int64_t c, int64_t p, int64_t q) {
  return (c * g.kh + (g.flip ? g.kh - 1 - p : p)) * g.kw + (g.flip ? g.kw - 1 - q : q);
}

// wm (o, taps) row-major: the filters as a matrix, flipped when g.flip.
template <class T>
inline void filters_to_matrix(const croton_buffer& w, const ConvGeometry& g, T* wm) {
  const T* pw = static_cast<const T*>(w.data);
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t p = 0; p < g.kh; ++p)
        for (int64_t q = 0; q < g.kw; ++q)
          wm[o * g.taps() + conv_tap(g, c, p, q)] =
              pw[o * w.strides[0] + c * w.strides[1] + p * w.strides[2] + q * w.strides[3]];
}

// col (taps, pixels) row-major: the padded input windows of image `n` (zero outside the image).
template <class T>
inline void im2col(const croton_buffer& x, int64_t n, const ConvGeometry& g, T* col) {
  const T* px = static_cast<const T*>(x.data) + n * x.strides[0];
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t p = 0; p < g.kh; ++p)
      for (int64_t q = 0; q < g.kw; ++q) {
        T* dst = col + ((c * g.kh + p) * g.kw + q) * g.pixels();
        for (int64_t i = 0; i < g.oh; ++i) {
          const int64_t r = i * g.sh + p - g.ph;
          T* row = dst + i * g.ow;
          if (r < 0 || r >= g.h) {
            for (int64_t j = 0; j < g.ow; ++j) row[j] = T(0);
            continue;
          }
          const T* src = px + c * x.strides[1] + r * x.strides[2];
          for (int64_t j = 0; j < g.ow; ++j) {
            const int64_t s = j * g.sw + q - g.pw;
            row[j] = (s >= 0 && s < g.w) ? src[s * x.strides[3]] : T(0);
          }
        }
      }
}

// Image `n` of a (n, channels, rows, cols) buffer as a (channels, rows * cols) matrix view;
// false when its strides do not allow one.
template <class T>
inline bool image_matrix(const croton_buffer& b, int64_t n, Mat<T>* m) {
  const int64_t rows = b.shape[2], cols = b.shape[3];
  int64_t cs = 1;
  if (rows > 1 && cols > 1) {
    if (b.strides[2] != cols * b.strides[3]) return false;
    cs = b.strides[3];
  } else if (rows > 1) {
    cs = b.strides[2];
  } else if (cols > 1) {
    cs = b.strides[3];
  }
  *m = Mat<T>{static_cast<T*>(b.data) + n * b.strides[0], b.shape[1], rows * cols,
              b.strides[1], cs};
  return true;
}

template <class T>
inline T* scratch_array(Scratch& scratch, int64_t count) {
  return static_cast<T*>(scratch.alloc(mul_sat(count, int64_t(sizeof(T)))));
}

// y = conv2d(x, w): y[n] (o, pixels) = wm (o, taps) @ col_n (taps, pixels).
template <class T>
int conv2d_forward(const croton_buffer& x, const croton_buffer& w, croton_buffer& y, int64_t ph,
                   int64_t pw, int64_t sh, int64_t sw, bool flip, Scratch& scratch,
                   croton_error* err) {
  const ConvGeometry g = conv_geometry(x, w, y, ph, pw, sh, sw, flip);
  if (g.n == 0 || g.o == 0 || g.pixels() == 0) return 0;
  T* wm = scratch_array<T>(scratch, g.o * g.taps());
  T* col = scratch_array<T>(scratch, g.taps() * g.pixels());
  T* tmp = scratch_array<T>(scratch, g.o * g.pixels());
  if (wm == nullptr || col == nullptr || tmp == nullptr) return fail_alloc(err);
  filters_to_matrix(w, g, wm);
  const Mat<T> a{wm, g.o, g.taps(), g.taps(), 1};
  for (int64_t n = 0; n < g.n; ++n) {
    im2col(x, n, g, col);
    Mat<T> out;
    const bool direct = image_matrix(y, n, &out);
    if (!direct) out = Mat<T>{tmp, g.o, g.pixels(), g.pixels(), 1};
    matmul(a, Mat<T>{col, g.taps(), g.pixels(), g.pixels(), 1}, out);
    if (!direct) {
      T* py = static_cast<T*>(y.data) + n * y.strides[0];
      for (int64_t o = 0; o < g.o; ++o)
        for (int64_t i = 0; i < g.oh; ++i)
          for (int64_t j = 0; j < g.ow; ++j)
            py[o * y.strides[1] + i * y.strides[2] + j * y.strides[3]] =
                tmp[(o * g.oh + i) * g.ow + j];
    }
  }
  return 0;
}

// Image `n` of gz as a (o, pixels) matrix: a view, or a contiguous copy into `tmp`.
template <class T>
inline Mat<T> output_grad_matrix(const croton_buffer& gz, int64_t n, const ConvGeometry& g,
                                 T* tmp) {
  Mat<T> m;
  if (image_matrix(gz, n, &m)) return m;
  const T* p = static_cast<const T*>(gz.data) + n * gz.strides[0];
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t i = 0; i < g.oh; ++i)
      for (int64_t j = 0; j < g.ow; ++j)
        tmp[(o * g.oh + i) * g.ow + j] = p[o * gz.strides[1] + i * gz.strides[2] + j * gz.strides[3]];
  return Mat<T>{tmp, g.o, g.pixels(), g.pixels(), 1};
}

// gx = d conv2d / d x: gcol (taps, pixels) = wm^T @ gz_n, scattered back (col2im).
template <class T>
int conv2d_grad_input(const croton_buffer& w, const croton_buffer& gz, croton_buffer& gx,
                      int64_t ph, int64_t pw, int64_t sh, int64_t sw, bool flip,
                      Scratch& scratch, croton_error* err) {
  const ConvGeometry g = conv_geometry(gx, w, gz, ph, pw, sh, sw, flip);
  T* px = static_cast<T*>(gx.data);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t r = 0; r < g.h; ++r)
        for (int64_t s = 0; s < g.w; ++s)
          px[n * gx.strides[0] + c * gx.strides[1] + r * gx.strides[2] + s * gx.strides[3]] = T(0);
  if (g.n == 0 || g.taps() == 0 || g.pixels() == 0) return 0;
  T* wm = scratch_array<T>(scratch, g.o * g.taps());
  T* gcol = scratch_array<T>(scratch, g.taps() * g.pixels());
  T* tmp = scratch_array<T>(scratch, g.o * g.pixels());
  if (wm == nullptr || gcol == nullptr || tmp == nullptr) return fail_alloc(err);
  filters_to_matrix(w, g, wm);
  const Mat<T> wt{wm, g.taps(), g.o, 1, g.taps()};  // wm transposed
  for (int64_t n = 0; n < g.n; ++n) {
    matmul(wt, output_grad_matrix(gz, n, g, tmp), Mat<T>{gcol, g.taps(), g.pixels(), g.pixels(), 1});
    T* dst = px + n * gx.strides[0];
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t p = 0; p < g.kh; ++p)
        for (int64_t q = 0; q < g.kw; ++q) {
          const T* src = gcol + ((c * g.kh + p) * g.kw + q) * g.pixels();
          for (int64_t i = 0; i < g.oh; ++i) {
            const int64_t r = i * g.sh + p - g.ph;
            if (r < 0 || r >= g.h) continue;
            for (int64_t j = 0; j < g.ow; ++j) {
              const int64_t s = j * g.sw + q - g.pw;
              if (s >= 0 && s < g.w)
                dst[c * gx.strides[1] + r * gx.strides[2] + s * gx.strides[3]] += src[i * g.ow + j];
            }
          }
        }
  }
  return 0;
}

// gw = d conv2d / d w: gwm (o, taps) = sum_n gz_n (o, pixels) @ col_n^T, unflipped into gw.
template <class T>
int conv2d_grad_filters(const croton_buffer& x, const croton_buffer& gz, croton_buffer& gw,
                        int64_t ph, int64_t pw, int64_t sh, int64_t sw, bool flip,
                        Scratch& scratch, croton_error* err) {
  const ConvGeometry g = conv_geometry(x, gw, gz, ph, pw, sh, sw, flip);
  const int64_t size = g.o * g.taps();
  T* acc = scratch_array<T>(scratch, size);
  T* part = scratch_array<T>(scratch, size);
  T* col = scratch_array<T>(scratch, g.taps() * g.pixels());
  T* tmp = scratch_array<T>(scratch, g.o * g.pixels());
  if (acc == nullptr || part == nullptr || col == nullptr || tmp == nullptr) return fail_alloc(err);
  for (int64_t k = 0; k < size; ++k) acc[k] = T(0);
  if (g.pixels() > 0) {
    for (int64_t n = 0; n < g.n; ++n) {
      im2col(x, n, g, col);
      matmul(output_grad_matrix(gz, n, g, tmp), Mat<T>{col, g.pixels(), g.taps(), 1, g.pixels()},
             Mat<T>{part, g.o, g.taps(), g.taps(), 1});
      for (int64_t k = 0; k < size; ++k) acc[k] += part[k];
    }
  }
  T* pw_out = static_cast<T*>(gw.data);
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t p = 0; p < g.kh; ++p)
        for (int64_t q = 0; q < g.kw; ++q)
          pw_out[o * gw.strides[0] + c * gw.strides[1] + p * gw.strides[2] + q * gw.strides[3]] =
              acc[o * g.taps() + conv_tap(g, c, p, q)];
  return 0;
}

}  // namespace croton
