// Unit tests of the CPU runtime headers' scalar semantics (scalar.hpp): Python's integer
// division and modulo, power, maximum/minimum, abs/sign, sigmoid. Memory, counts, layouts and
// errors are in test_runtime_memory.cpp; the CHECK macros in check.hpp. Built and run by the
// top-level CMakeLists.txt (ctest); see runtime/tests/README.md.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <type_traits>

#include "runtime.hpp"

#include "check.hpp"

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// floor_div / py_mod: Python semantics (quotient rounds toward -inf, remainder takes the sign
// of the divisor), integer division by zero gives 0, MIN // -1 wraps to MIN as NumPy does.

// Checks q = floor_div(a, b), r = py_mod(a, b) against the definition, in 128-bit arithmetic:
// q*b + r == a, r == 0 or sign(r) == sign(b), |r| < |b|. These determine q and r uniquely.
template <class T>
void check_int_divmod(T a, T b) {
  const T q = croton::floor_div(a, b);
  const T r = croton::py_mod(a, b);
  const long long la = static_cast<long long>(a), lb = static_cast<long long>(b);
  if (b == 0) {
    CHECK_SAME_AT(q, 0, "%lld // %lld", la, lb);
    CHECK_SAME_AT(r, 0, "%lld %% %lld", la, lb);
    return;
  }
  if constexpr (std::is_signed_v<T>) {
    if (a == std::numeric_limits<T>::min() && b == T(-1)) {
      CHECK_SAME_AT(q, std::numeric_limits<T>::min(), "MIN // -1 wraps (%lld)", la);
      CHECK_SAME_AT(r, 0, "MIN %% -1 (%lld)", la);
      return;
    }
  }
  const __int128 wq = q, wr = r, wa = a, wb = b;
  const bool ok = wq * wb + wr == wa && (wr == 0 || ((wr < 0) == (wb < 0))) &&
                  (wr < 0 ? -wr : wr) < (wb < 0 ? -wb : wb);
  ++g_checks;
  if (!ok) {
    std::fprintf(stderr,
                 "%s:%d: FAILED divmod(%lld, %lld) [%zu-byte %s]: floor_div=%lld py_mod=%lld\n",
                 __FILE__, __LINE__, la, lb, sizeof(T), std::is_signed_v<T> ? "signed" : "unsigned",
                 static_cast<long long>(q), static_cast<long long>(r));
    ++g_failures;
  }
}

template <class T>
void int_divmod_edges() {
  using L = std::numeric_limits<T>;
  const T vals[] = {L::min(), static_cast<T>(L::min() + 1), static_cast<T>(L::min() / 2),
                    static_cast<T>(-7), static_cast<T>(-3), static_cast<T>(-2), static_cast<T>(-1),
                    T(0), T(1), T(2), T(3), T(7), static_cast<T>(L::max() / 2),
                    static_cast<T>(L::max() - 1), L::max()};
  for (T a : vals)
    for (T b : vals) check_int_divmod(a, b);
}

