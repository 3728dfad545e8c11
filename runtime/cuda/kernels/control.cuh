// Host glue of control flow on the CUDA target (codegen/lowering/control.py, the ifelse and scan
// steps of codegen/templates/function.cpp.j2 and scan_support.cpp.j2): the loop and the branch
// run on the host, their steps' kernels on the device. Two things touch device memory from the
// host here, and only these:
//   - read_value: a computed scalar (an ifelse condition, a scan's n_steps) read to the host
//     with one cudaMemcpy (device to host, which waits for the kernels before it);
//   - zero_bytes: device memory zeroed with cudaMemsetAsync on the default stream (a scan's
//     zero-filled stacks), ordered with the kernels around it.
//
// Example (what the host driver prints for an ifelse):
//   bool cond = false;
//   if (int rc = croton::cuda::read_value<bool>(B3, &cond, err)) return rc;
//   if (cond) { ... } else { ... }
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "runtime.cuh"

namespace croton {
namespace cuda {

// *out = the first element of `b` (device memory), converted as croton::value<T> does.
template <typename T>
inline int read_value(const croton_buffer& b, T* out, croton_error* err) {
  alignas(16) unsigned char bytes[16] = {};
  const cudaError_t status = cudaMemcpy(bytes, b.data, static_cast<size_t>(croton::dtype_size(b.dtype)),
                                        cudaMemcpyDeviceToHost);
  if (status != cudaSuccess) return fail_cuda(err, status, "reading a scalar from the device");
  *out = croton::value_of_bytes<T>(b.dtype, bytes);  // croton::value reads device memory
  return 0;
}

// Zeroes `bytes` bytes of device memory at `data` (stream-ordered); false when CUDA refused.
inline bool zero_bytes(void* data, int64_t bytes) {
  if (bytes <= 0) return true;
  if (cudaMemsetAsync(data, 0, static_cast<size_t>(bytes), 0) == cudaSuccess) return true;
  cudaGetLastError();  // not sticky: the call reports it as an allocation failure
  return false;
}

}  // namespace cuda
}  // namespace croton
