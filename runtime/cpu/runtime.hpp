// The CPU runtime every generated translation unit includes: croton's array view (buffer.hpp,
// over the C ABI of abi.h), scalar helpers, the BLAS bridge, scratch memory and error
// reporting. Header-only; no Python.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <limits>

#include "abi.h"
#include "buffer.hpp"
#include "simd_math.hpp"
#include "parallel.hpp"
#include "blas.hpp"
#include "scalar.hpp"

namespace croton {

// The most bytes one array may hold (NumPy's limit: the byte count must fit a signed
// pointer difference); element and byte counts beyond it are refused, never wrapped.
constexpr int64_t kMaxBytes = std::numeric_limits<int64_t>::max() / 2;
// What numel and mul_sat give for a count that overflows.
constexpr int64_t kTooMany = std::numeric_limits<int64_t>::max();

// a * b, or INT64_MAX when the product overflows (so a byte count that does not fit stays
// too big instead of wrapping to a small number). Both nonnegative.
inline int64_t mul_sat(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? kTooMany : r;
}

// Scratch memory of one function on one thread (a `static thread_local` in each generated
// function, handed to a call through ScratchLease). Blocks are handed out in request order and
// kept when the call returns; the next call gets the same blocks in the same order (a block too
// small for its request is replaced by a larger one), so a call in the steady state allocates
// nothing. (No <vector> or <memory>: each standard header costs parse time in every generated
// translation unit.)
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    while (head_ != nullptr) {
      Block* next = head_->next;
      std::free(head_);
      head_ = next;
    }
  }
  // 64-byte aligned memory of at least `bytes`; nullptr when out of memory (or when `bytes`
  // is beyond any allocation: a saturated count from mul_sat / numel).
  void* alloc(int64_t bytes) {
    if (bytes < 1) bytes = 1;
    if (bytes > kMaxBytes) return nullptr;
    Block* block = *cursor_;
    if (block == nullptr || block->capacity < bytes) {
      auto* grown = static_cast<Block*>(std::malloc(sizeof(Block) + static_cast<size_t>(bytes) + 64));
      if (grown == nullptr) return nullptr;
      grown->capacity = bytes;
      grown->next = block != nullptr ? block->next : nullptr;
      if (stats_ != nullptr) {  // profiling: blocks and bytes allocated
        __atomic_fetch_add(&stats_[0], uint64_t(1), __ATOMIC_RELAXED);
        __atomic_fetch_add(&stats_[1], uint64_t(bytes), __ATOMIC_RELAXED);
      }
      std::free(block);
      *cursor_ = grown;
      block = grown;
    }
    cursor_ = &block->next;
    auto addr = reinterpret_cast<uintptr_t>(block + 1);
    return reinterpret_cast<void*>((addr + 63) & ~uintptr_t(63));
  }
  // Start a call: hand the kept blocks out again from the first; count new ones in `stats`
  // (two counters: blocks, bytes; nullptr: not counted).
  void rewind(uint64_t* stats) {
    cursor_ = &head_;
    stats_ = stats;
  }
  bool busy = false;

 private:
  struct Block {
    Block* next;
    int64_t capacity;
  };
  Block* head_ = nullptr;
  Block** cursor_ = &head_;
  uint64_t* stats_ = nullptr;
};