void test_floor_div_py_mod_int() {
  // A few values as Python prints them.
  CHECK_SAME(croton::floor_div<int32_t>(7, 2), 3);
  CHECK_SAME(croton::floor_div<int32_t>(-7, 2), -4);
  CHECK_SAME(croton::floor_div<int32_t>(7, -2), -4);
  CHECK_SAME(croton::floor_div<int32_t>(-7, -2), 3);
  CHECK_SAME(croton::floor_div<int32_t>(-6, 3), -2);
  CHECK_SAME(croton::py_mod<int32_t>(7, 2), 1);
  CHECK_SAME(croton::py_mod<int32_t>(-7, 2), 1);
  CHECK_SAME(croton::py_mod<int32_t>(7, -2), -1);
  CHECK_SAME(croton::py_mod<int32_t>(-7, -2), -1);
  CHECK_SAME(croton::py_mod<int64_t>(-6, 3), 0);
  CHECK_SAME(croton::floor_div<int64_t>(-1, 1000000007), -1);
  CHECK_SAME(croton::py_mod<int64_t>(-1, 1000000007), 1000000006);
  // division by zero gives 0 (NumPy's result, with a warning there)
  CHECK_SAME(croton::floor_div<int32_t>(5, 0), 0);
  CHECK_SAME(croton::floor_div<int64_t>(-5, 0), 0);
  CHECK_SAME(croton::py_mod<int32_t>(5, 0), 0);
  CHECK_SAME(croton::floor_div<uint32_t>(5u, 0u), 0u);
  CHECK_SAME(croton::py_mod<uint8_t>(5, 0), 0);
  // INT_MIN // -1 overflows: NumPy wraps to INT_MIN; it must not trap (SIGFPE) nor be UB
  CHECK_SAME(croton::floor_div<int32_t>(INT32_MIN, -1), INT32_MIN);
  CHECK_SAME(croton::floor_div<int64_t>(INT64_MIN, -1), INT64_MIN);
  CHECK_SAME(croton::floor_div<int8_t>(INT8_MIN, -1), INT8_MIN);
  CHECK_SAME(croton::py_mod<int32_t>(INT32_MIN, -1), 0);
  CHECK_SAME(croton::py_mod<int64_t>(INT64_MIN, -1), 0);
  CHECK_SAME(croton::floor_div<int32_t>(INT32_MIN, 1), INT32_MIN);
  CHECK_SAME(croton::floor_div<int32_t>(INT32_MIN, 2), INT32_MIN / 2);
  CHECK_SAME(croton::py_mod<int32_t>(INT32_MIN, INT32_MAX), INT32_MAX - 1);
  CHECK_SAME(croton::py_mod<int32_t>(INT32_MAX, INT32_MIN), -1);
  // unsigned: plain C division
  CHECK_SAME(croton::floor_div<uint64_t>(UINT64_MAX, 2u), UINT64_MAX / 2);
  CHECK_SAME(croton::py_mod<uint16_t>(65535, 7), 65535 % 7);
  // bool
  CHECK_SAME(croton::floor_div<bool>(true, true), true);
  CHECK_SAME(croton::floor_div<bool>(true, false), false);
  CHECK_SAME(croton::py_mod<bool>(true, true), false);

  // every int8 and uint8 pair against the definition
  for (int a = -128; a <= 127; ++a)
    for (int b = -128; b <= 127; ++b) check_int_divmod<int8_t>(int8_t(a), int8_t(b));
  for (int a = 0; a <= 255; ++a)
    for (int b = 0; b <= 255; ++b) check_int_divmod<uint8_t>(uint8_t(a), uint8_t(b));
  // int16 on a grid, wider types on their edge values
  for (int a = -32768; a <= 32767; a += 97)
    for (int b = -32768; b <= 32767; b += 89) check_int_divmod<int16_t>(int16_t(a), int16_t(b));
  int_divmod_edges<int16_t>();
  int_divmod_edges<int32_t>();
  int_divmod_edges<int64_t>();
  int_divmod_edges<uint32_t>();
  int_divmod_edges<uint64_t>();
}

