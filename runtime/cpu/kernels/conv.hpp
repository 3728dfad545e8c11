// Convolution kernels (Theano's conv2d / conv3d: N C [D] H W input, O C/groups [kD] kH kW
// filters): forward, gradient wrt the input (also the transposed convolution) and gradient wrt the
// filters, with zero padding, subsampling, filter dilation, groups and an optional filter flip.
// Each is im2col + GEMM through the BLAS bridge over a chunk of images at once (one GEMM per group
// and chunk, not one per image). A 2-d convolution is run as a 3-d one of depth 1. Buffers may
// have any element strides; the generated code has already checked the shapes.
//
// Example (generated code):
//   if (int rc = croton::conv_forward<float>(B0, B1, B2, croton::ConvParams{2, {0, 1, 1},
//       {1, 2, 2}, {1, 1, 1}, 1, true}, scratch, err)) return rc;
#pragma once
#include "../runtime.hpp"

namespace croton {

// Padding before the first element (`pad`), subsampling and dilation of the spatial dimensions,
// always three of them (a 2-d convolution's depth entry is 0, 1, 1); `nd` is 2 or 3.
struct ConvParams {
  int nd;
  int64_t pad[3], st[3], dil[3];
  int64_t groups;
  bool flip;
};

// A (n, c, d, h, w) view of a 4-d or 5-d buffer (a 4-d buffer gets depth 1, stride 0).
struct Conv5 {
  int64_t shape[5], strides[5];
};

inline Conv5 conv5(const croton_buffer& b) {
  Conv5 v{};
  if (b.ndim == 5) {
    for (int d = 0; d < 5; ++d) v.shape[d] = b.shape[d], v.strides[d] = b.strides[d];
  } else {
    const int map[5] = {0, 1, -1, 2, 3};
    for (int d = 0; d < 5; ++d) {
      v.shape[d] = map[d] < 0 ? 1 : b.shape[map[d]];
      v.strides[d] = map[d] < 0 ? 0 : b.strides[map[d]];
    }
  }
  return v;
}

struct ConvGeometry {
  int64_t n, c, o, groups, cg, og;  // images, input and output channels, per-group counts
  int64_t in[3], k[3], out[3];      // spatial sizes of the input, filters and output
  ConvParams p;
  // (also the CUDA kernels', runtime/cuda/kernels/conv.cuh)
  CROTON_HD int64_t kvol() const { return k[0] * k[1] * k[2]; }
  CROTON_HD int64_t taps() const { return cg * kvol(); }  // rows of one group's column matrix
  CROTON_HD int64_t pixels() const { return out[0] * out[1] * out[2]; }
};

inline ConvGeometry conv_geometry(const Conv5& x, const Conv5& w, const Conv5& y,
                                  const ConvParams& p) {
  ConvGeometry g{};
  g.n = x.shape[0], g.c = x.shape[1], g.o = w.shape[0], g.groups = p.groups;
  g.cg = w.shape[1], g.og = g.o / p.groups;
  for (int d = 0; d < 3; ++d) g.in[d] = x.shape[2 + d], g.k[d] = w.shape[2 + d],
                              g.out[d] = y.shape[2 + d];
  g.p = p;
  return g;
}

// Images per chunk: the column matrix and the output rows of a chunk hold at most about 256K
// elements each (they stay in cache between im2col and the GEMM).
inline int64_t conv_chunk(const ConvGeometry& g) {
  const int64_t rows = g.c * g.kvol() > g.o ? g.c * g.kvol() : g.o;
  const int64_t per = mul_sat(rows, g.pixels());
  int64_t nb = per > 0 ? (int64_t(1) << 18) / per : g.n;
  if (nb < 1) nb = 1;
  return nb < g.n ? nb : g.n;
}

// Index of filter tap (a, b, e) within a channel's kvol taps, reversed when flipping.
inline int64_t conv_tap(const ConvGeometry& g, int64_t a, int64_t b, int64_t e) {
  if (g.p.flip) a = g.k[0] - 1 - a, b = g.k[1] - 1 - b, e = g.k[2] - 1 - e;
  return (a * g.k[1] + b) * g.k[2] + e;
}

// wm (o, taps) row-major: the filters as a matrix (group g's rows are g*og..), flipped when asked.
template <class T>
inline void filters_to_matrix(const croton_buffer& wb, const ConvGeometry& g, T* wm) {
  const Conv5 w = conv5(wb);
  const T* pw = static_cast<const T*>(wb.data);
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t c = 0; c < g.cg; ++c)
      for (int64_t a = 0; a < g.k[0]; ++a)
        for (int64_t b = 0; b < g.k[1]; ++b)
          for (int64_t e = 0; e < g.k[2]; ++e)
            wm[o * g.taps() + c * g.kvol() + conv_tap(g, a, b, e)] =
                pw[o * w.strides[0] + c * w.strides[1] + a * w.strides[2] + b * w.strides[3] +
                   e * w.strides[4]];
}

