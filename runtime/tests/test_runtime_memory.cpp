// Unit tests of the CPU runtime's memory and bookkeeping (runtime.hpp, kernels/shape.hpp):
// Scratch blocks and their reuse between calls, checked element and byte counts (sizes that
// overflow), layout helpers, and the error reporting of the C ABI. The CHECK macros are in
// check.hpp. Built and run by the top-level CMakeLists.txt (ctest).
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <type_traits>

#include "runtime.hpp"
#include "kernels/shape.hpp"

#include "check.hpp"

namespace {


void test_scratch() {
  croton::Scratch scratch;
  const int64_t sizes[] = {0, 1, 3, 7, 63, 64, 65, 100, 1000, 4096, 100000};
  void* blocks[sizeof sizes / sizeof sizes[0]];
  int k = 0;
  for (int64_t bytes : sizes) {
    void* p = scratch.alloc(bytes);
    blocks[k++] = p;
    CHECK_SAME_AT(p != nullptr, true, "alloc(%" PRId64 ")", bytes);
    if (p == nullptr) continue;
    CHECK_SAME_AT(reinterpret_cast<uintptr_t>(p) % 64, 0u, "alignment of alloc(%" PRId64 ")", bytes);
    // the whole block is usable (AddressSanitizer flags any overflow here)
    std::memset(p, 0xA5, static_cast<size_t>(bytes > 0 ? bytes : 1));
  }
  // earlier blocks are intact after later allocations
  for (int i = 0; i < k; ++i) {
    const int64_t n = sizes[i] > 0 ? sizes[i] : 1;
    const unsigned char* p = static_cast<const unsigned char*>(blocks[i]);
    bool intact = true;
    for (int64_t j = 0; j < n; ++j) intact = intact && p[j] == 0xA5;
    CHECK_SAME_AT(intact, true, "block %d (%" PRId64 " bytes) intact", i, sizes[i]);
  }
  // an empty Scratch destructs cleanly; many blocks are all freed (LeakSanitizer checks)
  { croton::Scratch empty; }
  {
    croton::Scratch many;
    for (int i = 0; i < 1000; ++i) CHECK(many.alloc(i * 8) != nullptr);
  }
}

// A rewound Scratch hands out the same blocks in the same order: the steady state of a function
// (same shapes every call) allocates nothing; a request larger than its block replaces it.
void test_scratch_is_kept_between_calls() {
  croton::Scratch scratch;
  uint64_t stats[2] = {0, 0};
  const int64_t first[] = {100, 5000, 64};
  void* p[3];
  scratch.rewind(stats);
  for (int i = 0; i < 3; ++i) p[i] = scratch.alloc(first[i]);
  CHECK_SAME_AT(stats[0], uint64_t(3), "blocks after the first call");
  CHECK_SAME_AT(stats[1], uint64_t(5164), "bytes after the first call");
  scratch.rewind(stats);
  for (int i = 0; i < 3; ++i) CHECK_SAME_AT(scratch.alloc(first[i]) == p[i], true, "block %d reused", i);
  CHECK_SAME_AT(stats[0], uint64_t(3), "no block allocated by a same-shape call");
  scratch.rewind(stats);
  CHECK(scratch.alloc(50) == p[0]);  // smaller: fits
  void* grown = scratch.alloc(6000);  // larger: replaced
  CHECK(grown != nullptr && reinterpret_cast<uintptr_t>(grown) % 64 == 0);
  std::memset(grown, 0x5A, 6000);  // the whole grown block is usable (ASan checks)
  CHECK(scratch.alloc(10) == p[2]);
  CHECK(scratch.alloc(10) != nullptr);  // one more than before: appended
  CHECK_SAME_AT(stats[0], uint64_t(5), "blocks after growing one and adding one");
  scratch.rewind(nullptr);  // not counted
  CHECK(scratch.alloc(1) == p[0]);
  CHECK_SAME_AT(stats[0], uint64_t(5), "uncounted call");
  // a call re-entering the same function on this thread gets a private Scratch
  croton::Scratch kept;
  {
    croton::ScratchLease outer(kept, nullptr);
    CHECK(&outer.get() == &kept && kept.busy);
    {
      croton::ScratchLease inner(kept, nullptr);
      CHECK(&inner.get() != &kept);
      CHECK(inner.get().alloc(128) != nullptr);  // freed with the inner lease (LSan checks)
    }
    CHECK(kept.busy);
  }
  CHECK(!kept.busy);
}

// Element and byte counts never wrap (issue 12: zeros((2**31, 2**31)) wrote past its block):
// numel and mul_sat saturate, array_bytes refuses what no array may hold, and the scratch
// allocator returns nullptr for such a size instead of asking malloc for it.
void test_checked_counts() {
  const int64_t big = int64_t(1) << 32, half = int64_t(1) << 31;
  const int64_t square[] = {big, big}, wraps[] = {half, half}, fits[] = {3, 4, 5};
  const int64_t with_zero[] = {big, big, big, 0};
  CHECK_SAME(croton::numel(2, square), croton::kTooMany);  // 2**64 wrapped to 0 before
  CHECK_SAME(croton::numel(2, wraps), int64_t(1) << 62);
  CHECK_SAME(croton::numel(3, fits), int64_t(60));
  CHECK_SAME(croton::numel(4, with_zero), int64_t(0));  // empty, however large the others
  CHECK_SAME(croton::numel(0, fits), int64_t(1));
  CHECK_SAME(croton::array_bytes(2, wraps, 8), int64_t(-1));  // 2**65 bytes wrapped to 0 before
  CHECK_SAME(croton::array_bytes(2, square, 1), int64_t(-1));
  CHECK_SAME(croton::array_bytes(3, fits, 8), int64_t(480));
  CHECK_SAME(croton::mul_sat(int64_t(1) << 40, int64_t(1) << 30), croton::kTooMany);
  CHECK_SAME(croton::mul_sat(int64_t(1) << 40, int64_t(8)), int64_t(1) << 43);
  croton::Scratch scratch;
  CHECK(scratch.alloc(croton::kTooMany) == nullptr);
  CHECK(scratch.alloc(croton::kMaxBytes + 1) == nullptr);
  CHECK(scratch.alloc(64) != nullptr);  // still usable
  croton_buffer b{};
  b.ndim = 2;
  b.dtype = CROTON_FLOAT64;
  b.shape[0] = half;
  b.shape[1] = half;
  croton_error err{};
  CHECK_SAME(croton::alloc_scratch(scratch, &b, 8, &err), int(CROTON_ERR_TOO_BIG));
  CHECK_SAME(err.ndim_a, 2);
  CHECK_SAME(err.shape_a[1], half);
  b.shape[0] = 3;
  b.shape[1] = 2;
  CHECK_SAME(croton::alloc_scratch(scratch, &b, 8, &err), 0);
  CHECK(b.data != nullptr && b.strides[0] == 2 && b.strides[1] == 1);
  // shapes computed from values: a reshape whose product wraps to the input's size, repeat
  // counts whose sum wraps, an arange whose span overflows int64
  int64_t dims[] = {(int64_t(1) << 62) + 1, 4};
  CHECK(!croton::infer_reshape(4, dims, 2));  // (2**62 + 1) * 4 wrapped to 4 before
  int64_t counts[] = {int64_t(1) << 62, int64_t(1) << 62, int64_t(1) << 62, int64_t(1) << 62};
  croton_buffer reps{};
  reps.data = counts;
  reps.ndim = 1;
  reps.dtype = CROTON_INT64;
  reps.shape[0] = 4;
  reps.strides[0] = 1;
  CHECK_SAME(croton::value_repeat_total(reps, 4), croton::kTooMany);  // wrapped to 0 before
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  CHECK_SAME(croton::arange_length<int64_t>(lo, hi, 1), croton::kTooMany);
  CHECK_SAME(croton::arange_length<int64_t>(lo, hi, int64_t(1) << 62), int64_t(4));
  CHECK_SAME(croton::arange_length<int64_t>(hi, lo, 1), int64_t(0));
  CHECK_SAME(croton::arange_length<int64_t>(10, -3, -4), int64_t(4));
  CHECK_SAME(croton::arange_length<double>(0.0, 1.0, 1e-300), croton::kTooMany);
  CHECK_SAME(croton::arange_length<double>(0.0, std::nan(""), 1.0), int64_t(0));
}

croton_buffer make_buffer(int32_t ndim, const int64_t* shape, const int64_t* strides) {
  croton_buffer b{};
  b.ndim = ndim;
  b.dtype = CROTON_FLOAT64;
  for (int32_t d = 0; d < ndim; ++d) {
    b.shape[d] = shape[d];
    b.strides[d] = strides[d];
  }
  return b;
}

void test_layout_helpers() {
  {  // contiguous_strides, numel, set_buffer
    const int64_t shape[] = {2, 3, 4};
    int64_t strides[3];
    croton::contiguous_strides(3, shape, strides);
    CHECK_SAME(strides[0], 12);
    CHECK_SAME(strides[1], 4);
    CHECK_SAME(strides[2], 1);
    CHECK_SAME(croton::numel(3, shape), 24);
    CHECK_SAME(croton::numel(0, shape), 1);
    croton_buffer b{};
    double data[24];
    croton::set_buffer(&b, data, CROTON_FLOAT64, 3, shape);
    CHECK(b.data == data);
    CHECK_SAME(b.ndim, 3);
    CHECK_SAME(b.dtype, CROTON_FLOAT64);
    CHECK_SAME(b.shape[1], 3);
    CHECK_SAME(b.strides[0], 12);
    CHECK(croton::is_contiguous(b));
    const int64_t zero[] = {2, 0, 3};
    croton::contiguous_strides(3, zero, strides);
    CHECK_SAME(strides[2], 1);
    CHECK_SAME(strides[1], 3);
    CHECK_SAME(croton::numel(3, zero), 0);
  }
  {  // same_shape
    const int64_t a[] = {2, 3}, b[] = {2, 3}, c[] = {3, 2};
    CHECK(croton::same_shape(2, a, b));
    CHECK(!croton::same_shape(2, a, c));
    CHECK(croton::same_shape(0, a, c));
  }
  // is_contiguous
  const int64_t s23[] = {2, 3};
  const int64_t c23[] = {3, 1}, f23[] = {1, 2}, pad23[] = {4, 1}, neg23[] = {-3, 1},
                negc23[] = {3, -1}, zero23[] = {0, 1};
  CHECK(croton::is_contiguous(make_buffer(2, s23, c23)));
  CHECK(!croton::is_contiguous(make_buffer(2, s23, f23)));     // transposed view
  CHECK(!croton::is_contiguous(make_buffer(2, s23, pad23)));   // padded rows
  CHECK(!croton::is_contiguous(make_buffer(2, s23, neg23)));   // reversed rows
  CHECK(!croton::is_contiguous(make_buffer(2, s23, negc23)));  // reversed columns
  CHECK(!croton::is_contiguous(make_buffer(2, s23, zero23)));  // broadcast rows (stride 0)
  CHECK(croton::is_contiguous(make_buffer(0, s23, c23)));      // 0-d
  // length-1 dimensions may have any stride
  const int64_t s213[] = {2, 1, 3};
  const int64_t st213[] = {3, 999, 1}, st213b[] = {3, 0, 1}, st213c[] = {3, -5, 1};
  CHECK(croton::is_contiguous(make_buffer(3, s213, st213)));
  CHECK(croton::is_contiguous(make_buffer(3, s213, st213b)));
  CHECK(croton::is_contiguous(make_buffer(3, s213, st213c)));
  const int64_t s1[] = {1}, st1[] = {0}, s5[] = {5}, st5[] = {1}, st5b[] = {2};
  CHECK(croton::is_contiguous(make_buffer(1, s1, st1)));
  CHECK(croton::is_contiguous(make_buffer(1, s5, st5)));
  CHECK(!croton::is_contiguous(make_buffer(1, s5, st5b)));
  const int64_t s31[] = {3, 1}, st31[] = {1, 0};  // a column (n, 1) with stride 0 on the 1
  CHECK(croton::is_contiguous(make_buffer(2, s31, st31)));
}

void test_errors() {
  croton_error err{};
  const int64_t a[] = {2, 3}, b[] = {4};
  CHECK_SAME(croton::fail_shape(&err, 7, 2, a, 1, b), int(CROTON_ERR_SHAPE));
  CHECK_SAME(err.code, int(CROTON_ERR_SHAPE));
  CHECK_SAME(err.check, 7);
  CHECK_SAME(err.ndim_a, 2);
  CHECK_SAME(err.ndim_b, 1);
  CHECK_SAME(err.shape_a[1], 3);
  CHECK_SAME(err.shape_b[0], 4);
  croton_error err2{};
  CHECK_SAME(croton::fail_alloc(&err2), int(CROTON_ERR_ALLOC));
  CHECK_SAME(err2.code, int(CROTON_ERR_ALLOC));
  CHECK_SAME(err2.check, -1);
  CHECK(std::strcmp(err2.reason, "out of memory") == 0);  // the message: abi_bridge.hpp
  // the ABI's fixed layout: what the binding and exported libraries rely on
  CHECK_SAME(CROTON_MAX_NDIM, 8);
  CHECK_SAME(int(CROTON_FLOAT32), 9);
  CHECK_SAME(int(CROTON_COMPLEX128), 12);
}

}  // namespace

int main() {
  test_scratch();
  test_scratch_is_kept_between_calls();
  test_checked_counts();
  test_layout_helpers();
  test_errors();
  return finish("test_runtime_memory");
}
