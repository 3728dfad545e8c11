// Tiny check framework of the runtime's C++ unit tests (no test framework): CHECK* count
// failures and print each one; finish() reports and gives main() its exit status.
#pragma once
#include <cmath>
#include <cstdio>
#include <type_traits>

namespace {

int g_failures = 0;
int g_checks = 0;

template <class T>
void show(char* buf, size_t n, T v) {
  if constexpr (std::is_floating_point_v<T>) {
    std::snprintf(buf, n, "%.17g (%a)", static_cast<double>(v), static_cast<double>(v));
  } else if constexpr (std::is_same_v<T, bool>) {
    std::snprintf(buf, n, "%s", v ? "true" : "false");
  } else if constexpr (std::is_signed_v<T>) {
    std::snprintf(buf, n, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, n, "%llu", static_cast<unsigned long long>(v));
  }
}

// Exact sameness: floats must match bit for bit in meaning (NaN == NaN, and -0.0 != +0.0).
template <class T>
bool same(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
    return a == b && std::signbit(a) == std::signbit(b);
  } else {
    return a == b;
  }
}

template <class A, class E>
void check_same(A actual, E expected_in, const char* expr, const char* file, int line,
                const char* context) {
  ++g_checks;
  const A expected = static_cast<A>(expected_in);
  if (same(actual, expected)) return;
  char a[96], e[96];
  show(a, sizeof a, actual);
  show(e, sizeof e, expected);
  std::fprintf(stderr, "%s:%d: FAILED %s%s%s\n    got      %s\n    expected %s\n", file, line,
               expr, context[0] ? "  [" : "", context[0] ? context : "", a, e);
  if (context[0]) std::fprintf(stderr, "    ]\n");
  ++g_failures;
}

}  // namespace

#define CHECK(cond)                                                                   \
  do {                                                                                \
    ++g_checks;                                                                       \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: FAILED CHECK(%s)\n", __FILE__, __LINE__, #cond);   \
      ++g_failures;                                                                   \
    }                                                                                 \
  } while (0)
#define CHECK_SAME(actual, expected) \
  check_same((actual), (expected), #actual " == " #expected, __FILE__, __LINE__, "")
// With a printf-style context, for checks inside loops.
#define CHECK_SAME_AT(actual, expected, ...)                                              \
  do {                                                                                    \
    char ctx_[160];                                                                       \
    std::snprintf(ctx_, sizeof ctx_, __VA_ARGS__);                                        \
    check_same((actual), (expected), #actual " == " #expected, __FILE__, __LINE__, ctx_); \
  } while (0)

namespace {

// main()'s exit status: 1 (and the count) if any check failed.
inline int finish(const char* name) {
  if (g_failures != 0) {
    std::fprintf(stderr, "%s: %d of %d checks FAILED\n", name, g_failures, g_checks);
    return 1;
  }
  std::printf("%s: all %d checks passed\n", name, g_checks);
  return 0;
}

}  // namespace
