// Convolutions on the CUDA target (Theano's conv2d / conv3d and their gradients, the CPU's
// runtime/cpu/kernels/conv.hpp): zero padding, subsampling, filter dilation, groups and the
// optional filter flip, 2-d run as 3-d of depth 1, buffers of any element strides. The same
// parameters (croton::ConvParams) and geometry (croton::ConvGeometry) as the CPU's.
//
// These are DIRECT kernels, not cuDNN and not an implicit GEMM: correct first, and slower than
// either (no tensor cores; only the forward kernel stages its inputs in shared memory):
//   - forward: a block per tile of output positions and 4 output channels, the input patch
//     and the filter taps in shared memory (conv_forward_tiled_kernel); where they do not fit
//     (large strides, dilations or filters), one thread per output element, the loop over its
//     group's channels and the filter taps inside;
//   - gradient wrt the input: with unit strides and one group, the tiled forward kernel over
//     the output gradient and the flipped, channel-swapped filters; otherwise one thread per
//     input element summing the taps whose subsampled position lands on it;
//   - gradient wrt the filters: one block per pair of output and input channel (and chunk of
//     16 taps), each thread summing every tap over its share of the images and output
//     positions, each tap then combined by the block (reduce.cuh); with too few such pairs to
//     fill the device, one block per filter element. Deterministic, no atomics.
// Every output element is written by one thread in a fixed order: results do not depend on
// the launch geometry.
//
// Example (generated code):
//   if (int rc = croton::cuda::conv_forward<float>(B0, B1, B2, croton::ConvParams{2, {0, 1, 1},
//       {1, 2, 2}, {1, 1, 1}, 1, true}, scratch, err)) return rc;
#pragma once
#include <utility>

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

// The tiled forward convolution: a block computes a tile of th x tw output positions (the last
// two axes) of kTileOut output channels of one image and output depth, each thread kTileOut
// outputs in registers. Per input channel and depth tap, the block stages the input patch the
// tile reads (zeros in the padding) and the tile's filter taps in shared memory; each input
// element is then read from global memory once per tile instead of once per tap. Sums run in
// the direct kernel's order. Used when the patch and the taps fit (conv_tiling), else the
// direct kernel runs.
constexpr int kTileOut = 4;           // output channels per block
constexpr int kTilePatch = 3072;      // input patch elements in shared memory
constexpr int kTileTaps = 1024;       // filter taps (kTileOut x kh x kw) in shared memory

struct ConvTiling {
  int64_t th, tw, ph, pw;  // the tile's output rows and columns, the input patch's
  int64_t tiles_h, tiles_w, out_tiles;  // tiles per image plane, output-channel tiles
  int64_t blocks;  // block work items: images x output depth x channel tiles x plane tiles
};

// The tiling of `g`, or blocks == 0 when its patch or taps do not fit in shared memory.
inline ConvTiling conv_tiling(const ConvGeometry& g) {
  ConvTiling t{};
  t.tw = g.out[2] > 16 ? 32 : g.out[2] > 8 ? 16 : 8;
  t.th = kThreads / t.tw;
  t.ph = (t.th - 1) * g.p.st[1] + (g.k[1] - 1) * g.p.dil[1] + 1;
  t.pw = (t.tw - 1) * g.p.st[2] + (g.k[2] - 1) * g.p.dil[2] + 1;
  if (t.ph * t.pw > kTilePatch || kTileOut * g.k[1] * g.k[2] > kTileTaps) return t;
  t.tiles_h = (g.out[1] + t.th - 1) / t.th;
  t.tiles_w = (g.out[2] + t.tw - 1) / t.tw;
  t.out_tiles = g.groups * ((g.og + kTileOut - 1) / kTileOut);
  t.blocks = g.n * g.out[0] * t.out_tiles * t.tiles_h * t.tiles_w;
  return t;
}

