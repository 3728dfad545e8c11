// Per-call storage of croton's binding layer (binding.cpp's NativeFunction, device_call.cpp's
// DeviceFunction): arrays on the stack for the common small call, and the strong references a
// call holds on what its kernels read.
#pragma once
#include <Python.h>

#include <cstdint>
#include <vector>

namespace croton_binding {

// Per-call arrays: on the stack up to 16 entries, on the heap beyond. With `kZero` the n
// entries start as T{} (null pointers); without, they start uninitialized (buffers that are
// written before they are read: zeroing four arrays of 16 buffers cost ~9 KB of stores a call).
template <class T, bool kZero = true>
class Slots {
 public:
  explicit Slots(int32_t n) {
    if (n > 16) {
      big_.resize(static_cast<size_t>(n));
      data_ = big_.data();
    } else if constexpr (kZero) {
      for (int32_t k = 0; k < n; ++k) small_[k] = T{};
    }
  }
  Slots(const Slots&) = delete;
  Slots& operator=(const Slots&) = delete;
  T* data() { return data_; }

 private:
  T small_[16];
  std::vector<T> big_;
  T* data_ = small_;
};

// Strong references held for the duration of a call (shared storage read, converted inputs),
// so another thread or a callback replacing a shared variable's value cannot free memory the
// kernels use.
class Refs {
 public:
  explicit Refs(int32_t n) : slots_(n), n_(n) {}
  ~Refs() {
    PyObject** p = slots_.data();
    for (int32_t k = 0; k < n_; ++k) Py_XDECREF(p[k]);
  }
  PyObject*& operator[](int32_t k) { return slots_.data()[k]; }

 private:
  Slots<PyObject*> slots_;
  int32_t n_;
};

// The commit point of a call (abi.h: CROTON_COMMIT_POINT), the last moment it can stop
// without an effect: true when a SIGINT's Python handler raised (KeyboardInterrupt), which
// then comes out of the call; the allocator answers nonzero and keeps the GIL (the call
// returns at once).
inline bool interrupted_at_commit_point(bool* interrupted) {
  if (PyErr_CheckSignals() == 0) return false;
  *interrupted = true;
  return true;
}

}  // namespace croton_binding
