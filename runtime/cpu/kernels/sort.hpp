// Sorting along one axis (Theano's sort / argsort): each line along `axis` is copied to scratch,
// sorted there (NaNs last, as NumPy), and written out. argsort is stable (ties keep their order).
// Buffers may have any element strides.
//
// Example (generated code):
//   if (int rc = croton::sort_along<double, double, false>(B0, B1, 1, scratch, err)) return rc;
#pragma once
#include <algorithm>

#include "../runtime.hpp"

namespace croton {

// NumPy's order: every NaN after every number (also the CUDA target's: cuda/kernels/sort.cuh).
template <class T>
CROTON_HD inline bool sort_less(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) return a < b || (a == a && b != b);
  else return a < b;
}

// out = sort(x, axis) (kArg false, O = T) or argsort(x, axis) (kArg true, O = int64_t).
template <class T, class O, bool kArg>
int sort_along(const croton_buffer& x, croton_buffer& out, int32_t axis, Scratch& scratch,
               croton_error* err) {
  const int64_t len = x.shape[axis];
  int64_t count = 1;
  int64_t outer[CROTON_MAX_NDIM];
  for (int32_t d = 0; d < x.ndim; ++d) {
    outer[d] = d == axis ? 1 : x.shape[d];
    count *= outer[d];
  }
  if (count == 0 || len == 0) return 0;
  T* vals = static_cast<T*>(scratch.alloc(len * int64_t(sizeof(T))));
  int64_t* order = static_cast<int64_t*>(scratch.alloc(len * int64_t(sizeof(int64_t))));
  if (vals == nullptr || order == nullptr) return fail_alloc(err);
  const T* px = static_cast<const T*>(x.data);
  O* po = static_cast<O*>(out.data);
  const int64_t xs = x.strides[axis], os = out.strides[axis];
  int64_t idx[CROTON_MAX_NDIM] = {0};
  for (int64_t line = 0; line < count; ++line) {
    int64_t xo = 0, oo = 0;
    for (int32_t d = 0; d < x.ndim; ++d) xo += idx[d] * x.strides[d], oo += idx[d] * out.strides[d];
    for (int64_t k = 0; k < len; ++k) vals[k] = px[xo + k * xs];
    if constexpr (kArg) {
      for (int64_t k = 0; k < len; ++k) order[k] = k;
      std::stable_sort(order, order + len,
                       [&](int64_t a, int64_t b) { return sort_less(vals[a], vals[b]); });
      for (int64_t k = 0; k < len; ++k) po[oo + k * os] = static_cast<O>(order[k]);
    } else {
      std::sort(vals, vals + len, [](const T& a, const T& b) { return sort_less(a, b); });
      for (int64_t k = 0; k < len; ++k) po[oo + k * os] = static_cast<O>(vals[k]);
    }
    for (int32_t d = x.ndim - 1; d >= 0; --d) {
      if (++idx[d] < outer[d]) break;
      idx[d] = 0;
    }
  }
  return 0;
}

}  // namespace croton

// Compiled once per toolchain into libcroton_kernels (runtime/cpu/kernels_library.cpp,
// build_tools/kernels.py): built with CROTON_PREBUILT_KERNELS, a function's translation
// unit declares these instantiations extern and links them instead of compiling them.
#define CROTON_SORT_INSTANCES(EXTERN, T) \
  EXTERN template int sort_along<T, T, false>(const croton_buffer&, croton_buffer&, int32_t, Scratch&, croton_error*); \
  EXTERN template int sort_along<T, int64_t, true>(const croton_buffer&, croton_buffer&, int32_t, Scratch&, croton_error*);
#define CROTON_SORT_TYPES(X) X(float) X(double)
#ifdef CROTON_PREBUILT_KERNELS
namespace croton {
#define CROTON_EXTERN_SORT(T) CROTON_SORT_INSTANCES(extern, T)
CROTON_SORT_TYPES(CROTON_EXTERN_SORT)
#undef CROTON_EXTERN_SORT
}  // namespace croton
#endif
