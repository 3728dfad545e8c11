// The emulation's CUDA half type (tests/cuda_emu/cuda_runtime.h: device memory is host memory):
// __half over the host compiler's _Float16, with the conversions of CUDA's cuda_fp16.h that the
// CUDA target uses (to and from the arithmetic types; no half arithmetic: croton computes
// float16 in float32).
#pragma once
#include <type_traits>

struct __half {
  _Float16 v;
  __half() = default;
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  __half(T x) : v(static_cast<_Float16>(static_cast<float>(x))) {}
  operator float() const { return static_cast<float>(v); }
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, float>>>
  explicit operator T() const {
    return static_cast<T>(static_cast<float>(v));
  }
};
