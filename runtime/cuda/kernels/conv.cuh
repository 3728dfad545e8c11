// Convolutions on the CUDA target (Theano's conv2d / conv3d and their gradients, the CPU's
// runtime/cpu/kernels/conv.hpp): zero padding, subsampling, filter dilation, groups and the
// optional filter flip, 2-d run as 3-d of depth 1, buffers of any element strides. The same
// parameters (croton::ConvParams) and geometry (croton::ConvGeometry) as the CPU's.
//
// These are DIRECT kernels, not cuDNN and not an implicit GEMM: correct first, and slower than
// either (no shared-memory tiles, every thread reads its inputs from global memory):
//   - forward: one thread per output element, the loop over its group's channels and the
//     filter taps inside;
//   - gradient wrt the input: one thread per input element, the convolution of the output
//     gradient with the flipped filters (the taps whose subsampled position lands on it);
//   - gradient wrt the filters: one block per filter element, its threads reducing over the
//     images and output positions, combined by the block (reduce.cuh): deterministic, no
//     atomics.
// Every output element is written by one thread in a fixed order: results do not depend on
// the launch geometry.
//
// Example (generated code):
//   if (int rc = croton::cuda::conv_forward<float>(B0, B1, B2, croton::ConvParams{2, {0, 1, 1},
//       {1, 2, 2}, {1, 1, 1}, 1, true}, scratch, err)) return rc;
#pragma once
#pragma nv_diag_suppress 1675
#include "kernels/conv.hpp"  // the CPU's: ConvParams, Conv5, ConvGeometry
#pragma nv_diag_default 1675

