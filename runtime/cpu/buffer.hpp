// croton's own array view, inside a compiled function: what the kernels and the generated code
// read (`B3.shape[d]`, `B3.strides[d]`). Not part of the C ABI, which passes DLPack's DLTensor
// (abi.h): the function's entry converts each DLTensor to a croton_buffer once, after checking
// it (abi_bridge.hpp). Inline shape and strides (no pointers to chase, and a view is a copy),
// strides in elements, data already offset (DLTensor.byte_offset added).
#pragma once
#include <cstdint>

#include "abi.h"

/* dtype codes: keep in the order of croton.types.DTYPES */
enum croton_dtype {
  CROTON_BOOL = 0, CROTON_INT8, CROTON_INT16, CROTON_INT32, CROTON_INT64,
  CROTON_UINT8, CROTON_UINT16, CROTON_UINT32, CROTON_UINT64,
  CROTON_FLOAT32, CROTON_FLOAT64, CROTON_COMPLEX64, CROTON_COMPLEX128, CROTON_FLOAT16
};

/* A strided view of memory. Strides count elements, not bytes. */
struct croton_buffer {
  void* data;
  int64_t shape[CROTON_MAX_NDIM];
  int64_t strides[CROTON_MAX_NDIM];
  int32_t ndim;
  int32_t dtype;
};

namespace croton {

// The DLPack dtype of a croton dtype code (bool is DLPack's kDLBool, one byte).
constexpr DLDataType dl_dtype(int32_t code) {
  switch (code) {
    case CROTON_BOOL: return DLDataType{kDLBool, 8, 1};
    case CROTON_INT8: return DLDataType{kDLInt, 8, 1};
    case CROTON_INT16: return DLDataType{kDLInt, 16, 1};
    case CROTON_INT32: return DLDataType{kDLInt, 32, 1};
    case CROTON_INT64: return DLDataType{kDLInt, 64, 1};
    case CROTON_UINT8: return DLDataType{kDLUInt, 8, 1};
    case CROTON_UINT16: return DLDataType{kDLUInt, 16, 1};
    case CROTON_UINT32: return DLDataType{kDLUInt, 32, 1};
    case CROTON_UINT64: return DLDataType{kDLUInt, 64, 1};
    case CROTON_FLOAT32: return DLDataType{kDLFloat, 32, 1};
    case CROTON_FLOAT64: return DLDataType{kDLFloat, 64, 1};
    case CROTON_COMPLEX64: return DLDataType{kDLComplex, 64, 1};
    case CROTON_COMPLEX128: return DLDataType{kDLComplex, 128, 1};
    case CROTON_FLOAT16: return DLDataType{kDLFloat, 16, 1};
    default: return DLDataType{kDLOpaqueHandle, 0, 0};
  }
}

// The croton dtype code of a DLPack dtype; -1 for one croton has no code for (bfloat16, fp8,
// vector lanes...). On every call's path: a switch, no search.
constexpr int32_t dtype_code(DLDataType t) {
  if (t.lanes != 1) return -1;
  const int32_t bits = t.bits;
  switch (t.code) {
    case kDLBool: return bits == 8 ? CROTON_BOOL : -1;
    case kDLInt:
      return bits == 8 ? CROTON_INT8 : bits == 16 ? CROTON_INT16 : bits == 32 ? CROTON_INT32
           : bits == 64 ? CROTON_INT64 : -1;
    case kDLUInt:
      return bits == 8 ? CROTON_UINT8 : bits == 16 ? CROTON_UINT16 : bits == 32 ? CROTON_UINT32
           : bits == 64 ? CROTON_UINT64 : -1;
    case kDLFloat:
      return bits == 16 ? CROTON_FLOAT16 : bits == 32 ? CROTON_FLOAT32
           : bits == 64 ? CROTON_FLOAT64 : -1;
    case kDLComplex: return bits == 64 ? CROTON_COMPLEX64 : bits == 128 ? CROTON_COMPLEX128 : -1;
    default: return -1;
  }
}

constexpr bool same_dtype(DLDataType a, DLDataType b) {
  return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes;
}

}  // namespace croton

namespace croton {

// The allocator inside a compiled function (croton_alloc_fn, over croton_buffer): the entry
// (abi_bridge.hpp) hands call_impl one that forwards to the caller's croton_alloc_fn and checks
// and converts the DLTensor it gets; a scan hands its step function one that gives out rows.
using alloc_fn = int (*)(void* ctx, int32_t kind, int32_t index, int32_t ndim,
                         const int64_t* shape, croton_buffer* out);

}  // namespace croton