// y = conv(x, w) by tiles: a = x, b = w, out = y; kThreads threads per block.
template <class T>
__global__ void __launch_bounds__(kThreads) conv_forward_tiled_kernel(const ConvArgs<T> c,
                                                                      const ConvTiling t) {
  __shared__ T patch[kTilePatch];
  __shared__ T taps[kTileTaps];
  const ConvGeometry& g = c.g;
  const int64_t ty = threadIdx.x / t.tw, tx = threadIdx.x % t.tw;
  const int64_t per_group = (g.og + kTileOut - 1) / kTileOut, k12 = g.k[1] * g.k[2];
  for (int64_t blk = blockIdx.x; blk < t.blocks; blk += gridDim.x) {  // uniform in the block
    int64_t rest = blk;
    const int64_t bw = rest % t.tiles_w;
    rest /= t.tiles_w;
    const int64_t bh = rest % t.tiles_h;
    rest /= t.tiles_h;
    const int64_t ot = rest % t.out_tiles;
    rest /= t.out_tiles;
    const int64_t i = rest % g.out[0], n = rest / g.out[0];
    const int64_t grp = ot / per_group, o0 = grp * g.og + (ot % per_group) * kTileOut;
    const int64_t o_end = o0 + kTileOut < (grp + 1) * g.og ? o0 + kTileOut : (grp + 1) * g.og;
    const int64_t j = bh * t.th + ty, l = bw * t.tw + tx;  // this thread's output position
    const int64_t r0 = bh * t.th * g.p.st[1] - g.p.pad[1];  // the patch's first input row
    const int64_t q0 = bw * t.tw * g.p.st[2] - g.p.pad[2];  // and column
    T acc[kTileOut];
    for (int k = 0; k < kTileOut; ++k) acc[k] = T(0);
    for (int64_t ch = 0; ch < g.cg; ++ch) {
      const T* x = c.a + n * c.av.strides[0] + (grp * g.cg + ch) * c.av.strides[1];
      for (int64_t ka = 0; ka < g.k[0]; ++ka) {
        const int64_t za = conv_pos(g, 0, i, conv_flip(g, 0, ka));
        if (za < 0 || za >= g.in[0]) continue;  // the same for the whole block
        __syncthreads();  // the previous round's reads are done
        for (int64_t e = threadIdx.x; e < t.ph * t.pw; e += blockDim.x) {
          const int64_t zb = r0 + e / t.pw, ze = q0 + e % t.pw;
          patch[e] = zb >= 0 && zb < g.in[1] && ze >= 0 && ze < g.in[2]
                         ? x[za * c.av.strides[2] + zb * c.av.strides[3] + ze * c.av.strides[4]]
                         : T(0);
        }
        for (int64_t e = threadIdx.x; e < kTileOut * k12; e += blockDim.x) {
          const int64_t o = o0 + e / k12, kb = (e % k12) / g.k[2], ke = e % g.k[2];
          taps[e] = o < o_end ? c.b[o * c.bv.strides[0] + ch * c.bv.strides[1] +
                                    ka * c.bv.strides[2] + kb * c.bv.strides[3] +
                                    ke * c.bv.strides[4]]
                              : T(0);
        }
        __syncthreads();
        for (int64_t kb = 0; kb < g.k[1]; ++kb) {
          const int64_t pr = ty * g.p.st[1] + conv_flip(g, 1, kb) * g.p.dil[1];
          for (int64_t ke = 0; ke < g.k[2]; ++ke) {
            const T v = patch[pr * t.pw + tx * g.p.st[2] + conv_flip(g, 2, ke) * g.p.dil[2]];
            for (int k = 0; k < kTileOut; ++k) acc[k] += taps[k * k12 + kb * g.k[2] + ke] * v;
          }
        }
      }
    }
    if (j < g.out[1] && l < g.out[2])
      for (int k = 0; k < kTileOut && o0 + k < o_end; ++k)
        c.out[n * c.ov.strides[0] + (o0 + k) * c.ov.strides[1] + i * c.ov.strides[2] +
              j * c.ov.strides[3] + l * c.ov.strides[4]] = acc[k];
  }
}

