// The CUDA runtime every translation unit of the CUDA target includes (codegen/target.py: CUDA,
// codegen/templates/cuda/loops.j2). The host driver is the CPU's (shapes, checks, allocation
// through the caller's allocator, views; runtime/cpu), compiled by nvcc's host compiler; what
// differs is here:
//   - arrays crossing the ABI are DLPack kDLCUDA (device memory), checked by abi_bridge.hpp;
//   - scratch memory is device memory, kept per thread between calls (DeviceScratch);
//   - loops are kernels (launch.cuh: grid-stride launches; reduce.cuh: block reductions);
//   - a failed launch or kernel is reported as CROTON_ERR_DEVICE with CUDA's own words, and
//     the entry waits for the call's kernels before it returns (call_through_abi below), so a
//     kernel's error belongs to the call that ran it.
// The scalar helpers of the op table (runtime/cpu/scalar.hpp, special.hpp) are marked
// CROTON_HD, so the kernels call the same croton:: functions as the CPU's loops.
#pragma once
#include <cuda_runtime.h>
// float16: the plan names it _Float16 (the host compiler's type: croton/types.py CXX_TYPE), which
// nvcc has no device type for; in a CUDA translation unit the name is CUDA's __half
// (cuda_fp16.h), which converts to and from float and double on the host and the device. Only
// conversions and copies ever touch it (every op computes float16 in float32:
// codegen/passes/float16.py). The standard headers come first, so only croton's code sees the name.
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <limits>
#include <type_traits>
#define _Float16 __half

#define CROTON_DEVICE_TYPE kDLCUDA
// the CPU's cold code (cold.hpp: `#pragma GCC optimize`) is compiled at the flags' level: nvcc's
// front end does not know the pragma (its warning 1675) in the kernels' headers it includes
#define CROTON_NO_COLD
#define CROTON_DEVICE_WORDS \
  "a CUDA device only (DLPack kDLCUDA): pass device memory (a croton DeviceArray, or a " \
  "CuPy/PyTorch CUDA array through DLPack)"
namespace croton {
namespace cuda {
// The device the running call of this thread runs on (call_through_abi below; -1 outside a
// call): every array it takes must be there (abi_bridge.hpp checks).
inline int& call_device() {
  static thread_local int device = -1;
  return device;
}
}  // namespace cuda
}  // namespace croton
#define CROTON_CALL_DEVICE_ID() ::croton::cuda::call_device()
namespace croton {
namespace cuda {
// The host driver's read of a computed value (a slice bound, a computed shape; croton::value in
// runtime.hpp): a synchronous copy from device memory, after the kernels that computed it. A
// failed copy reads 0 and leaves CUDA's error for the entry, which reports it (call_through_abi).
inline void read_device_bytes(void* dst, const void* src, size_t bytes) {
  if (cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost) != cudaSuccess)
    for (size_t k = 0; k < bytes; ++k) static_cast<unsigned char*>(dst)[k] = 0;
}
}  // namespace cuda
}  // namespace croton
#define CROTON_READ_VALUE(dst, src, bytes) ::croton::cuda::read_device_bytes(dst, src, bytes)
// profile=True: each timed step waits for its kernels (runtime/cpu/profile.hpp); an error is
// left for the entry, which reports it (call_through_abi)
#define CROTON_PROFILE_WAIT() ((void)cudaStreamSynchronize(0))
// nvcc's front end does not know blas.hpp's `#pragma GCC optimize` (for the host compiler):
// its warning 1675 says so, and nothing else, for the runtime's headers
#pragma nv_diag_suppress 1675
#include "runtime.hpp"
#include "abi_bridge.hpp"
#pragma nv_diag_default 1675

