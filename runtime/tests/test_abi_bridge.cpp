// Unit tests of the C ABI's entry (abi_bridge.hpp): DLTensors checked and converted to
// croton_buffers (NULL strides, byte_offset, negative strides, empty arrays), every refusal
// with its message (device, dtype, ndim, broadcast pattern, alignment, NULL data), arrays from
// the caller's allocator checked the same way, updates reported (in place or allocated), and
// the whole message written from the check table. A hand-written `impl` stands in for a
// generated call_impl. The CHECK macros are in check.hpp. Built and run by CMakeLists.txt.
#include <cstdio>
#include <cstring>
#include <vector>

#include "abi_bridge.hpp"

#include "check.hpp"

namespace {

#define CHECK_MESSAGE(err, text)                                                   \
  do {                                                                             \
    const bool same_text = std::strcmp((err).message, (text)) == 0;                \
    CHECK(same_text);                                                              \
    if (!same_text)                                                                \
      std::fprintf(stderr, "    got      %s\n    expected %s\n", (err).message, (text)); \
  } while (0)

// A function of one float64 matrix input `x` (dimension 0 broadcastable in `kRow`), one
// shared float32 vector `w`, one float64 output and one update of `w`.
const croton_arg kInputs[] = {{"x", {kDLFloat, 64, 1}, 2, 0u}};
const croton_arg kRowInputs[] = {{"r", {kDLFloat, 64, 1}, 2, 1u}};
const croton_arg kShared[] = {{"w", {kDLFloat, 32, 1}, 1, 0u}};
const croton_arg kOutputs[] = {{"output0", {kDLFloat, 64, 1}, 2, 0u}};
const int32_t kUpdateTarget[] = {0};
const croton_check kChecks[] = {{"broadcast", "add", "dimension 1", "input 0 ('x')"},
                                {"shape", "reshape", "the total size changes", ""},
                                {"dot", "dot", "inner dimensions", ""},
                                {"index", "subtensor", "axis 0", ""},
                                {"value", "solve", "solve", ""},
                                {"empty_reduce", "max", "zero-size array", ""}};

// What the stand-in impl saw and does.
struct Seen {
  croton_buffer x, w;
  int fail_code = 0;       // nonzero: fail with this code (check 0...) before allocating
  int32_t fail_check = 0;
  int64_t update_len = -1;  // >= 0: resize the update to this length (alloc kind 1)
  bool ran = false;
};
Seen g_seen;

int impl(const croton_buffer* in, const croton_buffer* sh, croton::alloc_fn alloc, void* actx,
         croton_buffer* out, croton_buffer* upd, croton_error* err) {
  g_seen.ran = true;
  g_seen.x = in[0];
  g_seen.w = sh[0];
  if (g_seen.fail_code == CROTON_ERR_SHAPE) {
    const int64_t a[] = {2, 3}, b[] = {4};
    return croton::fail_shape(err, g_seen.fail_check, 2, a, 1, b);
  }
  if (g_seen.fail_code == CROTON_ERR_INDEX) return croton::fail_index(err, g_seen.fail_check, 7, 5);
  if (g_seen.fail_code == CROTON_ERR_VALUE)
    return croton::fail_value(err, g_seen.fail_check, "singular matrix");
  if (g_seen.fail_code == CROTON_ERR_TOO_BIG) {
    const int64_t s[] = {int64_t(1) << 62, 4};
    return croton::fail_too_big(err, 2, s);
  }
  if (alloc(actx, 0, 0, 2, in[0].shape, &out[0]) != 0) return croton::fail_alloc(err);
  const int64_t n = in[0].shape[0] * in[0].shape[1];
  for (int64_t k = 0; k < n; ++k) static_cast<double*>(out[0].data)[k] = double(k);
  if (g_seen.update_len >= 0) {
    if (alloc(actx, 1, 0, 1, &g_seen.update_len, &upd[0]) != 0) return croton::fail_alloc(err);
  } else {
    upd[0] = sh[0];
  }
  if (alloc(actx, CROTON_COMMIT_POINT, 0, 0, nullptr, nullptr) != 0)
    return croton::fail_interrupted(err);
  return 0;
}

croton_function make_function(const croton_arg* inputs) {
  return croton_function{CROTON_ABI_VERSION, 1, 1, 1, 1, 6, inputs, kShared, kOutputs,
                         kUpdateTarget, kChecks, nullptr};
}

// The caller's allocator: C-contiguous arrays it owns; `mode` spoils the answer for a test.
struct Caller {
  enum Mode { kGood, kWrongDtype, kStrided, kWrongShape, kFail, kInterrupt } mode = kGood;
  std::vector<std::vector<double>> blocks;
  int64_t shapes[4][CROTON_MAX_NDIM];
  int64_t strides[CROTON_MAX_NDIM];
  int n = 0;
};

int caller_alloc(void* vctx, int32_t kind, int32_t index, int32_t ndim, const int64_t* shape,
                 DLTensor* out) {
  (void)index;
  auto* c = static_cast<Caller*>(vctx);
  if (kind == CROTON_COMMIT_POINT) return c->mode == Caller::kInterrupt ? 1 : 0;
  if (c->mode == Caller::kFail) return 1;
  int64_t* dims = c->shapes[c->n++];
  int64_t count = 1;
  for (int32_t d = 0; d < ndim; ++d) {
    dims[d] = shape[d] + (c->mode == Caller::kWrongShape ? 1 : 0);
    count *= dims[d];
  }
  c->blocks.emplace_back(size_t(count * 2 + 1));  // room for the strided answer too
  DLDataType dtype = kind == 0 ? DLDataType{kDLFloat, 64, 1} : DLDataType{kDLFloat, 32, 1};
  if (c->mode == Caller::kWrongDtype) dtype = DLDataType{kDLInt, 64, 1};
  *out = DLTensor{c->blocks.back().data(), {kDLCPU, 0}, ndim, dtype, dims, nullptr, 0};
  if (c->mode == Caller::kStrided) {
    for (int32_t d = ndim - 1, s = 2; d >= 0; --d) {
      c->strides[d] = s;
      s *= int32_t(dims[d]);
    }
    out->strides = c->strides;
  }
  return 0;
}

struct Call {
  double x[12] = {0};
  float w[4] = {1, 2, 3, 4};
  int64_t xshape[2] = {3, 4};
  int64_t wshape[1] = {4};
  DLTensor in{x, {kDLCPU, 0}, 2, {kDLFloat, 64, 1}, xshape, nullptr, 0};
  DLTensor sh{w, {kDLCPU, 0}, 1, {kDLFloat, 32, 1}, wshape, nullptr, 0};
  DLTensor out{}, upd{};
  croton_error err{};
  Caller caller;
  int run(const croton_function& fn) {
    croton_buffer bin[1], bsh[1], bout[1], bupd[1];
    g_seen.ran = false;
    return croton::call_through_abi(fn, &impl, &in, &sh, &caller_alloc, &caller, &out, &upd,
                                    &err, bin, bsh, bout, bupd);
  }
};

void test_conversion() {
  const croton_function fn = make_function(kInputs);
  {  // NULL strides: C order; the output and the in-place update come back as DLTensors
    g_seen = Seen{};
    Call c;
    CHECK_SAME(c.run(fn), 0);
    CHECK(g_seen.ran);
    CHECK(g_seen.x.data == c.x);
    CHECK_SAME(g_seen.x.dtype, int(CROTON_FLOAT64));
    CHECK_SAME(g_seen.x.ndim, 2);
    CHECK_SAME(g_seen.x.shape[1], int64_t(4));
    CHECK_SAME(g_seen.x.strides[0], int64_t(4));
    CHECK_SAME(g_seen.x.strides[1], int64_t(1));
    CHECK_SAME(g_seen.w.dtype, int(CROTON_FLOAT32));
    CHECK(c.out.data == c.caller.blocks[0].data());
    CHECK_SAME(static_cast<double*>(c.out.data)[11], 11.0);
    CHECK(c.upd.data == c.w && c.upd.shape == c.wshape);  // written in place: the shared array
  }
  {  // strides as given (negative, zero on a length-1 dimension), byte_offset added
    g_seen = Seen{};
    Call c;
    int64_t strides[2] = {-4, 1};
    c.in.strides = strides;
    c.in.byte_offset = 8 * sizeof(double);  // row 2 first, rows read backwards
    CHECK_SAME(c.run(fn), 0);
    CHECK(g_seen.x.data == c.x + 8);
    CHECK_SAME(g_seen.x.strides[0], int64_t(-4));
    CHECK_SAME(g_seen.x.strides[1], int64_t(1));
  }
  {  // an empty array may have NULL data
    g_seen = Seen{};
    Call c;
    c.xshape[0] = 0;
    c.in.data = nullptr;
    CHECK_SAME(c.run(fn), 0);
    CHECK(g_seen.x.data == nullptr);
    CHECK_SAME(g_seen.x.shape[0], int64_t(0));
  }
  {  // an empty output with strides (NumPy's for shape (0, 4): (4, 1)): contiguous enough
    g_seen = Seen{};
    Call c;
    c.xshape[0] = 0;
    c.caller.mode = Caller::kStrided;  // strides (8, 2): any strides hold for no element
    CHECK_SAME(c.run(fn), 0);
    CHECK_SAME(c.out.shape[0], int64_t(0));
  }
  {  // an update whose shape changes comes from the allocator (kind 1)
    g_seen = Seen{};
    g_seen.update_len = 6;
    Call c;
    CHECK_SAME(c.run(fn), 0);
    CHECK(c.upd.data == c.caller.blocks[1].data());
    CHECK_SAME(c.upd.shape[0], int64_t(6));
    CHECK(c.upd.data != c.w);
  }
}

void test_refusals() {
  const croton_function fn = make_function(kInputs);
  g_seen = Seen{};
  {
    Call c;
    c.in.device = DLDevice{kDLCUDA, 1};
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK(!g_seen.ran);  // nothing runs
    CHECK_SAME(c.err.code, int(CROTON_ERR_ARGUMENT));
    CHECK_SAME(c.err.check, -1);
    CHECK_MESSAGE(c.err, "input 0 ('x') is on device cuda:1; this function runs on the CPU only "
                         "(DLPack kDLCPU): copy the array there first");
  }
  {
    Call c;
    c.sh.device = DLDevice{static_cast<DLDeviceType>(99), 0};
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "shared variable 0 ('w') is on device DLPack device type 99:0; this "
                         "function runs on the CPU only (DLPack kDLCPU): copy the array there first");
  }
  {
    Call c;
    c.in.dtype = DLDataType{kDLFloat, 32, 1};
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "input 0 ('x') has dtype float32, expected float64");
  }
  {
    Call c;
    c.in.dtype = DLDataType{kDLBfloat, 16, 1};
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "input 0 ('x') has dtype DLPack dtype {code 4, bits 16, lanes 1}, "
                         "expected float64");
  }
  {
    Call c;
    c.in.ndim = 1;
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "input 0 ('x') has 1 dimensions, expected 2");
  }
  {
    Call c;
    c.in.shape = nullptr;
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "input 0 ('x') has no shape (DLTensor.shape is NULL)");
  }
  {
    Call c;
    c.xshape[1] = -2;
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "input 0 ('x') has shape (3, -2): a negative length in dimension 1");
  }
  {
    Call c;
    c.in.data = nullptr;
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "input 0 ('x') has no data (DLTensor.data is NULL) but is not empty");
  }
  {
    Call c;
    c.in.byte_offset = 4;  // half a double
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "input 0 ('x') is not aligned: data + byte_offset is not a multiple of "
                         "8 bytes");
  }
  {  // a dimension declared broadcastable must have length 1
    const croton_function row = make_function(kRowInputs);
    Call c;
    CHECK_SAME(c.run(row), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "input 0 ('r') has shape (3, 4), but dimension 0 is declared "
                         "broadcastable (length 1)");
    c.xshape[0] = 1;
    CHECK_SAME(c.run(row), 0);
  }
  {
    Call c;
    croton_buffer bin[1], bsh[1], bout[1], bupd[1];
    CHECK_SAME(croton::call_through_abi(fn, &impl, nullptr, &c.sh, &caller_alloc, &c.caller,
                                        &c.out, &c.upd, &c.err, bin, bsh, bout, bupd),
               int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "the array of inputs is NULL, but the function has 1");
    CHECK_SAME(croton::call_through_abi(fn, &impl, &c.in, &c.sh, nullptr, nullptr, &c.out,
                                        &c.upd, &c.err, bin, bsh, bout, bupd),
               int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "the allocator is NULL, but the function allocates its outputs and "
                         "updates");
    // no croton_error: the status still says what happened
    CHECK_SAME(croton::call_through_abi(fn, &impl, nullptr, &c.sh, &caller_alloc, &c.caller,
                                        &c.out, &c.upd, nullptr, bin, bsh, bout, bupd),
               int(CROTON_ERR_ARGUMENT));
  }
}