// (a, b, a // b, a % b) as Python and numpy.floor_divide / numpy.remainder give them (float64).
struct FloatCase {
  double a, b, q, r;
};
#define INF_D kInf
#define NAN_D kNaN
const FloatCase kFloat64Cases[] = {
    {0x1.c000000000000p+2, 0x1.0000000000000p+1, 0x1.8000000000000p+1, 0x1.0000000000000p+0},  // 7.0 // 2.0 = 3.0, % = 1.0
    {-0x1.c000000000000p+2, 0x1.0000000000000p+1, -0x1.0000000000000p+2, 0x1.0000000000000p+0},  // -7.0 // 2.0 = -4.0, % = 1.0
    {0x1.c000000000000p+2, -0x1.0000000000000p+1, -0x1.0000000000000p+2, -0x1.0000000000000p+0},  // 7.0 // -2.0 = -4.0, % = -1.0
    {-0x1.c000000000000p+2, -0x1.0000000000000p+1, 0x1.8000000000000p+1, -0x1.0000000000000p+0},  // -7.0 // -2.0 = 3.0, % = -1.0
    {0x1.0000000000000p+0, 0x1.999999999999ap-4, 0x1.2000000000000p+3, 0x1.9999999999996p-4},  // 1.0 // 0.1 = 9.0, % = 0.09999999999999995
    {-0x1.0000000000000p+0, 0x1.999999999999ap-4, -0x1.4000000000000p+3, 0x1.0000000000000p-54},  // -1.0 // 0.1 = -10.0, % = 5.551115123125783e-17
    {0x0.0p+0, 0x1.8000000000000p+1, 0x0.0p+0, 0x0.0p+0},  // 0.0 // 3.0 = 0.0, % = 0.0
    {-0x0.0p+0, 0x1.8000000000000p+1, -0x0.0p+0, 0x0.0p+0},  // -0.0 // 3.0 = -0.0, % = 0.0
    {0x0.0p+0, -0x1.8000000000000p+1, -0x0.0p+0, -0x0.0p+0},  // 0.0 // -3.0 = -0.0, % = -0.0
    {0x1.4000000000000p+2, 0x1.4000000000000p+2, 0x1.0000000000000p+0, 0x0.0p+0},  // 5.0 // 5.0 = 1.0, % = 0.0
    {-0x1.4000000000000p+2, 0x1.4000000000000p+2, -0x1.0000000000000p+0, 0x0.0p+0},  // -5.0 // 5.0 = -1.0, % = 0.0
    {0x1.4000000000000p+2, -0x1.4000000000000p+2, -0x1.0000000000000p+0, -0x0.0p+0},  // 5.0 // -5.0 = -1.0, % = -0.0
    {0x1.0000000000000p+0, INF_D, 0x0.0p+0, 0x1.0000000000000p+0},  // 1.0 // inf = 0.0, % = 1.0
    {-0x1.0000000000000p+0, INF_D, -0x1.0000000000000p+0, INF_D},  // -1.0 // inf = -1.0, % = inf
    {0x1.0000000000000p+0, -INF_D, -0x1.0000000000000p+0, -INF_D},  // 1.0 // -inf = -1.0, % = -inf
    {0x1.c000000000000p+1, 0x1.4000000000000p+0, 0x1.0000000000000p+1, 0x1.0000000000000p+0},  // 3.5 // 1.25 = 2.0, % = 1.0
    {-0x1.c000000000000p+1, 0x1.4000000000000p+0, -0x1.8000000000000p+1, 0x1.0000000000000p-2},  // -3.5 // 1.25 = -3.0, % = 0.25
    {0x1.7e43c8800759cp+996, 0x1.56e1fc2f8f359p-997, INF_D, 0x1.4f722a6f79f9cp-998},  // 1e+300 // 1e-300 = inf, % = 4.891554850853602e-301
    {0x1.3333333333333p-2, 0x1.999999999999ap-4, 0x1.0000000000000p+1, 0x1.9999999999998p-4},  // 0.3 // 0.1 = 2.0, % = 0.09999999999999998
    {-0x1.3333333333333p-2, 0x1.999999999999ap-4, -0x1.8000000000000p+1, 0x1.0000000000000p-55},  // -0.3 // 0.1 = -3.0, % = 2.7755575615628914e-17
    {0x1.0000000000000p+1, 0x1.0000000000000p-1, 0x1.0000000000000p+2, 0x0.0p+0},  // 2.0 // 0.5 = 4.0, % = 0.0
    {0x0.00000000007e8p-1022, 0x1.8000000000000p+1, 0x0.0p+0, 0x0.00000000007e8p-1022},  // 1e-320 // 3.0 = 0.0, % = 1e-320
    {-0x0.00000000007e8p-1022, 0x1.8000000000000p+1, -0x1.0000000000000p+0, 0x1.8000000000000p+1},  // -1e-320 // 3.0 = -1.0, % = 3.0
    // NumPy only (Python raises ZeroDivisionError): x // 0.0 = x / 0.0, x % 0.0 = nan
    {INF_D, 0x1.0000000000000p+1, NAN_D, NAN_D},  // inf // 2.0 = nan, % = nan
    {0x1.0000000000000p+0, 0x0.0p+0, INF_D, NAN_D},  // 1.0 // 0.0 = inf, % = nan
    {-0x1.0000000000000p+0, 0x0.0p+0, -INF_D, NAN_D},  // -1.0 // 0.0 = -inf, % = nan
    {0x0.0p+0, 0x0.0p+0, NAN_D, NAN_D},  // 0.0 // 0.0 = nan, % = nan
    {NAN_D, 0x1.0000000000000p+0, NAN_D, NAN_D},  // nan // 1.0 = nan, % = nan
    {0x1.0000000000000p+0, NAN_D, NAN_D, NAN_D},  // 1.0 // nan = nan, % = nan
};

