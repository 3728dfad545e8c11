// Unit tests of croton::matmul (runtime/cpu/blas.hpp): every combination of operand layouts
// (row- and column-major, padded, strided, reversed, stride 0 or junk strides on length-1
// dimensions, broadcast rows) for float, double (OpenBLAS) and int32, int64, bool (the plain
// loop), checked exactly against a naive product. Operands hold small integers so every float
// sum is exact. Each view lives in its own exact-size malloc block, so AddressSanitizer builds
// (CROTON_SANITIZE=ON) catch any read or write outside it; writes outside the output view but
// inside its block are caught by a sentinel check.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <type_traits>

#include "runtime.hpp"

namespace {

int g_failures = 0;
int g_checks = 0;

enum Layout {
  kC,        // row-major
  kF,        // column-major (a transposed view)
  kPadC,     // row-major, rows padded
  kPadF,     // column-major, columns padded
  kStrided,  // every other element
  kNegRow,   // rows reversed (negative row stride): needs a copy before BLAS
  kNegCol,   // columns reversed
  kNegBoth,  // column-major, both reversed
  kZero1,    // row-major, but stride 0 on length-1 dims (how dot() passes vectors)
  kJunk1,    // row-major, but huge strides on length-1 dims (never used to step)
  kBcastRow,  // stride 0 along rows: every row the same (numpy.broadcast_to); inputs only
  kBcastCol,  // stride 0 along columns; inputs only
  kNumLayouts
};
const char* const kLayoutName[] = {"C",      "F",      "padC",  "padF",  "strided",  "negrow",
                                   "negcol", "negboth", "zero1", "junk1", "bcastrow", "bcastcol"};

void strides_for(Layout layout, int64_t rows, int64_t cols, int64_t* rs, int64_t* cs) {
  switch (layout) {
    case kC: *rs = cols; *cs = 1; break;
    case kF: *rs = 1; *cs = rows; break;
    case kPadC: *rs = cols + 3; *cs = 1; break;
    case kPadF: *rs = 1; *cs = rows + 2; break;
    case kStrided: *rs = 2 * cols + 1; *cs = 2; break;
    case kNegRow: *rs = -cols; *cs = 1; break;
    case kNegCol: *rs = cols; *cs = -1; break;
    case kNegBoth: *rs = -1; *cs = -rows; break;
    case kZero1:
      *rs = rows == 1 ? 0 : cols;
      *cs = cols == 1 ? 0 : 1;
      break;
    case kJunk1:
      *rs = rows == 1 ? 12345 : cols;
      *cs = cols == 1 ? -777 : 1;
      break;
    case kBcastRow: *rs = 0; *cs = 1; break;
    case kBcastCol: *rs = 1; *cs = 0; break;
    default: *rs = cols; *cs = 1; break;
  }
}

// A strided view of its own malloc block, exactly as large as the view needs.
template <class T>
struct View {
  T* block = nullptr;
  int64_t size = 0;  // elements in the block
  croton::Mat<T> m{};
  View() = default;
  View(const View&) = delete;
  View& operator=(const View&) = delete;
  ~View() { std::free(block); }

  void make(Layout layout, int64_t rows, int64_t cols) {
    int64_t rs, cs;
    strides_for(layout, rows, cols, &rs, &cs);
    int64_t lo = 0, hi = 0;
    if (rows > 0 && cols > 0) {
      lo = (rs < 0 ? (rows - 1) * rs : 0) + (cs < 0 ? (cols - 1) * cs : 0);
      hi = (rs > 0 ? (rows - 1) * rs : 0) + (cs > 0 ? (cols - 1) * cs : 0);
    }
    size = hi - lo + 1;
    block = static_cast<T*>(std::malloc(sizeof(T) * size_t(size)));
    m = croton::Mat<T>{block - lo, rows, cols, rs, cs};
  }
  T& at(int64_t i, int64_t j) const { return m.data[i * m.rs + j * m.cs]; }
};

template <class T>
T value_at(int64_t t, int seed) {
  const int64_t v = (t * 5 + seed) % 7 - 3;  // -3..3
  if constexpr (std::is_same_v<T, bool>) {
    return v > 0;
  } else {
    return static_cast<T>(v);
  }
}

template <class T>
T sentinel() {
  if constexpr (std::is_same_v<T, bool>) {
    return true;
  } else {
    return static_cast<T>(77);
  }
}

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, float>) return "float";
  if constexpr (std::is_same_v<T, double>) return "double";
  if constexpr (std::is_same_v<T, int32_t>) return "int32";
  if constexpr (std::is_same_v<T, int64_t>) return "int64";
  return "bool";
}