void test_allocator_answers() {
  const croton_function fn = make_function(kInputs);
  g_seen = Seen{};
  {
    Call c;
    c.caller.mode = Caller::kWrongDtype;
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "output 0 from the allocator has dtype int64, expected float64");
  }
  {
    Call c;
    c.caller.mode = Caller::kStrided;
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "output 0 from the allocator has shape (3, 4) and strides (8, 2), "
                         "expected a C-contiguous array of shape (3, 4)");
  }
  {
    Call c;
    c.caller.mode = Caller::kWrongShape;
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ARGUMENT));
    CHECK_MESSAGE(c.err, "output 0 from the allocator has shape (4, 5) and strides (5, 1), "
                         "expected a C-contiguous array of shape (3, 4)");
  }
  {
    Call c;
    c.caller.mode = Caller::kFail;
    CHECK_SAME(c.run(fn), int(CROTON_ERR_ALLOC));
    CHECK_SAME(c.err.check, -1);
    CHECK_MESSAGE(c.err, "out of memory");
    CHECK(std::strcmp(c.err.reason, "out of memory") == 0);
  }
  {
    Call c;
    c.caller.mode = Caller::kInterrupt;
    CHECK_SAME(c.run(fn), int(CROTON_ERR_INTERRUPTED));
    CHECK_MESSAGE(c.err, "interrupted at the commit point (the allocator answered nonzero): "
                         "nothing was written");
  }
}

