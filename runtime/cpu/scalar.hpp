// Scalar helpers used by the op table's C++ expressions (croton/ops/*.py). No loops here:
// the generated kernels call these per element. <complex> costs 0.4 s of parsing per
// translation unit, so it is included only by functions that use complex dtypes.
#pragma once
#ifdef CROTON_NEED_COMPLEX
#include <complex>
#endif
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "special.hpp"

// CROTON_HD marks a helper that device code may call too (runtime/cuda compiles these headers
// with nvcc); for a C++ compiler it is nothing.
#ifndef CROTON_HD
#ifdef __CUDACC__
#define CROTON_HD __host__ __device__
#else
#define CROTON_HD
#endif
#endif

namespace croton {

template <class T>
struct is_complex : std::false_type {};
#ifdef CROTON_NEED_COMPLEX
template <class F>
struct is_complex<std::complex<F>> : std::true_type {};
#endif

// Python/NumPy floor division: rounds toward -inf; integer division by zero gives 0.
template <class T>
CROTON_HD inline T floor_div(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_same_v<T, bool>) {
      return b ? a : false;
    } else {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        // a // -1 is -a, negated in unsigned arithmetic: INT_MIN // -1 wraps to INT_MIN (as
        // NumPy) without the overflow trap of INT_MIN / -1 or the UB of -INT_MIN
        using U = std::make_unsigned_t<T>;
        if (b == T(-1)) return static_cast<T>(U(0) - static_cast<U>(a));
        T q = static_cast<T>(a / b);
        if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
        return q;
      } else {
        return static_cast<T>(a / b);
      }
    }
  } else {
    // CPython's float floor division (numpy.floor_divide computes the same): floor(a / b)
    // alone is wrong when a / b rounds up to an integer, e.g. 1.0 // 0.1 == 9.0, not 10.0.
    if (b == T(0)) return a / b;
    const T mod = std::fmod(a, b);
    T div = (a - mod) / b;
    if (mod != T(0) && ((b < T(0)) != (mod < T(0)))) div -= T(1);
    if (div == T(0)) return std::copysign(T(0), a / b);
    T q = std::floor(div);
    if (div - q > T(0.5)) q += T(1);
    return q;
  }
}

// Python/NumPy modulo: the result takes the sign of the divisor; x % 0 is 0 for integers.
template <class T>
CROTON_HD inline T py_mod(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_same_v<T, bool>) {
      return false;
    } else {
      if (b == 0) return T(0);
      if constexpr (std::is_signed_v<T>) {
        if (b == T(-1)) return T(0);
        T r = static_cast<T>(a % b);
        if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
        return r;
      } else {
        return static_cast<T>(a % b);
      }
    }
  } else {
    T r = std::fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    if (r == 0) r = std::copysign(T(0), b);
    return r;
  }
}

template <class T>
CROTON_HD inline T power(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if constexpr (std::is_same_v<T, bool>) {
      return a || !b;
    } else {
      if constexpr (std::is_signed_v<T>) {
        if (b < 0) return a == 1 ? T(1) : (a == -1 ? ((b % 2) ? T(-1) : T(1)) : T(0));
      }
      // Wrapping multiplication in unsigned arithmetic at least as wide as `unsigned`
      // (uint16_t * uint16_t would promote to int and could overflow it).
      using U = std::make_unsigned_t<T>;
      using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
      W result = 1, base = static_cast<U>(a);
      auto e = static_cast<U>(b);
      while (e) {
        if (e & 1) result = static_cast<U>(result * base);
        base = static_cast<U>(base * base);
        e = static_cast<U>(e >> 1);
      }
      return static_cast<T>(static_cast<U>(result));
    }
  } else {
    return std::pow(a, b);
  }
}

// NaN-propagating maximum/minimum, as numpy.maximum/minimum.
template <class T>
CROTON_HD inline T maximum(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return a;
    if (b != b) return b;
  }
  return a < b ? b : a;
}

template <class T>
CROTON_HD inline T minimum(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return a;
    if (b != b) return b;
  }
  return b < a ? b : a;
}

template <class T>
CROTON_HD inline T absolute(T a) {
  if constexpr (std::is_unsigned_v<T> || std::is_same_v<T, bool>) {
    return a;
  } else if constexpr (std::is_integral_v<T>) {
    // negated in unsigned arithmetic: abs(INT_MIN) wraps to INT_MIN (as NumPy), no UB
    using U = std::make_unsigned_t<T>;
    return a < 0 ? static_cast<T>(U(0) - static_cast<U>(a)) : a;
  } else {
    return std::abs(a);
  }
}

