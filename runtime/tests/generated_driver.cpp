// A plain C++ caller of generated croton functions, through the C ABI only (abi.h: arrays are
// DLPack DLTensors): no Python.
// tests/test_runtime_ctest.py renders a few graphs, compiles each translation unit with its own
// -DCROTON_FUNCTION_SYMBOL=<name>, and links them with this driver, all under
// -fsanitize=address,undefined; it then runs the driver and compares its output with NumPy.
//
// Build: list the linked functions in CROTON_DRIVER_FUNCTIONS as X(name) items, e.g.
//   g++ -std=c++17 -Iruntime/cpu '-DCROTON_DRIVER_FUNCTIONS=X(fn_a) X(fn_b)' generated_driver.cpp
//       fn_a.o fn_b.o -lscipy_openblas
// Run:   driver NAME INPUT OUTPUT [CALLS [FAIL_ALLOC_AT [DEVICE0]]]
//   Calls function NAME CALLS times (default 1) on the arrays in INPUT, applying its updates to
//   the shared arrays between calls, and writes every call's result to OUTPUT. FAIL_ALLOC_AT
//   (default -1: never) makes the n-th allocation request of the run (0-based) fail. DEVICE0
//   (default 1, kDLCPU) is the DLPack device type the first input claims to be on.
//
// INPUT (native byte order):
//   "CROTONI1", int32 n_inputs, int32 n_shared, then n_inputs + n_shared arrays, each:
//   int32 dtype (croton's code, croton.types.DTYPE_CODE), int32 ndim, int64 shape[ndim],
//   int64 strides[ndim] (in elements, any sign),
//   int64 offset (elements from the block's start to element [0, ..., 0]), int64 block_elems,
//   block_elems elements of raw data. Each block gets its own exact-size malloc, so the
//   sanitizers flag any access outside it; the driver also checks that no input is modified.
// OUTPUT:
//   "CROTONO1", int32 n_calls, then per call: int32 rc, int32 error code, int32 error check,
//   int32 message length, the error's message (croton_error.message; empty when rc == 0),
//   int32 n_outputs (0 when rc != 0), that many arrays, int32 n_shared, the shared arrays after
//   the call (updated only when rc == 0), each array as: int32 dtype, int32 ndim,
//   int64 shape[ndim], its elements in C order.
// Exit status: 0 when every call ran (whatever its rc), 2 on bad usage or input, 3 when the
// generated code broke the ABI's contract (wrong output type, modified an input...).
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "abi.h"

#ifndef CROTON_DRIVER_FUNCTIONS
#error "define CROTON_DRIVER_FUNCTIONS as a list of X(symbol) items"
#endif

#define X(name) extern "C" const croton_function* name(void);
CROTON_DRIVER_FUNCTIONS
#undef X

namespace {

struct Entry {
  const char* name;
  const croton_function* (*get)(void);
};
#define X(name) {#name, &name},
const Entry kFunctions[] = {CROTON_DRIVER_FUNCTIONS};
#undef X

[[noreturn]] __attribute__((format(printf, 2, 3))) void die(int status, const char* fmt, ...) {
  std::fprintf(stderr, "generated_driver: ");
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fprintf(stderr, "\n");
  std::exit(status);
}

// croton's dtype codes (the order of croton.types.DTYPES) as DLPack dtypes.
const DLDataType kDtypes[] = {
    {kDLBool, 8, 1},  {kDLInt, 8, 1},      {kDLInt, 16, 1},      {kDLInt, 32, 1},
    {kDLInt, 64, 1},  {kDLUInt, 8, 1},     {kDLUInt, 16, 1},     {kDLUInt, 32, 1},
    {kDLUInt, 64, 1}, {kDLFloat, 32, 1},   {kDLFloat, 64, 1},    {kDLComplex, 64, 1},
    {kDLComplex, 128, 1}, {kDLFloat, 16, 1}};
constexpr int32_t kNumDtypes = sizeof kDtypes / sizeof kDtypes[0];

bool same_dtype(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}

int32_t code_of(DLDataType t) {
  for (int32_t c = 0; c < kNumDtypes; ++c)
    if (same_dtype(kDtypes[c], t)) return c;
  die(3, "a DLPack dtype croton has no code for: {%u, %u, %u}", unsigned(t.code),
      unsigned(t.bits), unsigned(t.lanes));
}

int64_t itemsize(DLDataType t) { return (int64_t(t.bits) * t.lanes + 7) / 8; }

int64_t numel(const DLTensor& t) {
  int64_t n = 1;
  for (int32_t d = 0; d < t.ndim; ++d) n *= t.shape[d];
  return n;
}

// An array the driver owns: one malloc block, and a DLTensor viewing it whose shape and
// strides live here.
struct Array {
  void* block = nullptr;
  int64_t block_bytes = 0;
  int64_t shape[CROTON_MAX_NDIM] = {0};
  int64_t strides[CROTON_MAX_NDIM] = {0};
  DLTensor view{};
  std::vector<unsigned char> original;  // inputs: the block's bytes, to check it is unchanged
};

class Reader {
 public:
  explicit Reader(const char* path) : f_(std::fopen(path, "rb")) {
    if (f_ == nullptr) die(2, "cannot open %s", path);
  }
  ~Reader() { std::fclose(f_); }
  void bytes(void* dst, size_t n) {
    if (n != 0 && std::fread(dst, 1, n, f_) != n) die(2, "input file is truncated");
  }
  template <class T>
  T get() {
    T v;
    bytes(&v, sizeof v);
    return v;
  }

