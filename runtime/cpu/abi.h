/* croton's C ABI between a compiled function and whoever calls it (the pybind11 binding layer,
 * or a standalone C++ program using an exported library). Plain C: no Python, no C++ types.
 *
 * Example (C++):
 *   const croton_function* fn = croton_fn_get();           // from the generated translation unit
 *   croton_buffer in[2] = {...}; croton_buffer out[1]; croton_error err{};
 *   if (fn->call(in, nullptr, my_alloc, ctx, out, nullptr, &err) != 0) puts(err.message);
 */
#ifndef CROTON_ABI_H
#define CROTON_ABI_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CROTON_ABI_VERSION 2
#define CROTON_MAX_NDIM 8

/* dtype codes: keep in the order of croton.types.DTYPES */
enum croton_dtype {
  CROTON_BOOL = 0, CROTON_INT8, CROTON_INT16, CROTON_INT32, CROTON_INT64,
  CROTON_UINT8, CROTON_UINT16, CROTON_UINT32, CROTON_UINT64,
  CROTON_FLOAT32, CROTON_FLOAT64, CROTON_COMPLEX64, CROTON_COMPLEX128, CROTON_FLOAT16
};

/* A strided view of memory. Strides count elements, not bytes. */
typedef struct croton_buffer {
  void* data;
  int64_t shape[CROTON_MAX_NDIM];
  int64_t strides[CROTON_MAX_NDIM];
  int32_t ndim;
  int32_t dtype;
} croton_buffer;

enum croton_status {
  CROTON_OK = 0, CROTON_ERR_SHAPE = 1, CROTON_ERR_ALLOC = 2, CROTON_ERR_VALUE = 3,
  CROTON_ERR_INDEX = 4,
  CROTON_ERR_TOO_BIG = 5,    /* a shape whose element or byte count overflows (shape_a) */
  CROTON_ERR_INTERRUPTED = 6 /* the caller's commit-point answer was nonzero: nothing written */
};

/* What went wrong: which check (an index into the function's check table, which names the op
 * and the user's source line) and the shapes involved. */
typedef struct croton_error {
  int32_t code;
  int32_t check;
  int32_t ndim_a, ndim_b;
  int64_t shape_a[CROTON_MAX_NDIM];
  int64_t shape_b[CROTON_MAX_NDIM];
  char message[256];
} croton_error;

typedef struct croton_arg {
  const char* name;
  int32_t dtype;
  int32_t ndim;
  uint32_t broadcastable; /* bit d set: dimension d must have length 1 */
} croton_arg;

/* Allocates an output (kind 0) or a resized update target (kind 1) of the given shape,
 * contiguous, and fills *out. Returns 0 on success.
 * Kind 2 (CROTON_COMMIT_POINT; index 0, ndim 0, shape and out NULL) allocates nothing: the
 * function asks once, after its last kernel that can fail and before it writes anything into a
 * shared buffer, whether to go on. Nonzero: the call returns CROTON_ERR_INTERRUPTED with no
 * shared buffer written (the Python binding answers nonzero when a SIGINT handler raised). */
#define CROTON_COMMIT_POINT 2
typedef int (*croton_alloc_fn)(void* ctx, int32_t kind, int32_t index, int32_t ndim,
                               const int64_t* shape, croton_buffer* out);

typedef struct croton_function {
  int32_t abi_version;
  int32_t n_inputs, n_shared, n_outputs, n_updates;
  const croton_arg* inputs;
  const croton_arg* shared;
  const croton_arg* outputs;
  const int32_t* update_target; /* for each update: the index of the shared variable it writes */
  /* Validates every shape, allocates outputs, computes, then writes the updates (into the
   * shared buffers when the shape is unchanged, else into buffers from alloc). Nothing is
   * written to a shared buffer unless the call succeeds. */
  int (*call)(const croton_buffer* inputs, const croton_buffer* shared, croton_alloc_fn alloc,
              void* alloc_ctx, croton_buffer* outputs, croton_buffer* updates,
              croton_error* err);
} croton_function;

#ifdef __cplusplus
}
#endif
#endif /* CROTON_ABI_H */