void test_messages_from_the_check_table() {
  const croton_function fn = make_function(kInputs);
  struct Case {
    int code;
    int32_t check;
    const char* message;
  } cases[] = {
      {CROTON_ERR_SHAPE, 0, "shape mismatch in add: input shapes (2, 3) and (4,) differ at "
                            "dimension 1, which is not declared broadcastable (the lengths come "
                            "from input 0 ('x'))"},
      {CROTON_ERR_SHAPE, 1, "reshape: the total size changes; shapes (2, 3) and (4,)"},
      {CROTON_ERR_SHAPE, 2, "shape mismatch in dot: shapes (2, 3) and (4,) are not aligned"},
      {CROTON_ERR_SHAPE, 5, "max: zero-size array, input shape (2, 3)"},
      {CROTON_ERR_SHAPE, 42, "shape mismatch in an operation: input shapes (2, 3) and (4,)"},
      {CROTON_ERR_INDEX, 3, "index 7 is out of bounds for axis 0 of size 5 in subtensor"},
      {CROTON_ERR_VALUE, 4, "solve: solve: singular matrix"},
      {CROTON_ERR_TOO_BIG, -1, "array is too big: an array of shape (4611686018427387904, 4) "
                               "has more elements or bytes than the maximum possible size"},
  };
  for (const Case& k : cases) {
    g_seen = Seen{};
    g_seen.fail_code = k.code;
    g_seen.fail_check = k.check;
    Call c;
    std::memset(c.err.message, 'x', sizeof c.err.message);  // a reused, dirty croton_error
    c.err.message[sizeof c.err.message - 1] = '\0';
    CHECK_SAME(c.run(fn), k.code);
    CHECK_SAME(c.err.code, k.code);
    CHECK_SAME(c.err.check, k.check);
    CHECK_MESSAGE(c.err, k.message);
  }
  // the layout the binding and exported libraries rely on
  CHECK_SAME(CROTON_ABI_VERSION, 4);
  CHECK_SAME(int(sizeof(croton_error::message)), 512);
  CHECK_SAME(int(CROTON_ERR_ARGUMENT), 7);
  // croton's dtype codes and DLPack's, both ways
  for (int32_t code = CROTON_BOOL; code <= CROTON_FLOAT16; ++code)
    CHECK_SAME(croton::dtype_code(croton::dl_dtype(code)), code);
  CHECK_SAME(croton::dtype_code(DLDataType{kDLFloat, 64, 2}), -1);  // vector lanes: none
  CHECK_SAME(int(croton::dl_dtype(CROTON_BOOL).code), int(kDLBool));
  CHECK_SAME(int(croton::dl_dtype(CROTON_COMPLEX64).bits), 64);
}

}  // namespace

int main() {
  test_conversion();
  test_refusals();
  test_allocator_answers();
  test_messages_from_the_check_table();
  return finish("test_abi_bridge");
}