 private:
  std::FILE* f_;
};

class Writer {
 public:
  explicit Writer(const char* path) : f_(std::fopen(path, "wb")) {
    if (f_ == nullptr) die(2, "cannot create %s", path);
  }
  ~Writer() {
    if (std::fclose(f_) != 0) die(2, "cannot write the output file");
  }
  void bytes(const void* src, size_t n) {
    if (n != 0 && std::fwrite(src, 1, n, f_) != n) die(2, "cannot write the output file");
  }
  template <class T>
  void put(T v) {
    bytes(&v, sizeof v);
  }
  // The array's elements in C order, whatever its strides (NULL strides: C order).
  void array(const DLTensor& b) {
    put<int32_t>(code_of(b.dtype));
    put<int32_t>(b.ndim);
    for (int32_t d = 0; d < b.ndim; ++d) put<int64_t>(b.shape[d]);
    const int64_t n = numel(b), item = itemsize(b.dtype);
    int64_t strides[CROTON_MAX_NDIM];
    for (int32_t d = b.ndim - 1, s = 1; d >= 0; --d) {
      strides[d] = b.strides != nullptr ? b.strides[d] : s;
      s *= b.shape[d];
    }
    const char* base = static_cast<const char*>(b.data) + b.byte_offset;
    int64_t index[CROTON_MAX_NDIM] = {0};
    for (int64_t e = 0; e < n; ++e) {
      int64_t offset = 0;
      for (int32_t d = 0; d < b.ndim; ++d) offset += index[d] * strides[d];
      bytes(base + offset * item, size_t(item));
      for (int32_t d = b.ndim - 1; d >= 0; --d) {
        if (++index[d] < b.shape[d]) break;
        index[d] = 0;
      }
    }
  }

