// Vector variants of libm's transcendental functions, so loops over exp/log/tanh/... vectorize
// into glibc's libmvec calls (8 floats per AVX2 call, 16 with AVX-512) with IEEE semantics kept.
// glibc declares these only under __FAST_MATH__; declaring them here with the same
// `__simd__("notinbranch")` attribute lets g++ use them while NaN, Inf and errno-free IEEE
// semantics stay as in NumPy (libmvec is accurate to 4 ulp and handles special values).
// Define CROTON_NO_SIMD_MATH to turn this off (then no libmvec is needed at link time).
#pragma once
#include <math.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    !defined(CROTON_NO_SIMD_MATH) && !defined(__FAST_MATH__) && !defined(__CUDACC__)
#define CROTON_SIMD_MATH 1
#define CROTON_SIMD __attribute__((__simd__("notinbranch")))
extern "C" {
// glibc >= 2.22
CROTON_SIMD float expf(float) noexcept;
CROTON_SIMD double exp(double) noexcept;
CROTON_SIMD float logf(float) noexcept;
CROTON_SIMD double log(double) noexcept;
CROTON_SIMD float sinf(float) noexcept;
CROTON_SIMD double sin(double) noexcept;
CROTON_SIMD float cosf(float) noexcept;
CROTON_SIMD double cos(double) noexcept;
CROTON_SIMD float powf(float, float) noexcept;
CROTON_SIMD double pow(double, double) noexcept;
#if __GLIBC_PREREQ(2, 35)
CROTON_SIMD float tanhf(float) noexcept;
CROTON_SIMD double tanh(double) noexcept;
CROTON_SIMD float expm1f(float) noexcept;
CROTON_SIMD double expm1(double) noexcept;
CROTON_SIMD float log1pf(float) noexcept;
CROTON_SIMD double log1p(double) noexcept;
CROTON_SIMD float exp2f(float) noexcept;
CROTON_SIMD double exp2(double) noexcept;
CROTON_SIMD float log2f(float) noexcept;
CROTON_SIMD double log2(double) noexcept;
CROTON_SIMD float log10f(float) noexcept;
CROTON_SIMD double log10(double) noexcept;
CROTON_SIMD float tanf(float) noexcept;
CROTON_SIMD double tan(double) noexcept;
CROTON_SIMD float sinhf(float) noexcept;
CROTON_SIMD double sinh(double) noexcept;
CROTON_SIMD float coshf(float) noexcept;
CROTON_SIMD double cosh(double) noexcept;
CROTON_SIMD float asinf(float) noexcept;
CROTON_SIMD double asin(double) noexcept;
CROTON_SIMD float acosf(float) noexcept;
CROTON_SIMD double acos(double) noexcept;
CROTON_SIMD float atanf(float) noexcept;
CROTON_SIMD double atan(double) noexcept;
CROTON_SIMD float asinhf(float) noexcept;
CROTON_SIMD double asinh(double) noexcept;
CROTON_SIMD float acoshf(float) noexcept;
CROTON_SIMD double acosh(double) noexcept;
CROTON_SIMD float atanhf(float) noexcept;
CROTON_SIMD double atanh(double) noexcept;
CROTON_SIMD float erff(float) noexcept;
CROTON_SIMD double erf(double) noexcept;
CROTON_SIMD float erfcf(float) noexcept;
CROTON_SIMD double erfc(double) noexcept;
CROTON_SIMD float atan2f(float, float) noexcept;
CROTON_SIMD double atan2(double, double) noexcept;
#endif
}
#undef CROTON_SIMD
#endif