namespace croton {
namespace cuda {

// err as a failed device call: CUDA's name and text for `status`, and what croton was doing.
inline int fail_cuda(croton_error* err, cudaError_t status, const char* what) {
  err->code = CROTON_ERR_DEVICE;
  err->check = -1;
  err->ndim_a = err->ndim_b = 0;
  err->message[0] = '\0';
  std::snprintf(err->reason, sizeof(err->reason), "CUDA error in %s: %s (%s)", what,
                cudaGetErrorName(status), cudaGetErrorString(status));
  return CROTON_ERR_DEVICE;
}

// After a launch: 0, or the launch's error (a bad configuration, no device, an architecture
// the binary was not built for: cudaErrorNoKernelImageForDevice).
inline int check_launch(croton_error* err, const char* what) {
  const cudaError_t status = cudaGetLastError();
  return status == cudaSuccess ? 0 : fail_cuda(err, status, what);
}

// Device scratch memory of one function on one thread: the CPU's Scratch (runtime.hpp) over
// cudaMalloc. Blocks are handed out in request order and kept for the thread's next call (the
// entry waits for the call's kernels, so no kernel still reads a block when the next call
// starts); a block too small for its request is replaced by a larger one.
class DeviceScratch {
 public:
  DeviceScratch() = default;
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  ~DeviceScratch() { release(); }
  // Its blocks back to their device (errors at exit: ignored).
  void release() {
    int current = 0;
    const bool switch_device = count_ > 0 && cudaGetDevice(&current) == cudaSuccess &&
                               current != device_;
    if (switch_device) cudaSetDevice(device_);
    for (int32_t k = 0; k < count_; ++k) cudaFree(blocks_[k].data);
    if (switch_device) cudaSetDevice(current);
    count_ = cursor_ = 0;
  }
  // 256-byte aligned device memory of at least `bytes` (cudaMalloc's alignment); nullptr when
  // out of device memory or blocks.
  void* alloc(int64_t bytes) {
    if (bytes < 1) bytes = 1;
    if (bytes > kMaxBytes || cursor_ >= kMaxBlocks) return nullptr;
    Block& block = blocks_[cursor_];
    if (cursor_ == count_ || block.capacity < bytes) {
      void* grown = nullptr;
      if (cudaMalloc(&grown, static_cast<size_t>(bytes)) != cudaSuccess) {
        cudaGetLastError();  // not sticky: clear it, the call reports out of memory
        return nullptr;
      }
      if (stats_ != nullptr) {  // profiling: blocks and bytes allocated
        __atomic_fetch_add(&stats_[0], uint64_t(1), __ATOMIC_RELAXED);
        __atomic_fetch_add(&stats_[1], uint64_t(bytes), __ATOMIC_RELAXED);
      }
      if (cursor_ < count_) cudaFree(block.data);
      block.data = grown;
      block.capacity = bytes;
      if (cursor_ == count_) ++count_;
    }
    return blocks_[cursor_++].data;
  }
  // Ready for a call on `device`: blocks kept from a call on another device are freed.
  void rewind(uint64_t* stats, int device) {
    if (device != device_) {
      release();
      device_ = device;
    }
    cursor_ = 0;
    stats_ = stats;
  }
  bool busy = false;

 private:
  static constexpr int32_t kMaxBlocks = 256;
  struct Block {
    void* data;
    int64_t capacity;
  };
  Block blocks_[kMaxBlocks] = {};
  int32_t count_ = 0, cursor_ = 0;
  int device_ = 0;  // where the blocks are
  uint64_t* stats_ = nullptr;
};

// The thread's kept DeviceScratch for one call, or a private one when a call re-enters the
// function on this thread (as croton::ScratchLease).
class ScratchLease {
 public:
  ScratchLease(DeviceScratch& kept, uint64_t* stats) : scratch_(kept.busy ? &own_ : &kept) {
    scratch_->busy = true;
    int device = 0;
    if (cudaGetDevice(&device) != cudaSuccess) cudaGetLastError();
    scratch_->rewind(stats, device);
  }
  ScratchLease(const ScratchLease&) = delete;
  ScratchLease& operator=(const ScratchLease&) = delete;
  ~ScratchLease() { scratch_->busy = false; }
  DeviceScratch& get() { return *scratch_; }