struct Float32Case {
  float a, b, q, r;
};
// numpy.float32 floor_divide / remainder
const Float32Case kFloat32Cases[] = {
    {0x1.0000000000000p+0f, 0x1.99999a0000000p-4f, 0x1.2000000000000p+3f, 0x1.9999960000000p-4f},  // 1 // 0.1 = 9, % = 0.09999999
    {-0x1.c000000000000p+2f, 0x1.0000000000000p+1f, -0x1.0000000000000p+2f, 0x1.0000000000000p+0f},  // -7 // 2 = -4, % = 1
    {0x1.c000000000000p+2f, -0x1.0000000000000p+1f, -0x1.0000000000000p+2f, -0x1.0000000000000p+0f},  // 7 // -2 = -4, % = -1
    {0x1.3333340000000p-2f, 0x1.99999a0000000p-4f, 0x1.8000000000000p+1f, 0x1.0000000000000p-27f},  // 0.3 // 0.1 = 3, % = 7.450581e-09
    {-0x0.0p+0f, 0x1.8000000000000p+1f, -0x0.0p+0f, 0x0.0p+0f},  // -0.0 // 3 = -0.0, % = 0.0
    {0x1.4000000000000p+2f, -0x1.4000000000000p+2f, -0x1.0000000000000p+0f, -0x0.0p+0f},  // 5 // -5 = -1, % = -0.0
};

void test_floor_div_py_mod_float() {
  for (const FloatCase& c : kFloat64Cases) {
    CHECK_SAME_AT(croton::floor_div(c.a, c.b), c.q, "%a // %a", c.a, c.b);
    CHECK_SAME_AT(croton::py_mod(c.a, c.b), c.r, "%a %% %a", c.a, c.b);
  }
  for (const Float32Case& c : kFloat32Cases) {
    CHECK_SAME_AT(croton::floor_div(c.a, c.b), c.q, "float32 %a // %a", double(c.a), double(c.b));
    CHECK_SAME_AT(croton::py_mod(c.a, c.b), c.r, "float32 %a %% %a", double(c.a), double(c.b));
  }
  // the divmod identity on a grid of finite values: a == b * (a // b) + a % b (to rounding),
  // and the remainder has the divisor's sign and a smaller magnitude
  for (int i = -40; i <= 40; ++i)
    for (int j = -9; j <= 9; ++j) {
      if (j == 0) continue;
      const double a = i * 0.37, b = j * 0.55;
      const double q = croton::floor_div(a, b), r = croton::py_mod(a, b);
      ++g_checks;
      const bool ok = q == std::floor(q) && std::fabs(b * q + r - a) <= 1e-12 &&
                      (r == 0 || std::signbit(r) == std::signbit(b)) && std::fabs(r) <= std::fabs(b);
      if (!ok) {
        std::fprintf(stderr, "%s:%d: FAILED float divmod identity for %.17g, %.17g: q=%.17g r=%.17g\n",
                     __FILE__, __LINE__, a, b, q, r);
        ++g_failures;
      }
    }
}