// The output position along `axis` that reads input position `z` through tap `t`
// (z = i * st + t * dil - pad), or -1 when none does.
__device__ __forceinline__ int64_t conv_source(const ConvGeometry& g, int axis, int64_t z,
                                               int64_t t) {
  const int64_t q = z + g.p.pad[axis] - t * g.p.dil[axis];
  if (q < 0 || q % g.p.st[axis] != 0) return -1;
  return q / g.p.st[axis] < g.out[axis] ? q / g.p.st[axis] : -1;
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
        const int64_t i = conv_source(g, 0, za, conv_flip(g, 0, ka));
        if (i < 0) continue;
        for (int64_t kb = 0; kb < g.k[1]; ++kb) {
          const int64_t j = conv_source(g, 1, zb, conv_flip(g, 1, kb));
          if (j < 0) continue;
          for (int64_t ke = 0; ke < g.k[2]; ++ke) {
            const int64_t l = conv_source(g, 2, ze, conv_flip(g, 2, ke));
            if (l < 0) continue;
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

// gw = d conv / d w by filter channels: a = x, b = gz, out = gw; one block per (output channel,
// input channel of its group, chunk of up to kFilterTaps taps), each thread keeping a sum per
// tap, so gz is read once per chunk rather than once per tap. The same sums in the same order
// as conv_grad_filters_kernel (each tap: the threads' strided sums, then the block's).
constexpr int kFilterTaps = 16;

template <class T>
__global__ void __launch_bounds__(kThreads)
    conv_grad_filters_channel_kernel(const ConvArgs<T> c) {
  __shared__ T shared[32];
  // the chunk's taps as the input reads them (flipped, dilated), and their element offsets
  __shared__ int64_t tap[4][kFilterTaps];
  const ConvGeometry& g = c.g;
  const int64_t kv = g.kvol(), chunks = (kv + kFilterTaps - 1) / kFilterTaps;
  const int64_t total = g.o * g.cg * chunks, per = g.n * g.pixels();
  for (int64_t f = blockIdx.x; f < total; f += gridDim.x) {  // the same for the whole block
    const int64_t t0 = (f % chunks) * kFilterTaps, pair = f / chunks;
    const int64_t cw = pair % g.cg, o = pair / g.cg, ch = (o / g.og) * g.cg + cw;
    const int nt = static_cast<int>(kv - t0 < kFilterTaps ? kv - t0 : kFilterTaps);
    __syncthreads();  // the previous item's taps are read
    if (threadIdx.x < unsigned(nt)) {
      const int64_t t = t0 + threadIdx.x;
      const int64_t a = conv_flip(g, 0, t / (g.k[1] * g.k[2])) * g.p.dil[0];
      const int64_t b = conv_flip(g, 1, (t / g.k[2]) % g.k[1]) * g.p.dil[1];
      const int64_t e = conv_flip(g, 2, t % g.k[2]) * g.p.dil[2];
      tap[0][threadIdx.x] = a, tap[1][threadIdx.x] = b, tap[2][threadIdx.x] = e;
      tap[3][threadIdx.x] = a * c.av.strides[2] + b * c.av.strides[3] + e * c.av.strides[4];
    }
    __syncthreads();
    T acc[kFilterTaps];
#pragma unroll
    for (int k = 0; k < kFilterTaps; ++k) acc[k] = T(0);
    for (int64_t q = threadIdx.x; q < per; q += blockDim.x) {
      int64_t r = q;
      const int64_t l = r % g.out[2];
      r /= g.out[2];
      const int64_t j = r % g.out[1];
      r /= g.out[1];
      const int64_t i = r % g.out[0], n = r / g.out[0];
      const T gv = c.b[n * c.bv.strides[0] + o * c.bv.strides[1] + i * c.bv.strides[2] +
                       j * c.bv.strides[3] + l * c.bv.strides[4]];
      // the input position of tap 0 (undilated, unflipped): each tap adds its own offsets
      const int64_t za = conv_pos(g, 0, i, 0), zb = conv_pos(g, 1, j, 0),
                    ze = conv_pos(g, 2, l, 0);
      const T* x = c.a + n * c.av.strides[0] + ch * c.av.strides[1] + za * c.av.strides[2] +
                   zb * c.av.strides[3] + ze * c.av.strides[4];
#pragma unroll
      for (int k = 0; k < kFilterTaps; ++k) {
        if (k >= nt) break;
        if (uint64_t(za + tap[0][k]) >= uint64_t(g.in[0]) ||
            uint64_t(zb + tap[1][k]) >= uint64_t(g.in[1]) ||
            uint64_t(ze + tap[2][k]) >= uint64_t(g.in[2]))
          continue;  // in the padding (a negative position wraps to a large one)
        acc[k] += gv * x[tap[3][k]];
      }
    }
#pragma unroll
    for (int k = 0; k < kFilterTaps; ++k) {
      if (k >= nt) break;  // the same for the whole block
      const T sum = block_reduce(acc[k], T(0), [](T x, T y) { return x + y; }, shared);
      const int64_t t = t0 + k, ka = t / (g.k[1] * g.k[2]), kb = (t / g.k[2]) % g.k[1],
                    ke = t % g.k[2];
      if (threadIdx.x == 0)
        c.out[o * c.ov.strides[0] + cw * c.ov.strides[1] + ka * c.ov.strides[2] +
              kb * c.ov.strides[3] + ke * c.ov.strides[4]] = sum;
    }
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
  const ConvTiling t = conv_tiling(g);
  if (t.blocks > 0)
    CROTON_LAUNCH(conv_forward_tiled_kernel<T>, blocks_for(t.blocks, 1), kThreads)(
        conv_args<T>(x, w, y, g), t);
  else
    CROTON_LAUNCH(conv_forward_kernel<T>, blocks_for(total), kThreads)(
        conv_args<T>(x, w, y, g));
  return check_launch(err, "the convolution kernel");
}

template <class T>
int conv_grad_input(const croton_buffer& w, const croton_buffer& gz, croton_buffer& gx,
                    const ConvParams& p, DeviceScratch&, croton_error* err) {
  const ConvGeometry g = conv_geometry(conv5(gx), conv5(w), conv5(gz), p);
  const int64_t total = g.n * g.c * g.in[0] * g.in[1] * g.in[2];
  if (total == 0) return 0;
  if (p.st[0] == 1 && p.st[1] == 1 && p.st[2] == 1 && p.groups == 1) {
    // unit strides, one group: the forward convolution of gz with the filters' channels
    // swapped (a view), the flip toggled and the complementary padding, tiled when it fits
    ConvParams q = p;
    q.flip = !p.flip;
    for (int d = 0; d < 3; ++d) q.pad[d] = (g.k[d] - 1) * p.dil[d] - p.pad[d];
    Conv5 wt = conv5(w);
    std::swap(wt.shape[0], wt.shape[1]);
    std::swap(wt.strides[0], wt.strides[1]);
    const ConvGeometry gt = conv_geometry(conv5(gz), wt, conv5(gx), q);
    const ConvTiling t = conv_tiling(gt);
    if (t.blocks > 0) {
      const ConvArgs<T> c{static_cast<const T*>(gz.data), static_cast<const T*>(w.data),
                          static_cast<T*>(gx.data), conv5(gz), wt, conv5(gx), gt};
      CROTON_LAUNCH(conv_forward_tiled_kernel<T>, blocks_for(t.blocks, 1), kThreads)(c, t);
      return check_launch(err, "the convolution's input-gradient kernel");
    }
  }
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
  // by filter channels when their blocks are enough to keep the device busy (two per
  // multiprocessor), else a block per filter element
  const int64_t items = g.o * g.cg * ((g.kvol() + kFilterTaps - 1) / kFilterTaps);
  if (items >= resident_blocks() / 4)
    CROTON_LAUNCH(conv_grad_filters_channel_kernel<T>, blocks_for(items, 1), threads)(
        conv_args<T>(x, gz, gw, g));
  else
    CROTON_LAUNCH(conv_grad_filters_kernel<T>, blocks_for(total, 1), threads)(
        conv_args<T>(x, gz, gw, g));
  return check_launch(err, "the convolution's filter-gradient kernel");
}

}  // namespace cuda
}  // namespace croton
