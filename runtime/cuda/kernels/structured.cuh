// argmax/argmin and cumulative sums/products on the device (codegen/lowering/cuda_indexing.py;
// the CPU's are in runtime/cpu/kernels/reduce.hpp, with the same results): a thread per output
// element of argmax/argmin, a thread per line along the axis of a cumulative op (the flat walk
// of cumsum(axis=None) is one thread: a serial scan). Any strides.
//
// Example (generated code):
//   if (int rc = croton::cuda::arg_reduce<float, true>(err, B0, B1, 1, kept, 1, red)) return rc;
#pragma once
#include <cstdint>

namespace croton {
namespace cuda {

// Shapes and strides of a reduction's kept and reduced axes, passed by value.
struct ArgAxes {
  int32_t nkept = 0, nred = 0;
  int64_t kshape[CROTON_MAX_NDIM] = {}, kstr[CROTON_MAX_NDIM] = {}, ostr[CROTON_MAX_NDIM] = {};
  int64_t rshape[CROTON_MAX_NDIM] = {}, rstr[CROTON_MAX_NDIM] = {};
};

template <class T>
__device__ __forceinline__ bool is_nan_value(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return v != v;
  } else {
    (void)v;
    return false;
  }
}

// The offset of C-order position `e` over `shape` with `strides`.
__device__ __forceinline__ int64_t offset_at(int64_t e, int32_t nd, const int64_t* shape,
                                             const int64_t* strides) {
  int64_t off = 0;
  for (int32_t d = nd - 1; d >= 0; --d) {
    off += (e % shape[d]) * strides[d];
    e /= shape[d];
  }
  return off;
}

template <class T, bool IsMax>
__global__ void arg_reduce_kernel(const T* x, int64_t* out, ArgAxes a, int64_t nout,
                                  int64_t nr) {
  for (int64_t e = global_index(); e < nout; e += grid_stride()) {
    const T* base = x + offset_at(e, a.nkept, a.kshape, a.kstr);
    T best = base[0];
    bool best_nan = is_nan_value(best);
    int64_t best_i = 0;
    for (int64_t n = 1; n < nr && !best_nan; ++n) {
      const T v = base[offset_at(n, a.nred, a.rshape, a.rstr)];
      if (is_nan_value(v)) {
        best_i = n;
        best_nan = true;
      } else if (IsMax ? (best < v) : (v < best)) {
        best = v;
        best_i = n;
      }
    }
    out[offset_at(e, a.nkept, a.kshape, a.ostr)] = best_i;
  }
}

// out[kept...] = the index (in the C-order flattening of the `red` axes) of the first maximum
// (IsMax) or minimum; a NaN wins, as in NumPy. Reduced extents are nonzero (checked before).
template <class T, bool IsMax>
int arg_reduce(croton_error* err, const croton_buffer& x, const croton_buffer& out,
               int32_t nkept, const int32_t* kept, int32_t nred, const int32_t* red) {
  ArgAxes a;
  a.nkept = nkept;
  a.nred = nred;
  int64_t nout = 1, nr = 1;
  for (int32_t k = 0; k < nkept; ++k) {
    a.kshape[k] = x.shape[kept[k]];
    a.kstr[k] = x.strides[kept[k]];
    a.ostr[k] = out.strides[k];
    nout *= a.kshape[k];
  }
  for (int32_t r = 0; r < nred; ++r) {
    a.rshape[r] = x.shape[red[r]];
    a.rstr[r] = x.strides[red[r]];
    nr *= a.rshape[r];
  }
  if (nout == 0 || nr == 0) return 0;
  auto* const kernel = arg_reduce_kernel<T, IsMax>;  // a name with commas: not a macro argument
  CROTON_LAUNCH(kernel, blocks_for(nout), kThreads)(
      static_cast<const T*>(x.data), static_cast<int64_t*>(out.data), a, nout, nr);
  return check_launch(err, IsMax ? "the argmax kernel" : "the argmin kernel");
}

// Shapes and strides of a cumulative op's input and output, passed by value.
struct CumAxes {
  int32_t xnd = 0, ond = 0;
  int64_t xshape[CROTON_MAX_NDIM] = {}, xstr[CROTON_MAX_NDIM] = {};
  int64_t oshape[CROTON_MAX_NDIM] = {}, ostr[CROTON_MAX_NDIM] = {};
};

template <class TI, class TO, bool IsProd>
__global__ void cumulate_kernel(const TI* x, TO* out, CumAxes c, int32_t axis, bool reverse,
                                int64_t lines, int64_t len) {
  const TO identity = IsProd ? TO(1) : TO(0);
  for (int64_t e = global_index(); e < lines; e += grid_stride()) {
    TO acc = identity;
    if (axis < 0) {  // the C-order walk of x into the C-order walk of out, one thread
      for (int64_t k = 0; k < len; ++k) {
        const int64_t f = reverse ? len - 1 - k : k;
        const TO v = static_cast<TO>(x[offset_at(f, c.xnd, c.xshape, c.xstr)]);
        acc = IsProd ? static_cast<TO>(acc * v) : static_cast<TO>(acc + v);
        out[offset_at(f, c.ond, c.oshape, c.ostr)] = acc;
      }
      continue;
    }
    int64_t xo = 0, oo = 0, rest = e;
    for (int32_t d = c.xnd - 1; d >= 0; --d) {
      if (d == axis) continue;
      const int64_t p = rest % c.xshape[d];
      rest /= c.xshape[d];
      xo += p * c.xstr[d];
      oo += p * c.ostr[d];
    }
    for (int64_t k = 0; k < len; ++k) {
      const int64_t i = reverse ? len - 1 - k : k;
      const TO v = static_cast<TO>(x[xo + i * c.xstr[axis]]);
      acc = IsProd ? static_cast<TO>(acc * v) : static_cast<TO>(acc + v);
      out[oo + i * c.ostr[axis]] = acc;
    }
  }
}

// Running sum (IsProd false) or product of x along `axis` into out, from the end when
// `reverse`; axis < 0: x's C-order walk written into out's C-order walk (reduce.hpp's cumulate).
template <class TI, class TO, bool IsProd>
int cumulate(croton_error* err, const croton_buffer& x, const croton_buffer& out, int32_t axis,
             bool reverse) {
  CumAxes c;
  c.xnd = x.ndim;
  c.ond = out.ndim;
  int64_t n = 1;
  for (int32_t d = 0; d < x.ndim; ++d) {
    c.xshape[d] = x.shape[d];
    c.xstr[d] = x.strides[d];
    n *= x.shape[d];
  }
  for (int32_t d = 0; d < out.ndim; ++d) {
    c.oshape[d] = out.shape[d];
    c.ostr[d] = out.strides[d];
  }
  if (n == 0) return 0;
  const int64_t len = axis < 0 ? n : x.shape[axis];
  const int64_t lines = axis < 0 ? 1 : n / len;
  auto* const kernel = cumulate_kernel<TI, TO, IsProd>;  // a name with commas: not a macro argument
  CROTON_LAUNCH(kernel, blocks_for(lines), kThreads)(
      static_cast<const TI*>(x.data), static_cast<TO*>(out.data), c, axis, reverse, lines, len);
  return check_launch(err, IsProd ? "the cumprod kernel" : "the cumsum kernel");
}

}  // namespace cuda
}  // namespace croton