// ---------------------------------------------------------------------------------------------
void test_power() {
  CHECK_SAME(croton::power<int64_t>(2, 10), 1024);
  CHECK_SAME(croton::power<int64_t>(3, 0), 1);
  CHECK_SAME(croton::power<int64_t>(0, 0), 1);
  CHECK_SAME(croton::power<int64_t>(0, 5), 0);
  CHECK_SAME(croton::power<int64_t>(-2, 3), -8);
  CHECK_SAME(croton::power<int64_t>(-2, 4), 16);
  CHECK_SAME(croton::power<int32_t>(7, 1), 7);
  // negative exponents: NumPy refuses them; croton gives C's truncated 1/a**|b|: 0 unless |a| == 1
  CHECK_SAME(croton::power<int64_t>(2, -1), 0);
  CHECK_SAME(croton::power<int64_t>(-2, -1), 0);
  CHECK_SAME(croton::power<int64_t>(1, -7), 1);
  CHECK_SAME(croton::power<int64_t>(-1, -3), -1);
  CHECK_SAME(croton::power<int64_t>(-1, -4), 1);
  CHECK_SAME(croton::power<int32_t>(-1, INT32_MIN), 1);
  CHECK_SAME(croton::power<int32_t>(0, -1), 0);
  CHECK_SAME(croton::power<int8_t>(5, -2), 0);
  // overflow wraps, as NumPy's integer power
  CHECK_SAME(croton::power<int64_t>(2, 62), INT64_C(4611686018427387904));
  CHECK_SAME(croton::power<int64_t>(2, 63), INT64_MIN);
  CHECK_SAME(croton::power<int64_t>(2, 64), 0);
  CHECK_SAME(croton::power<int64_t>(3, 40), INT64_C(-6289078614652622815));
  CHECK_SAME(croton::power<int32_t>(-3, 21), -1870418611);
  CHECK_SAME(croton::power<int16_t>(300, 3), -832);
  CHECK_SAME(croton::power<int16_t>(-1, 3), -1);
  CHECK_SAME(croton::power<int16_t>(-7, 5), -16807);
  CHECK_SAME(croton::power<uint16_t>(65535, 2), 1);
  CHECK_SAME(croton::power<uint8_t>(3, 5), 243);
  CHECK_SAME(croton::power<int8_t>(-2, 7), -128);
  CHECK_SAME(croton::power<int8_t>(-128, 1), -128);
  CHECK_SAME(croton::power<uint64_t>(2, 63), UINT64_C(9223372036854775808));
  // every int8 and int16 base to small powers: matches repeated (wrapping) multiplication
  for (int a = -32768; a <= 32767; a += 3)
    for (int e = 0; e <= 17; ++e) {
      uint16_t ref = 1;
      for (int k = 0; k < e; ++k) ref = static_cast<uint16_t>(unsigned(ref) * uint16_t(a));
      CHECK_SAME_AT(croton::power<int16_t>(int16_t(a), int16_t(e)), int16_t(ref), "%d ** %d", a, e);
      CHECK_SAME_AT(croton::power<uint16_t>(uint16_t(a), uint16_t(e)), ref, "%u ** %d (u16)",
                    unsigned(uint16_t(a)), e);
    }
  // bool: a ** b == (a or not b)
  CHECK_SAME(croton::power<bool>(false, false), true);
  CHECK_SAME(croton::power<bool>(false, true), false);
  CHECK_SAME(croton::power<bool>(true, false), true);
  // floats: std::pow
  CHECK_SAME(croton::power(2.0, -1.0), 0.5);
  CHECK_SAME(croton::power(2.0f, 10.0f), 1024.0f);
  CHECK_SAME(croton::power(0.0, 0.0), 1.0);
  CHECK_SAME(croton::power(0.0, -1.0), kInf);
  CHECK(std::isnan(croton::power(-8.0, 1.0 / 3.0)));
}

void test_maximum_minimum() {
  CHECK_SAME(croton::maximum(1.0, 2.0), 2.0);
  CHECK_SAME(croton::maximum(2.0, 1.0), 2.0);
  CHECK_SAME(croton::minimum(1.0, 2.0), 1.0);
  CHECK_SAME(croton::minimum(-kInf, 2.0), -kInf);
  CHECK_SAME(croton::maximum(-kInf, kInf), kInf);
  // NaN in either position propagates (numpy.maximum / minimum), for float and double
  CHECK(std::isnan(croton::maximum(kNaN, 1.0)));
  CHECK(std::isnan(croton::maximum(1.0, kNaN)));
  CHECK(std::isnan(croton::minimum(kNaN, 1.0)));
  CHECK(std::isnan(croton::minimum(1.0, kNaN)));
  CHECK(std::isnan(croton::maximum(kNaN, kNaN)));
  CHECK(std::isnan(croton::maximum(-kInf, kNaN)));
  CHECK(std::isnan(croton::minimum(kInf, kNaN)));
  const float fnan = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isnan(croton::maximum(fnan, 1.0f)));
  CHECK(std::isnan(croton::maximum(1.0f, fnan)));
  CHECK(std::isnan(croton::minimum(fnan, 1.0f)));
  CHECK(std::isnan(croton::minimum(1.0f, fnan)));
  // signed zeros: the first argument wins a tie, as numpy
  CHECK_SAME(croton::maximum(-0.0, 0.0), -0.0);
  CHECK_SAME(croton::minimum(0.0, -0.0), 0.0);
  // integers
  CHECK_SAME(croton::maximum<int32_t>(INT32_MIN, -1), -1);
  CHECK_SAME(croton::minimum<int64_t>(INT64_MIN, INT64_MAX), INT64_MIN);
  CHECK_SAME(croton::maximum<uint8_t>(200, 7), 200);
  CHECK_SAME(croton::maximum<bool>(false, true), true);
  CHECK_SAME(croton::minimum<bool>(false, true), false);
}

