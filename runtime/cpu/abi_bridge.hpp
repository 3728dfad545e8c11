// The C ABI's side of a compiled function: its entry `croton_function.call` takes DLTensors
// (abi.h), checks each one against the function's signature (device, dtype, ndim, broadcast
// pattern, alignment, strides), converts it to croton's own croton_buffer (buffer.hpp) and runs
// the generated `call_impl` over those; arrays the function asks its caller for (outputs,
// resized updates) come back as DLTensors and are checked and converted the same way. On a
// failure it writes the whole message into croton_error.message from the function's check
// table, so a caller without Python can print it.
//
// Every generated translation unit has, after its tables (codegen/templates/function.cpp.j2):
//   int call_abi(const DLTensor* in, ..., croton_error* err) {
//     croton_buffer bin[2], bsh[1], bout[1], bupd[1];  // at least one each
//     return croton::call_through_abi(kFunction, &call_impl, in, sh, alloc, alloc_ctx, out,
//                                     upd, err, bin, bsh, bout, bupd);
//   }
#pragma once
#include <cstdarg>
#include <cstdio>

#include "runtime.hpp"

namespace croton {

// The generated body of a function, over croton_buffers.
using impl_fn = int (*)(const croton_buffer* in, const croton_buffer* sh, alloc_fn alloc,
                        void* alloc_ctx, croton_buffer* out, croton_buffer* upd,
                        croton_error* err);

}  // namespace croton