// The output columns l in [lo, hi) whose input column l * st + e * dil - pad lies inside [0, n).
inline void conv_inside(int64_t n, int64_t out, int64_t st, int64_t tap, int64_t pad,
                        int64_t* lo, int64_t* hi) {
  const int64_t first = pad - tap;  // l * st >= first, l * st < n + first
  int64_t l0 = first > 0 ? (first + st - 1) / st : 0;
  int64_t l1 = n + first > 0 ? (n + first + st - 1) / st : 0;
  *lo = l0 < out ? l0 : out;
  *hi = l1 < out ? (l1 > *lo ? l1 : *lo) : out;
}

// Calls seg(dst, src, lo, hi, len) for every run of a chunk's column matrix: dst = row * ld +
// the run's first column (row = channel * kvol + tap, column = image-in-chunk * pixels + output
// position), len output columns of which [lo, hi) read the input at src + l * stride (src may be
// negative: strides may be) and the others lie in the padding; a run in the padding rows has
// lo == hi. The inner loops have no per-element bounds tests.
template <class F>
inline void conv_columns(const Conv5& x, const ConvGeometry& g, int64_t n0, int64_t nb,
                         int64_t ld, F&& seg) {
  const int64_t npix = g.pixels(), w = g.out[2];
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t a = 0; a < g.k[0]; ++a)
      for (int64_t b = 0; b < g.k[1]; ++b)
        for (int64_t e = 0; e < g.k[2]; ++e) {
          const int64_t row = c * g.kvol() + (a * g.k[1] + b) * g.k[2] + e;
          int64_t lo, hi;
          conv_inside(g.in[2], w, g.p.st[2], e * g.p.dil[2], g.p.pad[2], &lo, &hi);
          const int64_t s0 = e * g.p.dil[2] - g.p.pad[2];
          for (int64_t m = 0; m < nb; ++m) {
            const int64_t base = (n0 + m) * x.strides[0] + c * x.strides[1];
            int64_t dst = row * ld + m * npix;
            for (int64_t i = 0; i < g.out[0]; ++i) {
              const int64_t zi = i * g.p.st[0] + a * g.p.dil[0] - g.p.pad[0];
              const bool zin = zi >= 0 && zi < g.in[0];
              for (int64_t j = 0; j < g.out[1]; ++j, dst += w) {
                const int64_t r = j * g.p.st[1] + b * g.p.dil[1] - g.p.pad[1];
                const bool in = zin && r >= 0 && r < g.in[1];
                seg(dst, base + zi * x.strides[2] + r * x.strides[3] + s0 * x.strides[4],
                    in ? lo : 0, in ? hi : 0, w);
              }
            }
          }
        }
}

// col (c * kvol, nb * pixels) row-major: the padded input windows of images n0 .. n0 + nb.
template <class T>
inline void im2col(const croton_buffer& xb, const ConvGeometry& g, int64_t n0, int64_t nb,
                   T* col) {
  const T* px = static_cast<const T*>(xb.data);
  const Conv5 x = conv5(xb);
  const int64_t st = g.p.st[2] * x.strides[4];
  conv_columns(x, g, n0, nb, nb * g.pixels(),
               [&](int64_t dst, int64_t src, int64_t lo, int64_t hi, int64_t len) {
                 T* out = col + dst;
                 for (int64_t l = 0; l < lo; ++l) out[l] = T(0);
                 for (int64_t l = lo; l < hi; ++l) out[l] = px[src + l * st];
                 for (int64_t l = hi; l < len; ++l) out[l] = T(0);
               });
}

