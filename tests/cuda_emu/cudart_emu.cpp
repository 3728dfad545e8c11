// The CUDA runtime calls croton/cuda/runtime.py makes through ctypes, emulated on the host for
// tests/test_cuda_emulated.py (device memory = host memory, as in cuda_runtime.h here):
// CROTON_EMU_DEVICES devices (1 by default), compute capability 9.0, named "croton CUDA
// emulator"; each allocation remembers the device that was current (cudaPointerGetAttributes).
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace {
int device_count() {
  const char* n = std::getenv("CROTON_EMU_DEVICES");
  return n != nullptr && std::atoi(n) > 0 ? std::atoi(n) : 1;
}
thread_local int current = 0;
std::mutex owners_mutex;
std::map<const void*, int> owners;  // allocation -> its device
}  // namespace

extern "C" {
struct cudaPointerAttributes {
  int type;  // cudaMemoryType: 0 unregistered (host), 2 device
  int device;
  void* devicePointer;
  void* hostPointer;
};
int cudaGetDeviceCount(int* n) {
  *n = device_count();
  return 0;
}
int cudaGetDevice(int* d) {
  *d = current;
  return 0;
}
int cudaSetDevice(int d) {
  if (d < 0 || d >= device_count()) return 101;  // cudaErrorInvalidDevice
  current = d;
  return 0;
}
int cudaPointerGetAttributes(cudaPointerAttributes* a, const void* p) {
  std::lock_guard<std::mutex> lock(owners_mutex);
  const auto found = owners.find(p);
  *a = {found == owners.end() ? 0 : 2, found == owners.end() ? -2 : found->second,
        const_cast<void*>(p), nullptr};
  return 0;
}
int cudaGetLastError() { return 0; }
const char* cudaGetErrorName(int) { return "cudaErrorEmulated"; }
const char* cudaGetErrorString(int) { return "emulated error"; }
int cudaDeviceGetAttribute(int* value, int attribute, int) {
  *value = attribute == 75 ? 9 : 0;  // cudaDevAttrComputeCapabilityMajor, Minor (76)
  return 0;
}
int cudaGetDeviceProperties(char* props, int) {
  std::strcpy(props, "croton CUDA emulator");
  return 0;
}
int cudaRuntimeGetVersion(int* v) {
  *v = 13000;
  return 0;
}
int cudaDriverGetVersion(int* v) {
  *v = 13000;
  return 0;
}
int cudaMalloc(void** p, size_t n) {
  *p = std::aligned_alloc(256, (n + 255) / 256 * 256);
  if (*p == nullptr) return 2;
  std::lock_guard<std::mutex> lock(owners_mutex);
  owners[*p] = current;
  return 0;
}
int cudaFree(void* p) {
  {
    std::lock_guard<std::mutex> lock(owners_mutex);
    owners.erase(p);
  }
  std::free(p);
  return 0;
}
int cudaMemcpy(void* dst, const void* src, size_t n, int) {
  std::memcpy(dst, src, n);
  return 0;
}
}
