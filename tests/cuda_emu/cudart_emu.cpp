// The CUDA runtime calls croton/cuda/runtime.py makes through ctypes, emulated on the host for
// tests/test_cuda_emulated.py (device memory = host memory, as in cuda_runtime.h here): one
// device, compute capability 9.0, named "croton CUDA emulator".
#include <cstdlib>
#include <cstring>

extern "C" {
int cudaGetDeviceCount(int* n) {
  *n = 1;
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
  return *p ? 0 : 2;
}
int cudaFree(void* p) {
  std::free(p);
  return 0;
}
int cudaMemcpy(void* dst, const void* src, size_t n, int) {
  std::memcpy(dst, src, n);
  return 0;
}
}