// m (o, nb * pixels) row-major <-> images n0 .. n0 + nb of the (n, o, pixels) buffer b.
template <class T, bool kToBuffer>
inline void image_rows(const croton_buffer& bb, const ConvGeometry& g, int64_t n0, int64_t nb,
                       T* m) {
  const Conv5 b = conv5(bb);
  T* pb = static_cast<T*>(bb.data);
  const int64_t npix = g.pixels(), ld = nb * npix;
  // an image channel's pixels contiguous (the usual case): one straight copy per row
  const bool flat = (g.out[2] == 1 || b.strides[4] == 1) &&
                    (g.out[1] == 1 || b.strides[3] == g.out[2]) &&
                    (g.out[0] == 1 || b.strides[2] == g.out[1] * g.out[2]);
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t k = 0; k < nb; ++k) {
      T* row = m + o * ld + k * npix;
      const int64_t base = (n0 + k) * b.strides[0] + o * b.strides[1];
      if (flat) {
        T* img = pb + base;
        if (kToBuffer)
          std::memcpy(img, row, size_t(npix) * sizeof(T));
        else
          std::memcpy(row, img, size_t(npix) * sizeof(T));
        continue;
      }
      int64_t q = 0;
      for (int64_t i = 0; i < g.out[0]; ++i)
        for (int64_t j = 0; j < g.out[1]; ++j)
          for (int64_t l = 0; l < g.out[2]; ++l, ++q) {
            T& v = pb[base + i * b.strides[2] + j * b.strides[3] + l * b.strides[4]];
            if (kToBuffer) v = row[q]; else row[q] = v;
          }
    }
}

template <class T>
inline T* scratch_array(Scratch& scratch, int64_t count) {
  return static_cast<T*>(scratch.alloc(mul_sat(count, int64_t(sizeof(T)))));
}

template <class T>
inline void fill_buffer(croton_buffer& bb, T value) {
  const Conv5 b = conv5(bb);
  T* p = static_cast<T*>(bb.data);
  for (int64_t n = 0; n < b.shape[0]; ++n)
    for (int64_t c = 0; c < b.shape[1]; ++c)
      for (int64_t i = 0; i < b.shape[2]; ++i)
        for (int64_t j = 0; j < b.shape[3]; ++j)
          for (int64_t l = 0; l < b.shape[4]; ++l)
            p[n * b.strides[0] + c * b.strides[1] + i * b.strides[2] + j * b.strides[3] +
              l * b.strides[4]] = value;
}

// The chunks of images run in parallel, each on one thread with its own scratch (its GEMMs on
// that thread): im2col, the scatter back and the GEMMs all share the cores, and on a machine
// shared with other work an idle thread takes a descheduled one's chunks. Chunks are at most
// conv_chunk(g) images and at least one per thread. With one chunk the GEMM itself is split.
struct ConvChunks {
  int64_t chunk, count, slots;
};

inline ConvChunks conv_chunks(const ConvGeometry& g) {
  const int64_t threads = pool_threads();
  int64_t chunk = conv_chunk(g);
  const int64_t even = (g.n + threads - 1) / threads;
  if (even >= 1 && even < chunk) chunk = even;
  const int64_t count = (g.n + chunk - 1) / chunk;
  const int64_t slots = count < 2 * threads ? count : 2 * threads;
  return {chunk, count, slots};
}

// body(slot, n0, nb) for every chunk (images n0 .. n0 + nb); chunk i runs in slot i % slots.
template <class F>
inline void for_each_chunk(const ConvGeometry& g, const ConvChunks& cc, F&& body) {
  const int64_t work = mul_sat(mul_sat(g.n, g.pixels()), mul_sat(g.taps(), g.og));
  parallel_for(cc.slots, work, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s)
      for (int64_t i = s; i < cc.count; i += cc.slots) {
        const int64_t n0 = i * cc.chunk;
        body(s, n0, g.n - n0 < cc.chunk ? g.n - n0 : cc.chunk);
      }
  });
}

// Zeros in images n0 .. n0 + nb of b.
template <class T>
inline void fill_images(croton_buffer& bb, int64_t n0, int64_t nb) {
  const Conv5 b = conv5(bb);
  T* p = static_cast<T*>(bb.data);
  for (int64_t n = n0; n < n0 + nb; ++n)
    for (int64_t c = 0; c < b.shape[1]; ++c)
      for (int64_t i = 0; i < b.shape[2]; ++i)
        for (int64_t j = 0; j < b.shape[3]; ++j)
          for (int64_t l = 0; l < b.shape[4]; ++l)
            p[n * b.strides[0] + c * b.strides[1] + i * b.strides[2] + j * b.strides[3] +
              l * b.strides[4]] = T(0);
}