template <class T>
void run_case(int64_t m, int64_t k, int64_t n, Layout la, Layout lb, Layout lc) {
  View<T> a, b, c;
  a.make(la, m, k);
  b.make(lb, k, n);
  c.make(lc, m, n);
  for (int64_t t = 0; t < a.size; ++t) a.block[t] = value_at<T>(t, 1);
  for (int64_t t = 0; t < b.size; ++t) b.block[t] = value_at<T>(t, 4);
  for (int64_t t = 0; t < c.size; ++t) c.block[t] = sentinel<T>();
  // the naive product, before the call (so an aliasing bug cannot hide)
  T* expected = static_cast<T*>(std::malloc(sizeof(T) * size_t(m * n > 0 ? m * n : 1)));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if constexpr (std::is_same_v<T, bool>) {
        bool acc = false;
        for (int64_t p = 0; p < k; ++p) acc = acc || (a.at(i, p) && b.at(p, j));
        expected[i * n + j] = acc;
      } else {
        long long acc = 0;
        for (int64_t p = 0; p < k; ++p)
          acc += static_cast<long long>(a.at(i, p)) * static_cast<long long>(b.at(p, j));
        expected[i * n + j] = static_cast<T>(acc);
      }
    }
  // every element of c's block that is not in the view must keep its sentinel
  unsigned char* in_view = static_cast<unsigned char*>(std::calloc(size_t(c.size), 1));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) in_view[&c.at(i, j) - c.block] = 1;

  croton::matmul<T>(a.m, b.m, c.m);

  int bad = 0;
  for (int64_t i = 0; i < m && bad < 3; ++i)
    for (int64_t j = 0; j < n && bad < 3; ++j) {
      ++g_checks;
      if (!(c.at(i, j) == expected[i * n + j])) {
        std::fprintf(stderr,
                     "FAILED matmul<%s> m=%" PRId64 " k=%" PRId64 " n=%" PRId64
                     " a=%s b=%s c=%s: c[%" PRId64 ",%" PRId64 "] = %g, expected %g\n",
                     type_name<T>(), m, k, n, kLayoutName[la], kLayoutName[lb], kLayoutName[lc],
                     i, j, double(c.at(i, j)), double(expected[i * n + j]));
        ++bad;
      }
    }
  for (int64_t t = 0; t < c.size && bad < 3; ++t) {
    if (in_view[t]) continue;
    ++g_checks;
    if (!(c.block[t] == sentinel<T>())) {
      std::fprintf(stderr,
                   "FAILED matmul<%s> m=%" PRId64 " k=%" PRId64 " n=%" PRId64
                   " a=%s b=%s c=%s: wrote element %" PRId64 " of c's block outside the view\n",
                   type_name<T>(), m, k, n, kLayoutName[la], kLayoutName[lb], kLayoutName[lc], t);
      ++bad;
    }
  }
  for (int64_t t = 0; t < a.size && bad < 3; ++t) {
    ++g_checks;
    if (!(a.block[t] == value_at<T>(t, 1))) {
      std::fprintf(stderr, "FAILED matmul<%s> a=%s: modified its input a\n", type_name<T>(),
                   kLayoutName[la]);
      ++bad;
    }
  }
  g_failures += bad;
  std::free(in_view);
  std::free(expected);
}

struct Shape {
  int64_t m, k, n;
};
const Shape kShapes[] = {
    {1, 1, 1}, {2, 3, 4}, {4, 3, 2}, {1, 4, 3}, {3, 4, 1}, {1, 5, 1}, {5, 1, 4}, {3, 2, 5},
    {6, 6, 6},
    // empty products: nothing to write, or (k == 0) all zeros as numpy.dot gives
    {0, 3, 2}, {2, 3, 0}, {3, 0, 2}, {1, 0, 1}, {1, 0, 4}, {4, 0, 1},
};

template <class T>
void test_all_layouts() {
  for (const Shape& s : kShapes)
    for (int la = 0; la < kNumLayouts; ++la)
      for (int lb = 0; lb < kNumLayouts; ++lb)
        for (int lc = 0; lc < kBcastRow; ++lc)  // outputs cannot be broadcast views
          run_case<T>(s.m, s.k, s.n, Layout(la), Layout(lb), Layout(lc));
  // big enough for OpenBLAS's real kernels (and its threads, where enabled)
  for (int la : {kC, kF, kNegRow})
    for (int lb : {kC, kF, kStrided})
      for (int lc : {kC, kF, kPadC}) run_case<T>(67, 33, 129, Layout(la), Layout(lb), Layout(lc));
  // big enough to be split across croton's OpenMP threads (runtime/cpu/blas.hpp): by blocks of
  // columns, by rows (few columns), and the one-column / one-row products that become gemv
  const Shape split[] = {{130, 70, 150}, {1100, 40, 30}, {5000, 30, 1}, {1, 30, 5000}};
  for (const Shape& s : split)
    for (int la : {kC, kF})
      for (int lb : {kC, kF, kStrided})
        for (int lc : {kC, kF}) run_case<T>(s.m, s.k, s.n, Layout(la), Layout(lb), Layout(lc));
}

}  // namespace

int main() {
  test_all_layouts<float>();
  test_all_layouts<double>();
  test_all_layouts<int32_t>();
  test_all_layouts<int64_t>();
  test_all_layouts<bool>();
  if (g_failures != 0) {
    std::fprintf(stderr, "test_blas: %d of %d checks FAILED\n", g_failures, g_checks);
    return 1;
  }
  std::printf("test_blas: all %d checks passed\n", g_checks);
  return 0;
}