 private:
  std::FILE* f_;
};

// A C-contiguous array's strides are passed as NULL (DLPack's convention), others as read;
// the start is data + byte_offset (the block's start + the element offset), as DLPack allows.
void read_array(Reader& in, const croton_arg& spec, const char* what, Array* a) {
  DLTensor& b = a->view;
  const int32_t code = in.get<int32_t>();
  b.ndim = in.get<int32_t>();
  if (code < 0 || code >= kNumDtypes) die(2, "%s: unknown dtype code %d", what, int(code));
  b.dtype = kDtypes[code];
  b.device = DLDevice{kDLCPU, 0};
  if (!same_dtype(b.dtype, spec.dtype) || b.ndim != spec.ndim)
    die(2, "%s: dtype %d / ndim %d does not match the function's signature", what, int(code),
        int(b.ndim));
  for (int32_t d = 0; d < b.ndim; ++d) a->shape[d] = in.get<int64_t>();
  for (int32_t d = 0; d < b.ndim; ++d) a->strides[d] = in.get<int64_t>();
  bool c_order = true;
  for (int32_t d = b.ndim - 1, s = 1; d >= 0; --d) {
    c_order = c_order && (a->shape[d] == 1 || a->strides[d] == s);
    s *= a->shape[d];
  }
  b.shape = a->shape;
  b.strides = c_order ? nullptr : a->strides;
  const int64_t offset = in.get<int64_t>(), elems = in.get<int64_t>();
  const int64_t item = itemsize(b.dtype);
  if (elems < 1 || offset < 0 || offset >= elems) die(2, "%s: bad offset or block size", what);
  a->block_bytes = elems * item;
  a->block = std::malloc(size_t(a->block_bytes));  // exact size: ASan sees any overrun
  if (a->block == nullptr) die(2, "%s: out of memory", what);
  in.bytes(a->block, size_t(a->block_bytes));
  b.data = a->block;
  b.byte_offset = uint64_t(offset * item);
}

// What alloc_fn hands out: the memory and the shape its DLTensor points to.
struct Block {
  void* data;
  int64_t shape[CROTON_MAX_NDIM];
};

struct AllocCtx {
  const croton_function* fn;
  int64_t requests = 0;        // allocation requests in this run
  int64_t commit_points = 0;   // commit-point questions in this run
  int64_t fail_at = -1;        // the request that fails
  std::vector<Block*> blocks;  // allocated during the current call
};

int alloc_fn(void* vctx, int32_t kind, int32_t index, int32_t ndim, const int64_t* shape,
             DLTensor* out) {
  auto* ctx = static_cast<AllocCtx*>(vctx);
  const croton_function* fn = ctx->fn;
  if (kind == CROTON_COMMIT_POINT) {  // no interrupt here: go on
    if (out != nullptr || shape != nullptr || ndim != 0) die(3, "commit point: bad arguments");
    ++ctx->commit_points;
    return 0;
  }
  if (kind == 0 ? (index < 0 || index >= fn->n_outputs) : (index < 0 || index >= fn->n_updates))
    die(3, "alloc: kind %d with index %d out of range", int(kind), int(index));
  const croton_arg& spec =
      kind == 0 ? fn->outputs[index] : fn->shared[fn->update_target[index]];
  if (ndim != spec.ndim) die(3, "alloc: ndim %d, the signature says %d", int(ndim), int(spec.ndim));
  if (ctx->requests++ == ctx->fail_at) return 1;
  auto* block = new Block;
  int64_t count = 1;
  for (int32_t d = 0; d < ndim; ++d) {
    if (shape[d] < 0) die(3, "alloc: negative length %" PRId64 " in dimension %d", shape[d], int(d));
    block->shape[d] = shape[d];
    count *= shape[d];
  }
  const size_t bytes = size_t(count * itemsize(spec.dtype));
  block->data = std::malloc(bytes > 0 ? bytes : 1);
  if (block->data == nullptr) {
    delete block;
    return 1;
  }
  std::memset(block->data, 0xCD, bytes > 0 ? bytes : 1);  // garbage, so unwritten elements show
  ctx->blocks.push_back(block);
  *out = DLTensor{block->data, {kDLCPU, 0}, ndim, spec.dtype, block->shape, nullptr, 0};
  return 0;
}

Block* owner(const std::vector<Block*>& blocks, const void* p) {
  for (Block* b : blocks)
    if (b != nullptr && b->data == p) return b;
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4 || argc > 7)
    die(2, "usage: driver NAME INPUT OUTPUT [CALLS [FAIL_ALLOC_AT [DEVICE0]]]");
  const croton_function* fn = nullptr;
  for (const Entry& e : kFunctions)
    if (std::strcmp(e.name, argv[1]) == 0) fn = e.get();
  if (fn == nullptr) die(2, "no function %s linked into this driver", argv[1]);
  if (fn->abi_version != CROTON_ABI_VERSION) die(3, "%s: ABI version %d", argv[1], int(fn->abi_version));
  const long calls = argc > 4 ? std::strtol(argv[4], nullptr, 10) : 1;
  AllocCtx ctx;
  ctx.fn = fn;
  ctx.fail_at = argc > 5 ? std::strtoll(argv[5], nullptr, 10) : -1;
  const int32_t device0 = argc > 6 ? int32_t(std::strtol(argv[6], nullptr, 10)) : int32_t(kDLCPU);