// y = conv(x, w): per chunk and group, y_g (og, nb * pixels) = wm_g (og, taps) @ col_g.
template <class T>
int conv_forward(const croton_buffer& x, const croton_buffer& w, croton_buffer& y,
                 const ConvParams& p, Scratch& scratch, croton_error* err) {
  const ConvGeometry g = conv_geometry(conv5(x), conv5(w), conv5(y), p);
  if (g.n == 0 || g.o == 0 || g.pixels() == 0) return 0;
  if (g.taps() == 0) {
    fill_buffer(y, T(0));
    return 0;
  }
  const ConvChunks cc = conv_chunks(g);
  const int64_t cols = cc.chunk * g.pixels();
  const int64_t col_size = mul_sat(g.c * g.kvol(), cols), out_size = mul_sat(g.o, cols);
  T* wm = scratch_array<T>(scratch, g.o * g.taps());
  T* col = scratch_array<T>(scratch, mul_sat(cc.slots, col_size));
  T* out = scratch_array<T>(scratch, mul_sat(cc.slots, out_size));
  if (wm == nullptr || col == nullptr || out == nullptr) return fail_alloc(err);
  filters_to_matrix(w, g, wm);
  for_each_chunk(g, cc, [&](int64_t s, int64_t n0, int64_t nb) {
    T* c = col + s * col_size;
    T* o = out + s * out_size;
    const int64_t ld = nb * g.pixels();
    im2col(x, g, n0, nb, c);
    for (int64_t k = 0; k < g.groups; ++k)
      blas_gemm<T>(kNoTrans, kNoTrans, g.og, ld, g.taps(), T(1), wm + k * g.og * g.taps(),
                   g.taps(), c + k * g.taps() * ld, ld, T(0), o + k * g.og * ld, ld);
    image_rows<T, true>(y, g, n0, nb, o);
  });
  return 0;
}

// gx = d conv / d x (and the transposed convolution): per chunk and group,
// gcol_g (taps, nb * pixels) = wm_g^T @ gz_g, scattered back into gx (col2im).
template <class T>
int conv_grad_input(const croton_buffer& w, const croton_buffer& gz, croton_buffer& gx,
                    const ConvParams& p, Scratch& scratch, croton_error* err) {
  const ConvGeometry g = conv_geometry(conv5(gx), conv5(w), conv5(gz), p);
  if (g.n == 0 || g.taps() == 0 || g.pixels() == 0 || g.o == 0) {
    fill_buffer(gx, T(0));
    return 0;
  }
  const ConvChunks cc = conv_chunks(g);
  const int64_t cols = cc.chunk * g.pixels();
  const int64_t col_size = mul_sat(g.c * g.kvol(), cols), gz_size = mul_sat(g.o, cols);
  T* wm = scratch_array<T>(scratch, g.o * g.taps());
  T* gcol = scratch_array<T>(scratch, mul_sat(cc.slots, col_size));
  T* gzm = scratch_array<T>(scratch, mul_sat(cc.slots, gz_size));
  if (wm == nullptr || gcol == nullptr || gzm == nullptr) return fail_alloc(err);
  filters_to_matrix(w, g, wm);
  T* px = static_cast<T*>(gx.data);
  const Conv5 xv = conv5(gx);
  for_each_chunk(g, cc, [&](int64_t s, int64_t n0, int64_t nb) {
    T* c = gcol + s * col_size;
    T* m = gzm + s * gz_size;
    const int64_t ld = nb * g.pixels();
    fill_images<T>(gx, n0, nb);
    image_rows<T, false>(gz, g, n0, nb, m);
    for (int64_t k = 0; k < g.groups; ++k)
      blas_gemm<T>(kTrans, kNoTrans, g.taps(), ld, g.og, T(1), wm + k * g.og * g.taps(),
                   g.taps(), m + k * g.og * ld, ld, T(0), c + k * g.taps() * ld, ld);
    const int64_t st = g.p.st[2] * xv.strides[4];
    conv_columns(xv, g, n0, nb, ld, [&](int64_t dst, int64_t src, int64_t lo, int64_t hi, int64_t) {
      const T* in = c + dst;
      for (int64_t l = lo; l < hi; ++l) px[src + l * st] += in[l];
    });
  });
  return 0;
}