 private:
  DeviceScratch own_;
  DeviceScratch* scratch_;
};

// The device address of a __device__ array (a constant of the function), nullptr when there is
// no device.
template <class T>
T* symbol_address(const T& symbol) {
  void* address = nullptr;
  if (cudaGetSymbolAddress(&address, symbol) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  return static_cast<T*>(address);
}

// The entry of a CUDA function (croton_function.call): the CPU's bridge (argument checks,
// conversion, the allocator, messages), then a wait for the call's kernels on the default
// stream, so an error of a kernel is this call's and the outputs are ready when it returns.
// The device a call runs on: that of its first CUDA array (inputs, then shared variables), else
// the thread's current device. It is made current for the call (kernels, scratch, cuBLAS) and
// the caller's current device is restored afterwards, as PyTorch's device guard does.
class CallDevice {
 public:
  CallDevice(const croton_function& fn, const DLTensor* in, const DLTensor* sh) {
    int device = -1;
    for (int32_t i = 0; i < fn.n_inputs && device < 0; ++i)
      if (in[i].device.device_type == kDLCUDA) device = in[i].device.device_id;
    for (int32_t j = 0; j < fn.n_shared && device < 0; ++j)
      if (sh[j].device.device_type == kDLCUDA) device = sh[j].device.device_id;
    if (cudaGetDevice(&previous_) != cudaSuccess) {
      cudaGetLastError();
      previous_ = 0;
    }
    if (device < 0) device = previous_;
    if (device != previous_) status_ = cudaSetDevice(device);
    outer_ = call_device();
    call_device() = device;
  }
  CallDevice(const CallDevice&) = delete;
  CallDevice& operator=(const CallDevice&) = delete;
  ~CallDevice() {
    call_device() = outer_;
    if (call_device_changed_) cudaSetDevice(previous_);
  }
  // cudaSuccess, or why the call's device could not be made current (no such device)
  cudaError_t make_current() {
    call_device_changed_ = status_ == cudaSuccess && call_device() != previous_;
    return status_;
  }

 private:
  int previous_ = 0, outer_ = -1;
  cudaError_t status_ = cudaSuccess;
  bool call_device_changed_ = false;
};

inline int call_through_abi(const croton_function& fn, impl_fn impl, const DLTensor* in,
                            const DLTensor* sh, croton_alloc_fn alloc, void* alloc_ctx,
                            DLTensor* out, DLTensor* upd, croton_error* err, croton_buffer* bin,
                            croton_buffer* bsh, croton_buffer* bout, croton_buffer* bupd) {
  croton_error own;
  if (err == nullptr) err = &own;
  CallDevice device(fn, in, sh);
  if (const cudaError_t status = device.make_current(); status != cudaSuccess) {
    cudaGetLastError();
    fail_cuda(err, status, "cudaSetDevice (the device of the call's first array)");
    std::snprintf(err->message, sizeof(err->message), "%s", err->reason);
    return CROTON_ERR_DEVICE;
  }
  const int rc = croton::call_through_abi(fn, impl, in, sh, alloc, alloc_ctx, out, upd, err, bin,
                                          bsh, bout, bupd);
  cudaError_t status = cudaStreamSynchronize(0);
  if (status == cudaSuccess) status = cudaGetLastError();  // a failed read of a value
  if (rc != 0) return rc;
  if (status != cudaSuccess) {
    fail_cuda(err, status, "a kernel of the call");
    describe(fn, err);
    return CROTON_ERR_DEVICE;
  }
  return 0;
}

}  // namespace cuda

// Scratch for buffer `b` from the device arena (the CPU's alloc_scratch, for DeviceScratch).
inline int alloc_scratch(cuda::DeviceScratch& scratch, croton_buffer* b, int64_t itemsize,
                         croton_error* err) {
  const int64_t bytes = array_bytes(b->ndim, b->shape, itemsize);
  if (bytes < 0) return fail_too_big(err, b->ndim, b->shape);
  b->data = scratch.alloc(bytes);
  if (b->data == nullptr) return fail_alloc(err);
  contiguous_strides(b->ndim, b->shape, b->strides);
  return 0;
}

}  // namespace croton

#include "launch.cuh"
#include "reduce.cuh"
#include "kernels/control.cuh"