#if defined(CROTON_PREBUILT_KERNELS) && !defined(CROTON_KERNELS_LIBRARY)
// Built against libcroton_kernels (build_tools/kernels.py): the bridge is compiled there once,
// not in every function's translation unit (about 2,000 lines of assembly each).
namespace croton {
int call_through_abi(const croton_function& fn, impl_fn impl, const DLTensor* in,
                     const DLTensor* sh, croton_alloc_fn alloc, void* alloc_ctx, DLTensor* out,
                     DLTensor* upd, croton_error* err, croton_buffer* bin, croton_buffer* bsh,
                     croton_buffer* bout, croton_buffer* bupd);
}  // namespace croton
#else
// Standalone (an exported library, the C++ tests): the bridge is compiled with the function;
// in libcroton_kernels (CROTON_KERNELS_LIBRARY), call_through_abi is an exported definition.
#ifdef CROTON_KERNELS_LIBRARY
#define CROTON_BRIDGE_ENTRY
#else
#define CROTON_BRIDGE_ENTRY inline
#endif
// The DLPack device type of every array this translation unit takes, and how a refusal words
// it: the CPU, unless a target's runtime says otherwise before including this header
// (runtime/cuda/runtime.cuh: kDLCUDA).
#ifndef CROTON_DEVICE_TYPE
#define CROTON_DEVICE_TYPE kDLCPU
#define CROTON_DEVICE_WORDS "the CPU only (DLPack kDLCPU): copy the array there first"
#endif
// The device number every array of the running call must have, or -1 for any: the CPU's arrays
// are one memory; a CUDA call runs on the device of its first array (runtime/cuda/runtime.cuh).
#ifndef CROTON_CALL_DEVICE_ID
#define CROTON_CALL_DEVICE_ID() (-1)
#endif
namespace croton {

// Appends printf-style text to err->message (cut to fit, always terminated).
__attribute__((format(printf, 2, 3))) inline void say(croton_error* err, const char* fmt, ...) {
  size_t used = 0;
  while (used < sizeof(err->message) && err->message[used] != '\0') ++used;
  if (used + 1 >= sizeof(err->message)) return;
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(err->message + used, sizeof(err->message) - used, fmt, args);
  va_end(args);
}

// A shape as Python prints a tuple: (), (3,), (2, 3).
inline void say_shape(croton_error* err, int32_t ndim, const int64_t* shape) {
  say(err, "(");
  for (int32_t d = 0; d < ndim; ++d)
    say(err, "%s%lld", d ? ", " : "", static_cast<long long>(shape[d]));
  say(err, ndim == 1 ? ",)" : ")");
}

inline void say_dtype(croton_error* err, DLDataType t) {
  static const char* const kNames[] = {"bool",    "int8",    "int16",   "int32",     "int64",
                                       "uint8",   "uint16",  "uint32",  "uint64",    "float32",
                                       "float64", "complex64", "complex128", "float16"};
  const int32_t code = dtype_code(t);
  if (code >= 0) {
    say(err, "%s", kNames[code]);
  } else {
    say(err, "DLPack dtype {code %u, bits %u, lanes %u}", unsigned(t.code), unsigned(t.bits),
        unsigned(t.lanes));
  }
}

inline void say_device(croton_error* err, DLDevice device) {
  const char* name = nullptr;
  switch (device.device_type) {
    case kDLCPU: name = "cpu"; break;
    case kDLCUDA: name = "cuda"; break;
    case kDLCUDAHost: name = "cuda_host"; break;
    case kDLCUDAManaged: name = "cuda_managed"; break;
    case kDLOpenCL: name = "opencl"; break;
    case kDLVulkan: name = "vulkan"; break;
    case kDLMetal: name = "metal"; break;
    case kDLROCM: name = "rocm"; break;
    case kDLROCMHost: name = "rocm_host"; break;
    case kDLOneAPI: name = "oneapi"; break;
    case kDLWebGPU: name = "webgpu"; break;
    default: break;
  }
  if (name != nullptr) {
    say(err, "%s:%d", name, int(device.device_id));
  } else {
    say(err, "DLPack device type %d:%d", int(device.device_type), int(device.device_id));
  }
}

// Which argument: "input 0 ('x')", "shared variable 1 ('W')", "output 0 from the allocator".
struct ArgName {
  const char* role;
  int32_t index;
  const char* name;            // the user's name, or nullptr
  const char* from = nullptr;  // "from the allocator", or nullptr
};

// Starts err as a refused call (CROTON_ERR_ARGUMENT) with an empty message.
inline int refuse(croton_error* err) {
  err->code = CROTON_ERR_ARGUMENT;
  err->check = -1;
  err->ndim_a = err->ndim_b = 0;
  err->reason[0] = '\0';
  err->message[0] = '\0';
  return CROTON_ERR_ARGUMENT;
}

// The same, the message starting with the argument's name.
inline int refuse(croton_error* err, const ArgName& who) {
  refuse(err);
  say(err, "%s %d", who.role, int(who.index));
  if (who.name != nullptr) say(err, " ('%s')", who.name);
  if (who.from != nullptr) say(err, " %s", who.from);
  say(err, " ");
  return CROTON_ERR_ARGUMENT;
}

// Bytes of one element of `t` and the alignment its data needs (a complex number: its parts').
inline int64_t element_bytes(DLDataType t) { return (int64_t(t.bits) * t.lanes + 7) / 8; }

// Checks DLTensor `t` against `spec` and fills `b` (strides in elements; NULL strides: C
// order); 0, or CROTON_ERR_ARGUMENT with err->message naming the argument and what is wrong.
inline int from_dlpack(const DLTensor& t, const croton_arg& spec, const ArgName& who,
                       croton_buffer* b, croton_error* err) {
  if (t.device.device_type != CROTON_DEVICE_TYPE) {
    refuse(err, who);
    say(err, "is on device ");
    say_device(err, t.device);
    say(err, "; this function runs on %s", CROTON_DEVICE_WORDS);
    return CROTON_ERR_ARGUMENT;
  }
  const int32_t call_device = CROTON_CALL_DEVICE_ID();
  if (call_device >= 0 && t.device.device_id != call_device) {
    refuse(err, who);
    say(err, "is on device ");
    say_device(err, t.device);
    say(err, "; this call runs on ");
    say_device(err, DLDevice{t.device.device_type, call_device});
    say(err, " (the device of its first array): pass arrays of one device");
    return CROTON_ERR_ARGUMENT;
  }
  const int32_t code = dtype_code(spec.dtype);
  if (!same_dtype(t.dtype, spec.dtype) || code < 0) {
    refuse(err, who);
    say(err, "has dtype ");
    say_dtype(err, t.dtype);
    say(err, ", expected ");
    say_dtype(err, spec.dtype);
    return CROTON_ERR_ARGUMENT;
  }
  if (t.ndim != spec.ndim || (t.ndim > 0 && t.shape == nullptr)) {
    refuse(err, who);
    if (t.ndim != spec.ndim)
      say(err, "has %d dimensions, expected %d", int(t.ndim), int(spec.ndim));
    else
      say(err, "has no shape (DLTensor.shape is NULL)");
    return CROTON_ERR_ARGUMENT;
  }
  bool empty = false;
  for (int32_t d = 0; d < t.ndim; ++d) {
    const int64_t n = t.shape[d];
    if (n < 0 || (((spec.broadcastable >> d) & 1u) && n != 1)) {
      refuse(err, who);
      say(err, "has shape ");
      say_shape(err, t.ndim, t.shape);
      if (n < 0)
        say(err, ": a negative length in dimension %d", int(d));
      else
        say(err, ", but dimension %d is declared broadcastable (length 1)", int(d));
      return CROTON_ERR_ARGUMENT;
    }
    empty = empty || n == 0;
    b->shape[d] = n;
  }
  char* data = static_cast<char*>(t.data);
  if (data == nullptr && !empty) {
    refuse(err, who);
    say(err, "has no data (DLTensor.data is NULL) but is not empty");
    return CROTON_ERR_ARGUMENT;
  }
  if (data != nullptr) data += t.byte_offset;
  const int64_t item = element_bytes(spec.dtype);
  const int64_t align = spec.dtype.code == kDLComplex ? item / 2 : item;  // a power of two
  if ((reinterpret_cast<uintptr_t>(data) & static_cast<uintptr_t>(align - 1)) != 0) {
    refuse(err, who);
    say(err, "is not aligned: data + byte_offset is not a multiple of %lld bytes",
        static_cast<long long>(align));
    return CROTON_ERR_ARGUMENT;
  }
  b->data = data;
  b->ndim = t.ndim;
  b->dtype = code;
  if (t.strides == nullptr) {
    contiguous_strides(t.ndim, b->shape, b->strides);
  } else {
    for (int32_t d = 0; d < t.ndim; ++d) b->strides[d] = t.strides[d];
  }
  return 0;
}

// The allocator call_impl gets: forwards to the caller's, then checks and converts its answer.
struct AbiAlloc {
  const croton_function* fn;
  croton_alloc_fn alloc;
  void* ctx;
  DLTensor* out;
  DLTensor* upd;
  croton_error* err;
  bool refused;  // an array from the caller's allocator was not what was asked for
};

inline int abi_alloc(void* vctx, int32_t kind, int32_t index, int32_t ndim, const int64_t* shape,
                     croton_buffer* b) {
  auto* a = static_cast<AbiAlloc*>(vctx);
  if (kind == CROTON_COMMIT_POINT) return a->alloc(a->ctx, kind, index, ndim, shape, nullptr);
  DLTensor* t = kind == 0 ? &a->out[index] : &a->upd[index];
  *t = DLTensor{};
  if (a->alloc(a->ctx, kind, index, ndim, shape, t) != 0) return 1;
  const croton_function* fn = a->fn;
  // the array has the shape the function asked for (checked below), whatever the pattern
  croton_arg spec = kind == 0 ? fn->outputs[index] : fn->shared[fn->update_target[index]];
  spec.broadcastable = 0;
  const ArgName who{kind == 0 ? "output" : "update", index, nullptr, "from the allocator"};
  if (from_dlpack(*t, spec, who, b, a->err) != 0) {
    a->refused = true;
    return 1;
  }
  // NULL strides are C order; an empty array is contiguous whatever its strides say
  const bool contiguous =
      t->strides == nullptr || numel(ndim, b->shape) == 0 || is_contiguous(*b);
  if (!same_shape(ndim, b->shape, shape) || !contiguous) {
    refuse(a->err, who);
    say(a->err, "has shape ");
    say_shape(a->err, ndim, b->shape);
    say(a->err, " and strides ");
    say_shape(a->err, ndim, b->strides);
    say(a->err, ", expected a C-contiguous array of shape ");
    say_shape(a->err, ndim, shape);
    a->refused = true;
    return 1;
  }
  return 0;
}

// err->message from the code, the check table and the shapes.
inline void describe(const croton_function& fn, croton_error* err) {
  err->message[0] = '\0';
  const croton_check* c =
      err->check >= 0 && err->check < fn.n_checks ? &fn.checks[err->check] : nullptr;
  const char* op = c != nullptr ? c->op : "an operation";
  const char* detail = c != nullptr ? c->detail : "";
  switch (err->code) {
    case CROTON_ERR_SHAPE:
      if (c != nullptr && std::strcmp(c->kind, "shape") == 0) {
        say(err, "%s: %s; shapes ", op, detail);
        say_shape(err, err->ndim_a, err->shape_a);
        say(err, " and ");
        say_shape(err, err->ndim_b, err->shape_b);
      } else if (c != nullptr && std::strcmp(c->kind, "dot") == 0) {
        say(err, "shape mismatch in %s: shapes ", op);
        say_shape(err, err->ndim_a, err->shape_a);
        say(err, " and ");
        say_shape(err, err->ndim_b, err->shape_b);
        say(err, " are not aligned");
      } else if (c != nullptr && std::strcmp(c->kind, "empty_reduce") == 0) {
        say(err, "%s: %s, input shape ", op, detail);
        say_shape(err, err->ndim_a, err->shape_a);
      } else {
        say(err, "shape mismatch in %s: input shapes ", op);
        say_shape(err, err->ndim_a, err->shape_a);
        say(err, " and ");
        say_shape(err, err->ndim_b, err->shape_b);
        if (c != nullptr) say(err, " differ at %s, which is not declared broadcastable", detail);
      }
      // which of the function's arguments the lengths compared come from
      if (c != nullptr && c->arguments != nullptr && c->arguments[0] != '\0')
        say(err, " (the lengths come from %s)", c->arguments);
      break;
    case CROTON_ERR_INDEX:
      say(err, "index %lld is out of bounds for %s of size %lld in %s",
          static_cast<long long>(err->ndim_a > 0 ? err->shape_a[0] : 0), c ? detail : "an axis",
          static_cast<long long>(err->ndim_b > 0 ? err->shape_b[0] : 0), op);
      break;
    case CROTON_ERR_VALUE:
      say(err, "%s: %s", op, c != nullptr ? detail : "invalid value");
      if (err->reason[0] != '\0') say(err, ": %s", err->reason);
      break;
    case CROTON_ERR_ALLOC:
      say(err, "%s", err->reason[0] != '\0' ? err->reason : "out of memory");
      break;
    case CROTON_ERR_TOO_BIG:
      say(err, "array is too big: an array of shape ");
      say_shape(err, err->ndim_a, err->shape_a);
      say(err, " has more elements or bytes than the maximum possible size");
      break;
    case CROTON_ERR_DEVICE:
      say(err, "%s", err->reason[0] != '\0' ? err->reason : "a device call failed");
      break;
    case CROTON_ERR_INTERRUPTED:
      say(err, "interrupted at the commit point (the allocator answered nonzero): nothing "
               "was written");
      break;
    default:
      say(err, "error %d (check %d)", int(err->code), int(err->check));
  }
}

// croton_function.call: check and convert every argument, run `impl`, report the updates and
// describe a failure. bin/bsh/bout/bupd: croton_buffers for the inputs, shared variables,
// outputs and updates (the caller's stack).
CROTON_BRIDGE_ENTRY int call_through_abi(const croton_function& fn, impl_fn impl,
                                         const DLTensor* in,
                            const DLTensor* sh, croton_alloc_fn alloc, void* alloc_ctx,
                            DLTensor* out, DLTensor* upd, croton_error* err, croton_buffer* bin,
                            croton_buffer* bsh, croton_buffer* bout, croton_buffer* bupd) {
  croton_error own;
  if (err == nullptr) err = &own;  // the caller does not want to know why
  err->reason[0] = '\0';
  const struct {
    const void* array;
    int32_t n;
    const char* name;
  } lists[] = {{in, fn.n_inputs, "inputs"}, {sh, fn.n_shared, "shared"},
               {out, fn.n_outputs, "outputs"}, {upd, fn.n_updates, "updates"}};
  for (const auto& l : lists) {
    if (l.n > 0 && l.array == nullptr) {
      refuse(err);
      say(err, "the array of %s is NULL, but the function has %d", l.name, int(l.n));
      return CROTON_ERR_ARGUMENT;
    }
  }
  if (alloc == nullptr && (fn.n_outputs > 0 || fn.n_updates > 0)) {
    refuse(err);
    say(err, "the allocator is NULL, but the function allocates its outputs and updates");
    return CROTON_ERR_ARGUMENT;
  }
  for (int32_t i = 0; i < fn.n_inputs; ++i)
    if (int rc = from_dlpack(in[i], fn.inputs[i], {"input", i, fn.inputs[i].name, nullptr}, &bin[i], err))
      return rc;
  for (int32_t j = 0; j < fn.n_shared; ++j)
    if (int rc = from_dlpack(sh[j], fn.shared[j], {"shared variable", j, fn.shared[j].name, nullptr},
                             &bsh[j], err))
      return rc;
  // an update written in place is the shared variable itself; alloc replaces the others
  for (int32_t k = 0; k < fn.n_updates; ++k) upd[k] = sh[fn.update_target[k]];
  AbiAlloc a{&fn, alloc, alloc_ctx, out, upd, err, false};
  const int rc = impl(bin, bsh, &abi_alloc, &a, bout, bupd, err);
  if (rc == 0) return 0;
  if (a.refused) {  // call_impl reported an allocation failure: say what the array was
    err->code = CROTON_ERR_ARGUMENT;
    err->check = -1;
    err->reason[0] = '\0';
    return CROTON_ERR_ARGUMENT;
  }
  describe(fn, err);
  return rc;
}

}  // namespace croton
#endif  // CROTON_PREBUILT_KERNELS