// gw = d conv / d w: per chunk and group, acc_g (og, taps) += gz_g @ col_g^T (one accumulator
// per slot, added in slot order), unflipped into gw.
template <class T>
int conv_grad_filters(const croton_buffer& x, const croton_buffer& gz, croton_buffer& gw,
                      const ConvParams& p, Scratch& scratch, croton_error* err) {
  const ConvGeometry g = conv_geometry(conv5(x), conv5(gw), conv5(gz), p);
  const int64_t size = g.o * g.taps();
  const bool any = g.n > 0 && g.pixels() > 0 && g.taps() > 0 && g.og > 0;
  const ConvChunks cc = any ? conv_chunks(g) : ConvChunks{1, 0, 1};
  const int64_t cols = cc.chunk * g.pixels();
  const int64_t col_size = mul_sat(g.c * g.kvol(), cols), gz_size = mul_sat(g.o, cols);
  T* acc = scratch_array<T>(scratch, mul_sat(cc.slots, size));
  T* col = scratch_array<T>(scratch, mul_sat(cc.slots, col_size));
  T* gzm = scratch_array<T>(scratch, mul_sat(cc.slots, gz_size));
  if (acc == nullptr || col == nullptr || gzm == nullptr) return fail_alloc(err);
  for (int64_t k = 0; k < cc.slots * size; ++k) acc[k] = T(0);
  if (any) {
    for_each_chunk(g, cc, [&](int64_t s, int64_t n0, int64_t nb) {
      T* c = col + s * col_size;
      T* m = gzm + s * gz_size;
      T* a = acc + s * size;
      const int64_t ld = nb * g.pixels();
      im2col(x, g, n0, nb, c);
      image_rows<T, false>(gz, g, n0, nb, m);
      for (int64_t k = 0; k < g.groups; ++k)
        blas_gemm<T>(kNoTrans, kTrans, g.og, g.taps(), ld, T(1), m + k * g.og * ld, ld,
                     c + k * g.taps() * ld, ld, T(1), a + k * g.og * g.taps(), g.taps());
    });
    for (int64_t s = 1; s < cc.slots; ++s)
      for (int64_t k = 0; k < size; ++k) acc[k] += acc[s * size + k];
  }
  const Conv5 w = conv5(gw);
  T* pw = static_cast<T*>(gw.data);
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t c = 0; c < g.cg; ++c)
      for (int64_t a = 0; a < g.k[0]; ++a)
        for (int64_t b = 0; b < g.k[1]; ++b)
          for (int64_t e = 0; e < g.k[2]; ++e)
            pw[o * w.strides[0] + c * w.strides[1] + a * w.strides[2] + b * w.strides[3] +
               e * w.strides[4]] = acc[o * g.taps() + c * g.kvol() + conv_tap(g, a, b, e)];
  return 0;
}

}  // namespace croton

// Compiled once per toolchain into libcroton_kernels (runtime/cpu/kernels_library.cpp,
// build_tools/kernels.py): built with CROTON_PREBUILT_KERNELS, a function's translation
// unit declares these instantiations extern and links them instead of compiling them.
#define CROTON_CONV_INSTANCES(EXTERN, T) \
  EXTERN template int conv_forward<T>(const croton_buffer&, const croton_buffer&, croton_buffer&, const ConvParams&, Scratch&, croton_error*); \
  EXTERN template int conv_grad_input<T>(const croton_buffer&, const croton_buffer&, croton_buffer&, const ConvParams&, Scratch&, croton_error*); \
  EXTERN template int conv_grad_filters<T>(const croton_buffer&, const croton_buffer&, croton_buffer&, const ConvParams&, Scratch&, croton_error*);
#define CROTON_CONV_TYPES(X) X(float) X(double)
#ifdef CROTON_PREBUILT_KERNELS
namespace croton {
#define CROTON_EXTERN_CONV(T) CROTON_CONV_INSTANCES(extern, T)
CROTON_CONV_TYPES(CROTON_EXTERN_CONV)
#undef CROTON_EXTERN_CONV
}  // namespace croton
#endif