void test_absolute_sign() {
  CHECK_SAME(croton::absolute<int32_t>(-5), 5);
  CHECK_SAME(croton::absolute<int8_t>(-128), -128);  // wraps, as numpy.abs
  CHECK_SAME(croton::absolute<int32_t>(INT32_MIN), INT32_MIN);
  CHECK_SAME(croton::absolute<int64_t>(INT64_MIN), INT64_MIN);
  CHECK_SAME(croton::absolute<uint32_t>(7u), 7u);
  CHECK_SAME(croton::absolute(-0.0), 0.0);
  CHECK_SAME(croton::absolute(-kInf), kInf);
  CHECK_SAME(croton::sign(-3.5), -1.0);
  CHECK_SAME(croton::sign(2.0f), 1.0f);
  CHECK_SAME(croton::sign(-0.0), 0.0);  // numpy.sign(-0.0) is 0.0
  CHECK(std::isnan(croton::sign(kNaN)));
  CHECK_SAME(croton::sign<int64_t>(INT64_MIN), -1);
  CHECK_SAME(croton::sign<int32_t>(0), 0);
  CHECK_SAME(croton::sign<uint8_t>(200), 1);
  CHECK_SAME(croton::sign<bool>(true), true);
}

void test_sigmoid() {
  CHECK_SAME(croton::sigmoid(0.0), 0.5);
  CHECK_SAME(croton::sigmoid(0.0f), 0.5f);
  // far tails: finite (no inf / inf), exactly 1 or 0 (or a denormal just above 0)
  for (double x : {1000.0, -1000.0, 710.0, -710.0, 1e308, -1e308, kInf, -kInf}) {
    const double s = croton::sigmoid(x);
    CHECK_SAME_AT(std::isfinite(s), true, "sigmoid(%g) finite", x);
    if (x > 0) CHECK_SAME_AT(s, 1.0, "sigmoid(%g)", x);
    else CHECK_SAME_AT(s >= 0.0 && s < 1e-300, true, "sigmoid(%g) = %g", x, s);
  }
  CHECK_SAME(croton::sigmoid(1000.0), 1.0);
  CHECK_SAME(croton::sigmoid(-1000.0), 0.0);
  for (float x : {1000.0f, -1000.0f, 89.0f, -89.0f, 3e38f, -3e38f}) {
    const float s = croton::sigmoid(x);
    CHECK_SAME_AT(std::isfinite(s), true, "sigmoid(%gf) finite", double(x));
    if (x > 0) CHECK_SAME_AT(s, 1.0f, "sigmoid(%gf)", double(x));
    else CHECK_SAME_AT(s >= 0.0f && s < 1e-37f, true, "sigmoid(%gf) = %g", double(x), double(s));
  }
  CHECK_SAME(croton::sigmoid(1000.0f), 1.0f);
  CHECK_SAME(croton::sigmoid(-1000.0f), 0.0f);
  // accurate in both tails (no 1 - (1 - tiny) cancellation)
  for (double x : {-30.0, -20.0, -5.0, -0.5, 0.5, 5.0}) {
    const double ref = 1.0 / (1.0 + std::exp(-x));
    const double s = croton::sigmoid(x);
    CHECK_SAME_AT(std::fabs(s - ref) <= 1e-15 * ref, true, "sigmoid(%g) = %.17g vs %.17g", x, s, ref);
  }
  CHECK(std::isnan(croton::sigmoid(kNaN)));
}

}  // namespace

int main() {
  test_floor_div_py_mod_int();
  test_floor_div_py_mod_float();
  test_power();
  test_maximum_minimum();
  test_absolute_sign();
  test_sigmoid();
  return finish("test_runtime");
}