namespace croton {
namespace cuda {

// One convolution's arrays and geometry, passed to a kernel by value. `a` is the array read
// per image (the input, or for the input's gradient the output gradient), `b` the other read
// array, `out` the written one; each as a (n, c, d, h, w) view.
template <class T>
struct ConvArgs {
  const T* a;
  const T* b;
  T* out;
  Conv5 av, bv, ov;
  ConvGeometry g;
};

// The input position along one axis of output position `i` and filter tap `t` (unflipped).
__device__ __forceinline__ int64_t conv_pos(const ConvGeometry& g, int axis, int64_t i,
                                            int64_t t) {
  return i * g.p.st[axis] + t * g.p.dil[axis] - g.p.pad[axis];
}

// The input tap filter element `k` along `axis` multiplies (reversed when flipping).
__device__ __forceinline__ int64_t conv_flip(const ConvGeometry& g, int axis, int64_t k) {
  return g.p.flip ? g.k[axis] - 1 - k : k;
}

// y = conv(x, w): a = x, b = w, out = y; one thread per element of y.
template <class T>
__global__ void __launch_bounds__(kThreads) conv_forward_kernel(const ConvArgs<T> c) {
  const ConvGeometry& g = c.g;
  const int64_t total = g.n * g.o * g.pixels();
  for (int64_t idx = global_index(); idx < total; idx += grid_stride()) {
    int64_t rest = idx;
    const int64_t l = rest % g.out[2];
    rest /= g.out[2];
    const int64_t j = rest % g.out[1];
    rest /= g.out[1];
    const int64_t i = rest % g.out[0];
    rest /= g.out[0];
    const int64_t o = rest % g.o, n = rest / g.o;
    const int64_t c0 = (o / g.og) * g.cg;  // the group's first input channel
    T acc = T(0);
    for (int64_t ch = 0; ch < g.cg; ++ch) {
      const T* x = c.a + n * c.av.strides[0] + (c0 + ch) * c.av.strides[1];
      const T* w = c.b + o * c.bv.strides[0] + ch * c.bv.strides[1];
      for (int64_t ka = 0; ka < g.k[0]; ++ka) {
        const int64_t za = conv_pos(g, 0, i, conv_flip(g, 0, ka));
        if (za < 0 || za >= g.in[0]) continue;
        for (int64_t kb = 0; kb < g.k[1]; ++kb) {
          const int64_t zb = conv_pos(g, 1, j, conv_flip(g, 1, kb));
          if (zb < 0 || zb >= g.in[1]) continue;
          for (int64_t ke = 0; ke < g.k[2]; ++ke) {
            const int64_t ze = conv_pos(g, 2, l, conv_flip(g, 2, ke));
            if (ze < 0 || ze >= g.in[2]) continue;
            acc += w[ka * c.bv.strides[2] + kb * c.bv.strides[3] + ke * c.bv.strides[4]] *
                   x[za * c.av.strides[2] + zb * c.av.strides[3] + ze * c.av.strides[4]];
          }
        }
      }
    }
    c.out[n * c.ov.strides[0] + o * c.ov.strides[1] + i * c.ov.strides[2] +
          j * c.ov.strides[3] + l * c.ov.strides[4]] = acc;
  }
}

// The output positions [*lo, *hi) along `axis` that read input position `z` through tap `t`
// (z = i * st + t * dil - pad), as a range of one element or none.
__device__ __forceinline__ bool conv_source(const ConvGeometry& g, int axis, int64_t z,
                                            int64_t t, int64_t* i) {
  const int64_t q = z + g.p.pad[axis] - t * g.p.dil[axis];
  if (q < 0 || q % g.p.st[axis] != 0) return false;
  *i = q / g.p.st[axis];
  return *i < g.out[axis];
}

// gx = d conv / d x: a = gz, b = w, out = gx; one thread per element of gx, summing over the
// group's output channels and the taps that read it.
template <class T>
__global__ void __launch_bounds__(kThreads) conv_grad_input_kernel(const ConvArgs<T> c) {
  const ConvGeometry& g = c.g;
  const int64_t total = g.n * g.c * g.in[0] * g.in[1] * g.in[2];
  for (int64_t idx = global_index(); idx < total; idx += grid_stride()) {
    int64_t rest = idx;
    const int64_t ze = rest % g.in[2];
    rest /= g.in[2];
    const int64_t zb = rest % g.in[1];
    rest /= g.in[1];
    const int64_t za = rest % g.in[0];
    rest /= g.in[0];
    const int64_t ch = rest % g.c, n = rest / g.c;
    const int64_t grp = ch / g.cg, cw = ch % g.cg;  // the group, the filters' channel
    T acc = T(0);
    for (int64_t o = grp * g.og; o < (grp + 1) * g.og; ++o) {
      const T* gz = c.a + n * c.av.strides[0] + o * c.av.strides[1];
      const T* w = c.b + o * c.bv.strides[0] + cw * c.bv.strides[1];
      for (int64_t ka = 0; ka < g.k[0]; ++ka) {
        int64_t i, j, l;
        if (!conv_source(g, 0, za, conv_flip(g, 0, ka), &i)) continue;
        for (int64_t kb = 0; kb < g.k[1]; ++kb) {
          if (!conv_source(g, 1, zb, conv_flip(g, 1, kb), &j)) continue;
          for (int64_t ke = 0; ke < g.k[2]; ++ke) {
            if (!conv_source(g, 2, ze, conv_flip(g, 2, ke), &l)) continue;
            acc += w[ka * c.bv.strides[2] + kb * c.bv.strides[3] + ke * c.bv.strides[4]] *
                   gz[i * c.av.strides[2] + j * c.av.strides[3] + l * c.av.strides[4]];
          }
        }
      }
    }
    c.out[n * c.ov.strides[0] + ch * c.ov.strides[1] + za * c.ov.strides[2] +
          zb * c.ov.strides[3] + ze * c.ov.strides[4]] = acc;
  }
}

// gw = d conv / d w: a = x, b = gz, out = gw; one block per filter element (grid-stride over
// them), its threads summing gz * x over the images and output positions in a fixed order, then
// combined by the block.
template <class T>
__global__ void conv_grad_filters_kernel(const ConvArgs<T> c) {
  __shared__ T shared[32];
  const ConvGeometry& g = c.g;
  const int64_t total = g.o * g.cg * g.kvol(), per = g.n * g.pixels();
  for (int64_t f = blockIdx.x; f < total; f += gridDim.x) {  // the same for the whole block
    int64_t rest = f;
    const int64_t ke = rest % g.k[2];
    rest /= g.k[2];
    const int64_t kb = rest % g.k[1];
    rest /= g.k[1];
    const int64_t ka = rest % g.k[0];
    rest /= g.k[0];
    const int64_t cw = rest % g.cg, o = rest / g.cg;
    const int64_t ch = (o / g.og) * g.cg + cw;
    const int64_t ta = conv_flip(g, 0, ka), tb = conv_flip(g, 1, kb), te = conv_flip(g, 2, ke);
    T acc = T(0);
    for (int64_t q = threadIdx.x; q < per; q += blockDim.x) {
      int64_t r = q;
      const int64_t l = r % g.out[2];
      r /= g.out[2];
      const int64_t j = r % g.out[1];
      r /= g.out[1];
      const int64_t i = r % g.out[0], n = r / g.out[0];
      const int64_t za = conv_pos(g, 0, i, ta), zb = conv_pos(g, 1, j, tb),
                    ze = conv_pos(g, 2, l, te);
      if (za < 0 || za >= g.in[0] || zb < 0 || zb >= g.in[1] || ze < 0 || ze >= g.in[2])
        continue;
      acc += c.b[n * c.bv.strides[0] + o * c.bv.strides[1] + i * c.bv.strides[2] +
                 j * c.bv.strides[3] + l * c.bv.strides[4]] *
             c.a[n * c.av.strides[0] + ch * c.av.strides[1] + za * c.av.strides[2] +
                 zb * c.av.strides[3] + ze * c.av.strides[4]];
    }
    acc = block_reduce(acc, T(0), [](T x, T y) { return x + y; }, shared);
    if (threadIdx.x == 0)
      c.out[o * c.ov.strides[0] + cw * c.ov.strides[1] + ka * c.ov.strides[2] +
            kb * c.ov.strides[3] + ke * c.ov.strides[4]] = acc;
  }
}

template <class T>
ConvArgs<T> conv_args(const croton_buffer& a, const croton_buffer& b, croton_buffer& out,
                      const ConvGeometry& g) {
  return {static_cast<const T*>(a.data), static_cast<const T*>(b.data),
          static_cast<T*>(out.data), conv5(a), conv5(b), conv5(out), g};
}

// The host launchers: the generated code has checked the shapes (codegen/lowering/conv.py).
template <class T>
int conv_forward(const croton_buffer& x, const croton_buffer& w, croton_buffer& y,
                 const ConvParams& p, DeviceScratch&, croton_error* err) {
  const ConvGeometry g = conv_geometry(conv5(x), conv5(w), conv5(y), p);
  const int64_t total = g.n * g.o * g.pixels();
  if (total == 0) return 0;
  CROTON_LAUNCH(conv_forward_kernel<T>, blocks_for(total), kThreads)(conv_args<T>(x, w, y, g));
  return check_launch(err, "the convolution kernel");
}

template <class T>
int conv_grad_input(const croton_buffer& w, const croton_buffer& gz, croton_buffer& gx,
                    const ConvParams& p, DeviceScratch&, croton_error* err) {
  const ConvGeometry g = conv_geometry(conv5(gx), conv5(w), conv5(gz), p);
  const int64_t total = g.n * g.c * g.in[0] * g.in[1] * g.in[2];
  if (total == 0) return 0;
  CROTON_LAUNCH(conv_grad_input_kernel<T>, blocks_for(total), kThreads)(
      conv_args<T>(gz, w, gx, g));
  return check_launch(err, "the convolution's input-gradient kernel");
}

template <class T>
int conv_grad_filters(const croton_buffer& x, const croton_buffer& gz, croton_buffer& gw,
                      const ConvParams& p, DeviceScratch&, croton_error* err) {
  const ConvGeometry g = conv_geometry(conv5(x), conv5(gw), conv5(gz), p);
  const int64_t total = g.o * g.cg * g.kvol();
  if (total == 0) return 0;
  const int threads = reduce_threads(g.n * g.pixels());
  CROTON_LAUNCH(conv_grad_filters_kernel<T>, blocks_for(total, 1), threads)(
      conv_args<T>(x, gz, gw, g));
  return check_launch(err, "the convolution's filter-gradient kernel");
}

}  // namespace cuda
}  // namespace croton