  Reader in(argv[2]);
  char magic[8];
  in.bytes(magic, sizeof magic);
  if (std::memcmp(magic, "CROTONI1", 8) != 0) die(2, "%s is not a driver input file", argv[2]);
  const int32_t n_in = in.get<int32_t>(), n_sh = in.get<int32_t>();
  if (n_in != fn->n_inputs || n_sh != fn->n_shared)
    die(2, "%s takes %d inputs and %d shared variables", argv[1], int(fn->n_inputs),
        int(fn->n_shared));
  std::vector<Array> inputs(static_cast<size_t>(n_in)), shared(static_cast<size_t>(n_sh));
  for (int32_t i = 0; i < n_in; ++i) {
    read_array(in, fn->inputs[i], fn->inputs[i].name, &inputs[i]);
    const auto* p = static_cast<const unsigned char*>(inputs[i].block);
    inputs[i].original.assign(p, p + inputs[i].block_bytes);
  }
  for (int32_t j = 0; j < n_sh; ++j) read_array(in, fn->shared[j], fn->shared[j].name, &shared[j]);
  if (n_in > 0) inputs[0].view.device.device_type = static_cast<DLDeviceType>(device0);

  std::vector<DLTensor> in_bufs(static_cast<size_t>(n_in) + 1),
      sh_bufs(static_cast<size_t>(n_sh) + 1), outs(static_cast<size_t>(fn->n_outputs) + 1),
      upds(static_cast<size_t>(fn->n_updates) + 1);
  Writer out(argv[3]);
  out.bytes("CROTONO1", 8);
  out.put<int32_t>(int32_t(calls));
  for (long call = 0; call < calls; ++call) {
    for (int32_t i = 0; i < n_in; ++i) in_bufs[i] = inputs[i].view;
    for (int32_t j = 0; j < n_sh; ++j) sh_bufs[j] = shared[j].view;
    croton_error err{};
    ctx.blocks.clear();
    ctx.commit_points = 0;
    const int rc = fn->call(in_bufs.data(), sh_bufs.data(), &alloc_fn, &ctx, outs.data(),
                            upds.data(), &err);
    for (int32_t i = 0; i < n_in; ++i)
      if (std::memcmp(inputs[i].block, inputs[i].original.data(), size_t(inputs[i].block_bytes)))
        die(3, "call %ld modified input %d", call, int(i));
    out.put<int32_t>(rc);
    out.put<int32_t>(rc != 0 ? err.code : 0);
    out.put<int32_t>(rc != 0 ? err.check : 0);
    const size_t message_length = rc != 0 ? strnlen(err.message, sizeof err.message) : 0;
    if (rc != 0 && message_length == 0) die(3, "call %ld failed (%d) without a message", call, rc);
    out.put<int32_t>(int32_t(message_length));
    out.bytes(err.message, message_length);
    if (rc == 0 && ctx.commit_points != 1)
      die(3, "call %ld asked the commit point %ld times, not once", call, long(ctx.commit_points));
    if (rc == 0) {
      out.put<int32_t>(fn->n_outputs);
      for (int32_t k = 0; k < fn->n_outputs; ++k) {
        if (!same_dtype(outs[k].dtype, fn->outputs[k].dtype) || outs[k].ndim != fn->outputs[k].ndim)
          die(3, "output %d has the wrong dtype or ndim (call %ld)", int(k), call);
        if (owner(ctx.blocks, outs[k].data) == nullptr) die(3, "output %d is not from alloc", int(k));
        out.array(outs[k]);
      }
      // updates: into the shared storage itself, or into a new block that replaces it
      for (int32_t k = 0; k < fn->n_updates; ++k) {
        Array& target = shared[static_cast<size_t>(fn->update_target[k])];
        if (upds[k].shape == target.view.shape) {  // the shared array itself: written in place
          if (upds[k].data != target.view.data) die(3, "update %d: in place, elsewhere", int(k));
          continue;
        }
        Block* block = owner(ctx.blocks, upds[k].data);
        if (block == nullptr) die(3, "update %d is not from alloc", int(k));
        for (Block*& b : ctx.blocks)
          if (b == block) b = nullptr;  // now owned by the shared array
        std::free(target.block);
        target.block = block->data;
        for (int32_t d = 0; d < upds[k].ndim; ++d) target.shape[d] = block->shape[d];
        target.view = upds[k];
        target.view.shape = target.shape;
        delete block;
      }
    } else {
      out.put<int32_t>(0);
    }
    out.put<int32_t>(n_sh);
    for (int32_t j = 0; j < n_sh; ++j) out.array(shared[j].view);
    for (Block* b : ctx.blocks) {
      if (b == nullptr) continue;
      std::free(b->data);
      delete b;
    }
    ctx.blocks.clear();
  }
  for (Array& a : inputs) std::free(a.block);
  for (Array& a : shared) std::free(a.block);
  return 0;
}