template <class T>
CROTON_HD inline T sign(T a) {
  if constexpr (std::is_same_v<T, bool>) {
    return a;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (a != a) return a;
    return static_cast<T>((T(0) < a) - (a < T(0)));
  } else if constexpr (std::is_unsigned_v<T>) {
    return static_cast<T>(a != 0);
  } else {
    return static_cast<T>((T(0) < a) - (a < T(0)));
  }
}

// Logistic sigmoid, stable for large |x| (no overflow to inf/inf).
template <class T>
CROTON_HD inline T sigmoid(T x) {
  if (x >= T(0)) {
    return T(1) / (T(1) + std::exp(-x));
  }
  T e = std::exp(x);
  return e / (T(1) + e);
}

// a * b; on bools a logical and (bool * bool draws -Wint-in-bool-context); integers wrap as
// NumPy's, multiplied in unsigned arithmetic at least as wide as `unsigned` (no signed
// overflow, and no uint16 * uint16 promoted to an overflowing int).
template <class T>
CROTON_HD inline T multiply(T a, T b) {
  if constexpr (std::is_same_v<T, bool>) {
    return a && b;
  } else if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    using W = std::conditional_t<(sizeof(U) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(static_cast<U>(static_cast<W>(static_cast<U>(a)) *
                                         static_cast<W>(static_cast<U>(b))));
  } else {
    return a * b;
  }
}

// numpy.round: half to even (the default rounding mode of the FPU), and C's round.
template <class T>
CROTON_HD inline T round_half_even(T x) {
  return std::nearbyint(x);
}

template <class T>
CROTON_HD inline T round_half_away(T x) {
  return std::round(x);
}

// Stable log(1 + exp(x)): no overflow for large x, full precision for very negative x.
template <class T>
CROTON_HD inline T softplus(T x) {
  if (x != x) return x;
  return std::log1p(std::exp(-std::fabs(x))) + (x > T(0) ? x : T(0));
}

// numpy.clip(x, lo, hi) == minimum(maximum(x, lo), hi), NaN-propagating.
template <class T>
CROTON_HD inline T clip(T x, T lo, T hi) {
  return minimum(maximum(x, lo), hi);
}

// Logical on bools, bitwise on integers.
template <class T>
CROTON_HD inline T invert(T a) {
  if constexpr (std::is_same_v<T, bool>) {
    return !a;
  } else {
    return static_cast<T>(~a);
  }
}

template <class T>
CROTON_HD inline bool is_nan([[maybe_unused]] T a) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(a);
  } else {
    return false;
  }
}

template <class T>
CROTON_HD inline bool is_inf([[maybe_unused]] T a) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isinf(a);
  } else {
    return false;
  }
}

// Conversion as numpy.astype; from complex to a real type keeps the real part.
template <class To, class From>
CROTON_HD inline To convert(From x) {
  return static_cast<To>(x);
}

// Real-valued versions of numpy.real/imag/conj/angle (complex overloads below).
template <class T>
CROTON_HD inline T real_part(T a) {
  return a;
}

template <class T>
CROTON_HD inline T imag_part(T) {
  return T(0);
}

template <class T>
CROTON_HD inline T conjugate(T a) {
  return a;
}

template <class T>
CROTON_HD inline T angle(T a) {
  return std::atan2(T(0), a);
}

#ifdef CROTON_NEED_COMPLEX
template <class To, class F>
CROTON_HD inline To convert(std::complex<F> x) {
  if constexpr (is_complex<To>::value) {
    return To(x);
  } else if constexpr (std::is_same_v<To, bool>) {
    return x.real() != F(0) || x.imag() != F(0);
  } else {
    return static_cast<To>(x.real());
  }
}

template <class F>
CROTON_HD inline F absolute(std::complex<F> a) {
  return std::abs(a);
}

template <class F>
CROTON_HD inline F real_part(std::complex<F> a) {
  return a.real();
}

template <class F>
CROTON_HD inline F imag_part(std::complex<F> a) {
  return a.imag();
}

template <class F>
CROTON_HD inline std::complex<F> conjugate(std::complex<F> a) {
  return std::conj(a);
}

template <class F>
CROTON_HD inline F angle(std::complex<F> a) {
  return std::arg(a);
}

template <class F>
CROTON_HD inline bool is_nan(std::complex<F> a) {
  return std::isnan(a.real()) || std::isnan(a.imag());
}

template <class F>
CROTON_HD inline bool is_inf(std::complex<F> a) {
  return std::isinf(a.real()) || std::isinf(a.imag());
}
#endif

}  // namespace croton
