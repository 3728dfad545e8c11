// Dense linear algebra for the CUDA target on the host (codegen/lowering/cuda_linalg.py): the
// CPU's LAPACK kernels (runtime/cpu/kernels/lapack.hpp: inverse, determinant, solve, Cholesky
// and its gradient), run on host copies of the device operands, the result copied back. As
// Theano's GPU back end did where it had no GPU solver: correct, with two copies over the bus
// per call; cuSOLVER is not used. The same errors (a singular matrix, one not positive definite)
// name the op and the user's line.
//
// Example (generated code):
//   if (int rc = croton::cuda::det<float>(B0, B1, scratch, err)) return rc;
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/lapack.hpp"  // the CPU runtime's (runtime/cpu/kernels)

namespace croton {
namespace cuda {

// A host copy of a device buffer: the same shape and strides over host memory that holds the
// buffer's whole span (any strides, negative ones too).
template <class T>
class HostCopy {
 public:
  // Copies `dev`'s span to the host (outputs too: a kernel may leave parts of them unwritten).
  int fetch(const croton_buffer& dev, croton_error* err) {
    dev_ = &dev;
    host_ = dev;
    int64_t lo = 0, hi = 0, count = 1;
    for (int32_t d = 0; d < dev.ndim; ++d) {
      count *= dev.shape[d];
      const int64_t reach = (dev.shape[d] - 1) * dev.strides[d];
      (reach < 0 ? lo : hi) += reach;
    }
    if (count == 0) return 0;
    first_ = lo;
    mem_.resize(size_t(hi - lo + 1));
    host_.data = mem_.data() - lo;
    const cudaError_t status = cudaMemcpy(mem_.data(), static_cast<const T*>(dev.data) + lo,
                                          mem_.size() * sizeof(T), cudaMemcpyDeviceToHost);
    if (status != cudaSuccess) return fail_cuda(err, status, "copying a LAPACK operand to host");
    return 0;
  }
  // Copies the host span back over the device buffer's.
  int store(croton_error* err) {
    if (mem_.empty()) return 0;
    const cudaError_t status = cudaMemcpy(static_cast<T*>(dev_->data) + first_, mem_.data(),
                                          mem_.size() * sizeof(T), cudaMemcpyHostToDevice);
    if (status != cudaSuccess) return fail_cuda(err, status, "copying a LAPACK result to device");
    return 0;
  }
  croton_buffer& host() { return host_; }

 private:
  const croton_buffer* dev_ = nullptr;
  croton_buffer host_{};
  int64_t first_ = 0;
  std::vector<T> mem_;
};

template <class T, class Fn, size_t... K>
int call_on_copies(Fn& fn, HostCopy<T>* copies, Scratch& scratch, std::index_sequence<K...>) {
  return fn(copies[K].host()..., scratch);
}

// fn(host buffers..., host scratch) on host copies of `bufs` (the last one the result, copied
// back to the device). The copies wait for the kernels before them (the legacy default stream).
template <class T, class Fn, class... Buffers>
int on_host(croton_error* err, Fn fn, const Buffers&... bufs) {
  HostCopy<T> copies[sizeof...(bufs)];
  const croton_buffer* devs[] = {&bufs...};
  for (size_t k = 0; k < sizeof...(bufs); ++k)
    if (int rc = copies[k].fetch(*devs[k], err)) return rc;
  Scratch host_scratch;
  if (int rc = call_on_copies(fn, copies, host_scratch, std::index_sequence_for<Buffers...>{}))
    return rc;
  return copies[sizeof...(bufs) - 1].store(err);
}

template <class T, class DeviceScratch>
int matrix_inverse(const croton_buffer& a, const croton_buffer& out, DeviceScratch&,
                   croton_error* err, int32_t cid) {
  return on_host<T>(err, [&](croton_buffer& ha, croton_buffer& ho, Scratch& s) {
    return croton::matrix_inverse<T>(ha, ho, s, err, cid);
  }, a, out);
}

template <class T, class DeviceScratch>
int det(const croton_buffer& a, const croton_buffer& out, DeviceScratch&, croton_error* err) {
  return on_host<T>(err, [&](croton_buffer& ha, croton_buffer& ho, Scratch& s) {
    return croton::det<T>(ha, ho, s, err);
  }, a, out);
}

template <class T, class DeviceScratch>
int solve(const croton_buffer& a, const croton_buffer& b, const croton_buffer& out,
          DeviceScratch&, croton_error* err, int32_t cid) {
  return on_host<T>(err, [&](croton_buffer& ha, croton_buffer& hb, croton_buffer& ho, Scratch& s) {
    return croton::solve<T>(ha, hb, ho, s, err, cid);
  }, a, b, out);
}

template <class T, class DeviceScratch>
int cholesky(const croton_buffer& a, const croton_buffer& out, bool lower, DeviceScratch&,
             croton_error* err, int32_t cid) {
  return on_host<T>(err, [&](croton_buffer& ha, croton_buffer& ho, Scratch& s) {
    return croton::cholesky<T>(ha, ho, lower, s, err, cid);
  }, a, out);
}

template <class T, class DeviceScratch>
int cholesky_grad(const croton_buffer& factor, const croton_buffer& g, const croton_buffer& out,
                  bool lower, DeviceScratch&, croton_error* err) {
  return on_host<T>(err, [&](croton_buffer& hf, croton_buffer& hg, croton_buffer& ho, Scratch& s) {
    return croton::cholesky_grad<T>(hf, hg, ho, lower, s, err);
  }, factor, g, out);
}

}  // namespace cuda
}  // namespace croton
