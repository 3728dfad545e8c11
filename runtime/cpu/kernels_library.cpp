// libcroton_kernels: the runtime's heaviest kernel templates, instantiated once per toolchain
// (build_tools/kernels.py builds it with the functions' own flags). A function's translation
// unit compiled with CROTON_PREBUILT_KERNELS sees these instantiations declared extern (each
// header lists its own, CROTON_<FAMILY>_INSTANCES) and links this library instead of compiling
// them again: the convolutions alone took 1.5 to 2 s of every LeNet-style function's build.
// A dtype missing from a family's list is still compiled in the function, as before. The C
// ABI's entry (abi_bridge.hpp: checking and converting every DLTensor) is compiled here too.
#define CROTON_KERNELS_LIBRARY 1
#include "runtime.hpp"
#include "abi.h"
#include "abi_bridge.hpp"
#include "blas.hpp"
#include "kernels/conv.hpp"
#include "kernels/dot.hpp"
#include "kernels/gemm.hpp"
#include "kernels/gemv.hpp"
#include "kernels/nnet.hpp"
#include "kernels/shape.hpp"
#include "kernels/sort.hpp"

namespace croton {
#define CROTON_DEFINE(FAMILY)                         \
  CROTON_##FAMILY##_TYPES(CROTON_DEFINE_##FAMILY)
#define CROTON_DEFINE_CONV(T) CROTON_CONV_INSTANCES(, T)
#define CROTON_DEFINE_POOL(T) CROTON_POOL_INSTANCES(, T)
#define CROTON_DEFINE_GEMM(T) CROTON_GEMM_INSTANCES(, T)
#define CROTON_DEFINE_GEMV(T) CROTON_GEMV_INSTANCES(, T)
#define CROTON_DEFINE_BLAS(T) CROTON_BLAS_INSTANCES(, T)
#define CROTON_DEFINE_BATCHED_MATMUL(T) CROTON_BATCHED_MATMUL_INSTANCES(, T)
#define CROTON_DEFINE_SHAPE(T) CROTON_SHAPE_INSTANCES(, T)
#define CROTON_DEFINE_SORT(T) CROTON_SORT_INSTANCES(, T)
CROTON_DEFINE(CONV)
CROTON_DEFINE(POOL)
CROTON_DEFINE(GEMM)
CROTON_DEFINE(GEMV)
CROTON_DEFINE(BLAS)
CROTON_DEFINE(BATCHED_MATMUL)
CROTON_DEFINE(SHAPE)
CROTON_DEFINE(SORT)
}  // namespace croton

// The library's version of the kernel lists: a function module built against another list
// fails to load (an undefined symbol) instead of calling into the wrong code.
extern "C" int croton_kernels_abi(void) { return 1; }
