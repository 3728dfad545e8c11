// Special functions the C++ standard library lacks: erfinv, digamma (psi) and trigamma.
// Each computes in double (float arguments are widened and the result rounded back), accurate
// to about 1e-15 relative away from the zeros of the function (digamma's positive root
// x0 = 1.4616..., where the error is absolute, ~1e-15). Poles and domain edges follow
// scipy.special: erfinv(+-1) = +-inf, |y| > 1 is NaN; psi(+0) = -inf, psi(-0) = +inf, psi at a
// negative integer is NaN; trigamma at a non-positive integer or -inf is +inf (as scipy).
#pragma once
#include <cmath>
#include <limits>

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
namespace detail {

constexpr double kPi = 3.14159265358979323846;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;

// Giles (2010), "Approximating the erfinv function": ~1e-7 relative, refined below.
CROTON_HD inline double erfinv_guess(double y) {
  double w = -std::log((1.0 - y) * (1.0 + y));
  double p;
  if (w < 5.0) {
    w -= 2.5;
    p = 2.81022636e-08;
    p = 3.43273939e-07 + p * w;
    p = -3.5233877e-06 + p * w;
    p = -4.39150654e-06 + p * w;
    p = 0.00021858087 + p * w;
    p = -0.00125372503 + p * w;
    p = -0.00417768164 + p * w;
    p = 0.246640727 + p * w;
    p = 1.50140941 + p * w;
  } else {
    w = std::sqrt(w) - 3.0;
    p = -0.000200214257;
    p = 0.000100950558 + p * w;
    p = 0.00134934322 + p * w;
    p = -0.00367342844 + p * w;
    p = 0.00573950773 + p * w;
    p = -0.0076224613 + p * w;
    p = 0.00943887047 + p * w;
    p = 1.00167406 + p * w;
    p = 2.83297682 + p * w;
  }
  return p * y;
}

CROTON_HD inline double erfinv_d(double y) {
  if (std::isnan(y) || y < -1.0 || y > 1.0) return std::numeric_limits<double>::quiet_NaN();
  if (y == 1.0) return std::numeric_limits<double>::infinity();
  if (y == -1.0) return -std::numeric_limits<double>::infinity();
  if (y == 0.0) return y;
  const double a = std::fabs(y);
  double x = erfinv_guess(a);
  if (a < 0.5) {
    // Halley steps on erf(x) = a (f'' = -2 x f'); the guess is good to ~1e-7 here
    for (int it = 0; it < 3; ++it) {
      const double u = (std::erf(x) - a) / (kTwoOverSqrtPi * std::exp(-x * x));
      x -= u / (1.0 + x * u);
    }
  } else {
    // Newton on log(erfc(x)) = log(1 - a): 1 - a is exact, erfc keeps full relative precision
    // in the tail, and the log form is nearly linear in x there, so a poor guess still converges
    const double log_q = std::log(1.0 - a);
    for (int it = 0; it < 12; ++it) {
      const double e = std::erfc(x);
      const double step = (std::log(e) - log_q) * e / (-kTwoOverSqrtPi * std::exp(-x * x));
      x -= step;
      if (std::fabs(step) <= 1e-16 * x) break;
    }
  }
  return y < 0 ? -x : x;
}

// tan(pi * x) and sin(pi * x) with the argument reduced exactly: x - nearbyint(x) is exact.
CROTON_HD inline double pi_frac(double x) { return kPi * (x - std::nearbyint(x)); }

CROTON_HD inline double digamma_d(double x) {
  if (std::isnan(x)) return x;
  if (x == 0.0) return std::signbit(x) ? std::numeric_limits<double>::infinity()
                                       : -std::numeric_limits<double>::infinity();
  if (std::isinf(x)) return x > 0 ? x : std::numeric_limits<double>::quiet_NaN();
  double result = 0.0;
  if (x < 0.0) {
    if (x == std::floor(x)) return std::numeric_limits<double>::quiet_NaN();
    // reflection: psi(x) = psi(1 - x) - pi / tan(pi x); tan(pi x) has period 1
    result = -kPi / std::tan(pi_frac(x));
    x = 1.0 - x;
  }
  while (x < 10.0) {  // recurrence: psi(x) = psi(x + 1) - 1 / x
    result -= 1.0 / x;
    x += 1.0;
  }
  // asymptotic series: ln x - 1/(2x) - sum B_2k / (2k x^2k)
  const double z = 1.0 / (x * x);
  const double series =
      z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132 -
      z * (691.0 / 32760 - z * (1.0 / 12)))))));
  return result + std::log(x) - 0.5 / x - series;
}

CROTON_HD inline double trigamma_d(double x) {
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return x > 0 ? 0.0 : std::numeric_limits<double>::infinity();
  if (x <= 0.0 && x == std::floor(x)) return std::numeric_limits<double>::infinity();
  double result = 0.0;
  double sign = 1.0;
  if (x < 0.0) {
    // reflection: psi1(x) = pi^2 / sin^2(pi x) - psi1(1 - x)
    const double s = std::sin(pi_frac(x));
    result = kPi * kPi / (s * s);
    sign = -1.0;
    x = 1.0 - x;
  }
  double acc = 0.0;
  while (x < 10.0) {  // recurrence: psi1(x) = psi1(x + 1) + 1 / x^2
    acc += 1.0 / (x * x);
    x += 1.0;
  }
  // asymptotic series: 1/x + 1/(2x^2) + sum B_2k / x^(2k+1)
  const double z = 1.0 / (x * x);
  const double series =
      z * (1.0 / 6 - z * (1.0 / 30 - z * (1.0 / 42 - z * (1.0 / 30 - z * (5.0 / 66 -
      z * (691.0 / 2730 - z * (7.0 / 6)))))));
  acc += 1.0 / x + 0.5 * z + series / x;
  return result + sign * acc;
}

}  // namespace detail

template <class T>
CROTON_HD inline T erfinv(T y) {
  return static_cast<T>(detail::erfinv_d(static_cast<double>(y)));
}

// std::lgamma, except lgamma(-inf) = -inf as scipy.special.gammaln.
template <class T>
CROTON_HD inline T log_gamma(T x) {
  if (std::isinf(x) && x < T(0)) return x;
  return std::lgamma(x);
}

template <class T>
CROTON_HD inline T digamma(T x) {
  return static_cast<T>(detail::digamma_d(static_cast<double>(x)));
}

template <class T>
CROTON_HD inline T trigamma(T x) {
  return static_cast<T>(detail::trigamma_d(static_cast<double>(x)));
}

}  // namespace croton
