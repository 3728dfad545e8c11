/* croton's C ABI between a compiled function and whoever calls it (the pybind11 binding layer,
 * or a standalone C or C++ program linking an exported function). Plain C: no Python, no C++
 * types. Arrays cross it as DLPack's DLTensor (dlpack.h, vendored), the struct NumPy, PyTorch,
 * JAX and CuPy exchange, so an exported function and the Python binding speak the same struct.
 *
 * What a DLTensor passed in must be (the function checks all of it before it runs anything, and
 * refuses the call with CROTON_ERR_ARGUMENT and a message naming the argument otherwise):
 *   - device {kDLCPU, 0} (a function compiled for the CUDA target: {kDLCUDA, id}, device
 *     memory of the current device);
 *   - dtype exactly croton_arg.dtype (lanes 1), ndim exactly croton_arg.ndim;
 *   - every dimension whose bit is set in croton_arg.broadcastable of length 1;
 *   - data + byte_offset aligned to the element (to its scalar for complex types); data may be
 *     NULL only when the array has no element;
 *   - strides in elements (any sign; 0 for a repeated element), or NULL for C-contiguous.
 * shape and strides are only read during the call; the function keeps no pointer into them.
 *
 * Example (C++; `fn` comes from an exported function library, here x: float64 (n,), one output):
 *
 *   const croton_function* fn = croton_function_get();
 *   double xs[3] = {1, 2, 3};
 *   int64_t xshape[1] = {3};
 *   DLTensor in[1] = {{xs, {kDLCPU, 0}, 1, {kDLFloat, 64, 1}, xshape, NULL, 0}};
 *   DLTensor out[1];                  // filled by my_alloc (see croton_alloc_fn)
 *   croton_error err = {0};
 *   if (fn->call(in, NULL, my_alloc, my_ctx, out, NULL, &err) != 0)
 *     fprintf(stderr, "%s\n", err.message);  // e.g. "shape mismatch in add: input shapes (3,)
 *                                            // and (4,) differ at dimension 0, which is not
 *                                            // declared broadcastable"
 */
#ifndef CROTON_ABI_H
#define CROTON_ABI_H
#include <stdint.h>

#include "dlpack.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 3: arrays are DLTensor (was croton_buffer); croton_arg.dtype is a DLDataType; the check table
 * and full messages (croton_check, croton_error.message).
 * 4: croton_check.arguments (the function's arguments whose lengths a check compares). */
#define CROTON_ABI_VERSION 4
#define CROTON_MAX_NDIM 8

enum croton_status {
  CROTON_OK = 0, CROTON_ERR_SHAPE = 1, CROTON_ERR_ALLOC = 2, CROTON_ERR_VALUE = 3,
  CROTON_ERR_INDEX = 4,
  CROTON_ERR_TOO_BIG = 5,     /* a shape whose element or byte count overflows (shape_a) */
  CROTON_ERR_INTERRUPTED = 6, /* the caller's commit-point answer was nonzero: nothing written */
  CROTON_ERR_ARGUMENT = 7,    /* an argument (or an array from alloc) is not what the function
                                 takes: device, dtype, ndim, layout; see the message */
  CROTON_ERR_DEVICE = 8       /* a device runtime call or kernel failed (CUDA: the launch or
                                 the kernel's error, named in reason and message) */
};

/* One run-time check of the function: what a failure of it means. `kind` is "broadcast",
 * "dot", "empty_reduce", "shape", "index" or "value"; `op` names the operation ("add",
 * "dot", "reshape"...), `detail` what it compared ("dimension 1", "inner dimensions"...),
 * `arguments` the function's arguments whose lengths it compares ("input 0 ('x') and shared
 * variable 0 ('W')"; "" when not known). The user's source line is not in the table (Python
 * adds it from its own copy). */
typedef struct croton_check {
  const char* kind;
  const char* op;
  const char* detail;
  const char* arguments;
} croton_check;

/* What went wrong. `message` is the whole story, ready to print (op, detail, shapes);
 * the other fields are the same facts as data: `check` indexes croton_function.checks (-1:
 * none), shape_a/shape_b are the shapes compared (for an index error: the index and the size),
 * `reason` is what a kernel found ("singular matrix"), empty when nothing more was said. */
typedef struct croton_error {
  int32_t code;
  int32_t check;
  int32_t ndim_a, ndim_b;
  int64_t shape_a[CROTON_MAX_NDIM];
  int64_t shape_b[CROTON_MAX_NDIM];
  char reason[128];
  char message[512];
} croton_error;

typedef struct croton_arg {
  const char* name;
  DLDataType dtype;
  int32_t ndim;
  uint32_t broadcastable; /* bit d set: dimension d must have length 1 */
} croton_arg;

/* Allocates output `index` (kind 0) or update `index` whose shape changed (kind 1): fills *out
 * with a C-contiguous CPU array of that dtype (croton_arg of the output, or of the shared
 * variable the update writes), ndim and shape: out->shape must point to ndim lengths that the
 * caller owns (they stay the array's shape after the call returns); out->strides may be NULL.
 * Returns 0 on success. The function checks what it gets (CROTON_ERR_ARGUMENT otherwise).
 * Kind 2 (CROTON_COMMIT_POINT; index 0, ndim 0, shape and out NULL) allocates nothing: the
 * function asks once, after its last kernel that can fail and before it writes anything into a
 * shared buffer, whether to go on. Nonzero: the call returns CROTON_ERR_INTERRUPTED with no
 * shared buffer written (the Python binding answers nonzero when a SIGINT handler raised). */
#define CROTON_COMMIT_POINT 2
typedef int (*croton_alloc_fn)(void* ctx, int32_t kind, int32_t index, int32_t ndim,
                               const int64_t* shape, DLTensor* out);

typedef struct croton_function {
  int32_t abi_version;
  int32_t n_inputs, n_shared, n_outputs, n_updates, n_checks;
  const croton_arg* inputs;
  const croton_arg* shared;
  const croton_arg* outputs;
  const int32_t* update_target; /* for each update: the index of the shared variable it writes */
  const croton_check* checks;   /* n_checks entries: croton_error.check indexes it */
  /* Checks every argument, then every shape, allocates outputs, computes, then writes the
   * updates. Nothing is written to a shared buffer unless the call succeeds. On success,
   * updates[k] is the array now holding update k's value: shared[update_target[k]] itself
   * (same data: written in place) or an array from alloc (kind 1) that the caller swaps in.
   * On failure (nonzero return, the croton_status), *err says why. */
  int (*call)(const DLTensor* inputs, const DLTensor* shared, croton_alloc_fn alloc,
              void* alloc_ctx, DLTensor* outputs, DLTensor* updates, croton_error* err);
} croton_function;

#ifdef __cplusplus
}
#endif
#endif /* CROTON_ABI_H */