// The thread's kept Scratch for one call, or (when a call re-enters the same function on this
// thread, e.g. from an allocator callback) a private one freed when the call returns.
class ScratchLease {
 public:
  ScratchLease(Scratch& kept, uint64_t* stats) : scratch_(kept.busy ? &own_ : &kept) {
    scratch_->busy = true;
    scratch_->rewind(stats);
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  ~ScratchLease() { scratch_->busy = false; }
  Scratch& get() { return *scratch_; }

 private:
  Scratch own_;
  Scratch* scratch_;
};

// Bytes per element of a croton dtype code.
inline int64_t dtype_size(int32_t dtype) {
  switch (dtype) {
    case CROTON_BOOL: case CROTON_INT8: case CROTON_UINT8: return 1;
    case CROTON_INT16: case CROTON_UINT16: case CROTON_FLOAT16: return 2;
    case CROTON_INT32: case CROTON_UINT32: case CROTON_FLOAT32: return 4;
    case CROTON_COMPLEX128: return 16;
    default: return 8;
  }
}

// Contiguous (C-order) element strides for `shape`.
inline void contiguous_strides(int32_t ndim, const int64_t* shape, int64_t* strides) {
  int64_t s = 1;
  for (int32_t d = ndim - 1; d >= 0; --d) {
    strides[d] = s;
    s *= shape[d] > 0 ? shape[d] : 1;
  }
}

// The element count of `shape`, saturated at INT64_MAX when the product overflows (a zero
// length anywhere gives 0).
inline int64_t numel(int32_t ndim, const int64_t* shape) {
  int64_t n = 1;
  bool overflow = false;
  for (int32_t d = 0; d < ndim; ++d) {
    if (shape[d] == 0) return 0;
    overflow = overflow || __builtin_mul_overflow(n, shape[d], &n);
  }
  return overflow ? kTooMany : n;
}

// The bytes of a contiguous array of `shape` with `itemsize`-byte elements; -1 when that is
// more than any array may hold (kMaxBytes).
inline int64_t array_bytes(int32_t ndim, const int64_t* shape, int64_t itemsize) {
  const int64_t bytes = mul_sat(numel(ndim, shape), itemsize);
  return bytes > kMaxBytes ? -1 : bytes;
}

inline bool same_shape(int32_t ndim, const int64_t* a, const int64_t* b) {
  for (int32_t d = 0; d < ndim; ++d)
    if (a[d] != b[d]) return false;
  return true;
}

// True when `b` is C-contiguous for its shape (length-1 dims may have any stride).
inline bool is_contiguous(const croton_buffer& b) {
  int64_t s = 1;
  for (int32_t d = b.ndim - 1; d >= 0; --d) {
    if (b.shape[d] != 1 && b.strides[d] != s) return false;
    s *= b.shape[d];
  }
  return true;
}

inline void set_buffer(croton_buffer* b, void* data, int32_t dtype, int32_t ndim,
                       const int64_t* shape) {
  b->data = data;
  b->dtype = dtype;
  b->ndim = ndim;
  for (int32_t d = 0; d < ndim; ++d) b->shape[d] = shape[d];
  contiguous_strides(ndim, shape, b->strides);
}

inline int fail_shape(croton_error* err, int32_t check, int32_t na, const int64_t* a, int32_t nb,
                      const int64_t* b) {
  err->code = CROTON_ERR_SHAPE;
  err->check = check;
  err->ndim_a = na;
  err->ndim_b = nb;
  for (int32_t d = 0; d < na; ++d) err->shape_a[d] = a[d];
  for (int32_t d = 0; d < nb; ++d) err->shape_b[d] = b[d];
  return CROTON_ERR_SHAPE;
}

// An index outside [-size, size): check `check` names the op and the user's line.
inline int fail_index(croton_error* err, int32_t check, int64_t index, int64_t size) {
  err->code = CROTON_ERR_INDEX;
  err->check = check;
  err->ndim_a = 1;
  err->ndim_b = 1;
  err->shape_a[0] = index;
  err->shape_b[0] = size;
  return CROTON_ERR_INDEX;
}

// `text` into a fixed char array, cut to fit and always terminated.
template <size_t N>
inline void copy_text(char (&dst)[N], const char* text) {
  size_t n = 0;
  for (; n + 1 < N && text[n] != '\0'; ++n) dst[n] = text[n];
  dst[n] = '\0';
}

// A bad value (a singular matrix, a negative size...): `reason` adds what the kernel found.
inline int fail_value(croton_error* err, int32_t check, const char* reason) {
  err->code = CROTON_ERR_VALUE;
  err->check = check;
  err->ndim_a = 0;
  err->ndim_b = 0;
  copy_text(err->reason, reason);
  return CROTON_ERR_VALUE;
}

// How the host reads the bytes of a computed value: a copy from memory the host can read; the
// CUDA runtime (runtime/cuda/runtime.cuh) defines it first, as a copy from device memory.
#ifndef CROTON_READ_VALUE
#define CROTON_READ_VALUE(dst, src, bytes) std::memcpy(dst, src, bytes)
#endif

// The element of `dtype` at host memory `p`, converted.
template <typename T>
inline T value_of_bytes(int32_t dtype, const void* p) {
  switch (dtype) {
    case CROTON_BOOL: return static_cast<T>(*static_cast<const bool*>(p));
    case CROTON_INT8: return static_cast<T>(*static_cast<const int8_t*>(p));
    case CROTON_INT16: return static_cast<T>(*static_cast<const int16_t*>(p));
    case CROTON_INT32: return static_cast<T>(*static_cast<const int32_t*>(p));
    case CROTON_INT64: return static_cast<T>(*static_cast<const int64_t*>(p));
    case CROTON_UINT8: return static_cast<T>(*static_cast<const uint8_t*>(p));
    case CROTON_UINT16: return static_cast<T>(*static_cast<const uint16_t*>(p));
    case CROTON_UINT32: return static_cast<T>(*static_cast<const uint32_t*>(p));
    case CROTON_UINT64: return static_cast<T>(*static_cast<const uint64_t*>(p));
    case CROTON_FLOAT32: return static_cast<T>(*static_cast<const float*>(p));
    case CROTON_FLOAT16:
      return static_cast<T>(static_cast<float>(*static_cast<const _Float16*>(p)));
    default: return static_cast<T>(*static_cast<const double*>(p));
  }
}

// The first element of a buffer (a computed scalar), converted: shapes and bounds that depend
// on values computed earlier in the call read them with this.
template <typename T>
inline T value(const croton_buffer& b) {
  alignas(8) unsigned char raw[8] = {};
  const int64_t bytes = dtype_size(b.dtype);
  CROTON_READ_VALUE(raw, b.data, static_cast<size_t>(bytes < 8 ? bytes : 8));
  return value_of_bytes<T>(b.dtype, raw);
}

// An array whose element or byte count does not fit (NumPy's "array is too big").
inline int fail_too_big(croton_error* err, int32_t ndim, const int64_t* shape) {
  err->code = CROTON_ERR_TOO_BIG;
  err->check = -1;
  err->ndim_a = ndim;
  err->ndim_b = 0;
  for (int32_t d = 0; d < ndim; ++d) err->shape_a[d] = shape[d];
  return CROTON_ERR_TOO_BIG;
}

// The caller's commit-point answer stopped the call (a pending KeyboardInterrupt).
inline int fail_interrupted(croton_error* err) {
  err->code = CROTON_ERR_INTERRUPTED;
  err->check = -1;
  err->ndim_a = err->ndim_b = 0;
  return CROTON_ERR_INTERRUPTED;
}

inline int fail_alloc(croton_error* err) {
  err->code = CROTON_ERR_ALLOC;
  err->check = -1;
  err->ndim_a = err->ndim_b = 0;
  copy_text(err->reason, "out of memory");
  return CROTON_ERR_ALLOC;
}

// Contiguous scratch memory for buffer `b` (its shape set): 0, or the error's status (too big
// to exist, or out of memory).
inline int alloc_scratch(Scratch& scratch, croton_buffer* b, int64_t itemsize, croton_error* err) {
  const int64_t bytes = array_bytes(b->ndim, b->shape, itemsize);
  if (bytes < 0) return fail_too_big(err, b->ndim, b->shape);
  b->data = scratch.alloc(bytes);
  if (b->data == nullptr) return fail_alloc(err);
  contiguous_strides(b->ndim, b->shape, b->strides);
  return 0;
}

}  // namespace croton
