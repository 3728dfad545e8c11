// Random kernels on the device: the CPU's Philox4x32-10 streams (runtime/cpu/kernels/random.hpp,
// croton/ops/random.py), one CUDA thread per element. The generator is counter-based: element e
// of a call draws from the Philox blocks with counter (t / 2, e, call), so every thread computes
// its own draws from the state alone, with no sequence to share (croton::rng::Philox, the CPU's,
// compiled for the device too).
//
// State: a uint64 vector [key, call] in device memory (wherever the function's buffers are).
// The draw kernel reads it on the device; a one-thread kernel launched after it writes
// [key, call + 1] into `next`, a scratch buffer of the call, which the function commits to the
// shared state with its other updates, after every step succeeded (a failed call leaves the
// state as it was). No host read, except binomial's parameter check (below).
//
// Bits: uniform and integer draws (binomial, permutation) are the CPU's bit for bit, on a GPU
// too: the 53-bit uniforms are exact, and `low + (high - low) * u` is rounded twice, as on the
// CPU (__dmul_rn and __dadd_rn: never contracted into an FMA). Normal samples go through the
// device's log and cos (CUDA's double math, within 1-2 ulps of glibc's), so they may differ
// from the CPU's in the last bits; under the CPU emulation (tests/cuda_emu) they are the same.
//
// Example (what codegen/lowering/cuda_random.py emits):
//   if (int rc = croton::cuda::rng::uniform<float, double, double>(B0, B1, B2, B3, B4, scratch,
//                                                                  err, 0)) return rc;
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "runtime.cuh"
#pragma nv_diag_suppress 1675
#include "kernels/random.hpp"
#pragma nv_diag_default 1675

// the host compiler's code (the emulation's, tests/cuda_emu) never contracts a * b + c; nvcc's
// front end does not know the pragma (its warning 1675, suppressed for these lines)
#pragma nv_diag_suppress 1675
#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDA_ARCH__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
#pragma nv_diag_default 1675

namespace croton {
namespace cuda {
namespace rng {

using croton::rng::Param;
using croton::rng::Philox;

// a + b * c, the product rounded before the sum (as the CPU and NumPy compute it).
CROTON_HD inline double add_product(double a, double b, double c) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(a, __dmul_rn(b, c));
#else
  return a + b * c;
#endif
}
CROTON_HD inline float next_toward(float from, float to) { return nextafterf(from, to); }
CROTON_HD inline double next_toward(double from, double to) { return nextafter(from, to); }

enum Kind { kUniform, kNormal, kBinomial, kPermutation };

// One launch: the state, the sample (shape, element strides) and two parameters broadcast to
// it (Param: pointer and strides from the CPU's bind).
template <typename TO, typename TA, typename TB>
struct Draw {
  const uint64_t* state;
  int64_t state_stride;
  TO* out;
  int64_t n;  // elements (permutation: rows)
  int32_t ndim;
  int64_t shape[CROTON_MAX_NDIM], so[CROTON_MAX_NDIM];
  Param<TA> a;
  Param<TB> b;
  unsigned long long* bad;  // binomial: min over bad elements of (e << 1 | p_bad); ~0 none
};

// The generator of a state in device memory (the CPU's croton::rng::load, on the device).
__device__ inline Philox load_state(const uint64_t* state, int64_t stride) {
  const uint64_t key = state[0], call = state[stride];
  return Philox{static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32),
                static_cast<uint32_t>(call), static_cast<uint32_t>(call >> 32)};
}

template <int K, typename TO, typename TA, typename TB>
__global__ void __launch_bounds__(kThreads) draw_kernel(const Draw<TO, TA, TB> d) {
  const Philox g = load_state(d.state, d.state_stride);
  const int32_t nd = K == kPermutation ? d.ndim - 1 : d.ndim;
  for (int64_t e = global_index(); e < d.n; e += grid_stride()) {
    int64_t rest = e, oo = 0, oa = 0, ob = 0;
    for (int32_t k = nd - 1; k >= 0; --k) {
      const int64_t at = rest % d.shape[k];
      rest /= d.shape[k];
      oo += at * d.so[k];
      oa += at * d.a.stride[k];
      ob += at * d.b.stride[k];
    }
    if constexpr (K == kUniform) {
      const double l = static_cast<double>(d.a.data[oa]), h = static_cast<double>(d.b.data[ob]);
      double u0, u1;
      g.pair(0, e, &u0, &u1);
      TO v = static_cast<TO>(add_product(l, h - l, u0));
      const TO lt = static_cast<TO>(l), ht = static_cast<TO>(h);
      if (ht > lt && !(v < ht)) v = next_toward(ht, lt);  // rounding reached `high`
      d.out[oo] = v;
    } else if constexpr (K == kNormal) {
      double u0, u1;
      g.pair(0, e, &u0, &u1);
      const double radius = std::sqrt(-2.0 * std::log(1.0 - u0));  // Box-Muller
      const double z = radius * std::cos(6.283185307179586 * u1);
      d.out[oo] = static_cast<TO>(add_product(static_cast<double>(d.a.data[oa]),
                                              static_cast<double>(d.b.data[ob]), z));
    } else if constexpr (K == kBinomial) {
      const int64_t trials = static_cast<int64_t>(d.a.data[oa]);
      const double p = static_cast<double>(d.b.data[ob]);
      const bool p_bad = !(p >= 0.0 && p <= 1.0);
      if (trials < 0 || p_bad) {  // the CPU stops at the first bad element: the smallest e
        atomicMin(d.bad, (static_cast<unsigned long long>(e) << 1) | (p_bad ? 1ull : 0ull));
        continue;
      }
      int64_t hits = 0;
      for (int64_t t = 0; t < trials; t += 2) {
        double u0, u1;
        g.pair(t >> 1, e, &u0, &u1);
        hits += u0 < p;
        if (t + 1 < trials) hits += u1 < p;
      }
      d.out[oo] = static_cast<TO>(hits);
    } else {  // permutation of range(n) along the last axis: a thread per row (Fisher-Yates)
      const int64_t n = d.shape[nd], step = d.so[nd];
      TO* row = d.out + oo;
      for (int64_t i = 0; i < n; ++i) row[i * step] = static_cast<TO>(i);
      double u0 = 0.0, u1 = 0.0;
      for (int64_t i = 0; i + 1 < n; ++i) {
        if ((i & 1) == 0) g.pair(i >> 1, e, &u0, &u1);
        const double u = (i & 1) ? u1 : u0;
        int64_t j = i + static_cast<int64_t>(u * static_cast<double>(n - i));
        if (j > n - 1) j = n - 1;
        const TO swap = row[i * step];
        row[i * step] = row[j * step];
        row[j * step] = swap;
      }
    }
  }
}

// next = [key, call + 1], after the draws (stream order).
__global__ void advance_kernel(const uint64_t* state, int64_t state_stride, uint64_t* next,
                               int64_t next_stride) {
  next[0] = state[0];
  next[next_stride] = state[state_stride] + 1;
}

// Launches the draws of `out` and the state's advance; binomial reads its check back (one
// cudaMemcpy of 8 bytes, the only host read of this file: a bad n or p fails the call).
template <int K, typename TO, typename TA, typename TB>
int run(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
        const croton_buffer& pa, const croton_buffer& pb, DeviceScratch& scratch,
        croton_error* err, int32_t check, const char* mismatch) {
  Draw<TO, TA, TB> d{};
  const int32_t nd = K == kPermutation ? out.ndim - 1 : out.ndim;
  if (K != kPermutation && (!d.a.bind(pa, nd, out.shape) || !d.b.bind(pb, nd, out.shape)))
    return fail_value(err, check, mismatch);
  if (numel(out.ndim, out.shape) >= croton::rng::kMaxElements)
    return fail_value(err, check, "a random sample has at most 2**32 - 1 elements");
  d.state = static_cast<const uint64_t*>(state.data);
  d.state_stride = state.strides[0];
  d.out = static_cast<TO*>(out.data);
  d.ndim = out.ndim;
  d.n = numel(nd, out.shape);
  for (int32_t k = 0; k < out.ndim; ++k) {
    d.shape[k] = out.shape[k];
    d.so[k] = out.strides[k];
  }
  if constexpr (K == kBinomial) {
    d.bad = static_cast<unsigned long long*>(scratch.alloc(sizeof(unsigned long long)));
    if (d.bad == nullptr) return fail_alloc(err);
    if (cudaMemsetAsync(d.bad, 0xff, sizeof(unsigned long long), 0) != cudaSuccess)
      return fail_cuda(err, cudaGetLastError(), "clearing the binomial check");
  }
  if (d.n > 0 && (K != kPermutation || out.shape[nd] > 0)) {
    const auto kernel = draw_kernel<K, TO, TA, TB>;
    CROTON_LAUNCH(kernel, blocks_for(d.n), kThreads)(d);
    if (int rc = check_launch(err, "a random draw kernel")) return rc;
  }
  if constexpr (K == kBinomial) {
    unsigned long long bad = 0;
    const cudaError_t status = cudaMemcpy(&bad, d.bad, sizeof bad, cudaMemcpyDeviceToHost);
    if (status != cudaSuccess) return fail_cuda(err, status, "reading the binomial check");
    if (bad != ~0ull)
      return fail_value(err, check, (bad & 1) ? "binomial: p must be in [0, 1]"
                                              : "binomial: n must be non-negative");
  }
  CROTON_LAUNCH(advance_kernel, 1, 1)(d.state, d.state_stride, static_cast<uint64_t*>(next.data),
                           next.strides[0]);
  return check_launch(err, "the random state's advance");
}

template <typename TO, typename TL, typename TH>
int uniform(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
            const croton_buffer& low, const croton_buffer& high, DeviceScratch& scratch,
            croton_error* err, int32_t check) {
  return run<kUniform, TO, TL, TH>(state, next, out, low, high, scratch, err, check,
                                   "low and high do not broadcast to the sample shape");
}

template <typename TO, typename TA, typename TS>
int normal(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
           const croton_buffer& avg, const croton_buffer& std_, DeviceScratch& scratch,
           croton_error* err, int32_t check) {
  return run<kNormal, TO, TA, TS>(state, next, out, avg, std_, scratch, err, check,
                                  "avg and std do not broadcast to the sample shape");
}

template <typename TO, typename TN, typename TP>
int binomial(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
             const croton_buffer& trials, const croton_buffer& prob, DeviceScratch& scratch,
             croton_error* err, int32_t check) {
  return run<kBinomial, TO, TN, TP>(state, next, out, trials, prob, scratch, err, check,
                                    "n and p do not broadcast to the sample shape");
}

template <typename TO>
int permutation(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
                DeviceScratch& scratch, croton_error* err, int32_t check) {
  return run<kPermutation, TO, TO, TO>(state, next, out, out, out, scratch, err, check, "");
}

// --- choice: the CPU's algorithm (runtime/cpu/kernels/random.hpp), its sequential parts (the
// weights' running sum and checks, a draw without replacement) in one device thread, the draws
// with replacement and the gather a thread per sample.
struct ChoiceInfo {
  int32_t code;  // 0, or 1: a negative probability, 2: probabilities that do not sum to 1
  int64_t last, nonzero;
};

template <typename TP>
__global__ void choice_weights(const TP* p, int64_t stride, int64_t m, double atol, double* w,
                               double* cdf, ChoiceInfo* info) {
  double total = 0.0;
  info->code = 0;
  for (int64_t i = 0; i < m; ++i) {
    w[i] = static_cast<double>(p[i * stride]);
    if (!(w[i] >= 0.0)) {
      info->code = 1;
      return;
    }
    total += w[i];
    cdf[i] = total;
  }
  if (!(std::fabs(total - 1.0) <= atol)) info->code = 2;
  info->last = croton::rng::last_positive(w, m);
  info->nonzero = 0;
  for (int64_t i = 0; i < m; ++i) info->nonzero += w[i] != 0.0;
}

__global__ void __launch_bounds__(kThreads) choice_with_replacement(
    const uint64_t* state, int64_t state_stride, int64_t k, int64_t m, const double* cdf,
    const ChoiceInfo* info, int64_t* chosen) {
  const Philox g = load_state(state, state_stride);
  for (int64_t i = global_index(); i < k; i += grid_stride()) {
    const double u = g.draw(i, 0);
    chosen[i] = cdf != nullptr ? croton::rng::pick(cdf, m, u, info->last)
                               : croton::rng::min_index(static_cast<int64_t>(u * double(m)), m - 1);
  }
}

__global__ void choice_without_replacement(const uint64_t* state, int64_t state_stride,
                                           int64_t k, int64_t m, double* w, double* cdf,
                                           int64_t* pool, int64_t* chosen) {
  const Philox g = load_state(state, state_stride);
  if (w == nullptr) {
    for (int64_t i = 0; i < m; ++i) pool[i] = i;
    for (int64_t i = 0; i < k; ++i) {  // partial Fisher-Yates
      const double u = g.draw(i, 0);
      const int64_t j = croton::rng::min_index(i + static_cast<int64_t>(u * double(m - i)), m - 1);
      const int64_t t = pool[i];
      pool[i] = pool[j];
      pool[j] = t;
      chosen[i] = pool[i];
    }
    return;
  }
  for (int64_t i = 0; i < k; ++i) {  // draw by weight, then remove the drawn entry
    double total = 0.0;
    for (int64_t q = 0; q < m; ++q) {
      total += w[q];
      cdf[q] = total;
    }
    chosen[i] = croton::rng::pick(cdf, m, g.draw(i, 0), croton::rng::last_positive(w, m));
    w[chosen[i]] = 0.0;
  }
}

template <typename TO, typename TA>
__global__ void __launch_bounds__(kThreads) choice_gather(const Draw<TO, TA, TA> d,
                                                          const int64_t* chosen, bool a_vector,
                                                          int64_t a_stride) {
  for (int64_t e = global_index(); e < d.n; e += grid_stride()) {
    int64_t rest = e, oo = 0;
    for (int32_t k = d.ndim - 1; k >= 0; --k) {
      oo += (rest % d.shape[k]) * d.so[k];
      rest /= d.shape[k];
    }
    d.out[oo] = a_vector ? static_cast<TO>(d.a.data[chosen[e] * a_stride])
                         : static_cast<TO>(chosen[e]);
  }
}

template <typename T>
T* scratch_array(DeviceScratch& scratch, int64_t n) {
  return static_cast<T*>(scratch.alloc(croton::mul_sat(n, int64_t(sizeof(T)))));
}

template <typename TO, typename TA, typename TP>
int choice(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
           const croton_buffer& a, bool a_vector, const croton_buffer* p, bool replace,
           DeviceScratch& scratch, croton_error* err, int32_t check) {
  const int64_t k = numel(out.ndim, out.shape);
  if (k >= croton::rng::kMaxElements)
    return fail_value(err, check, "a random sample has at most 2**32 - 1 elements");
  int64_t m = 0;
  if (a_vector) {
    m = a.shape[0];
  } else if (int rc = read_value<int64_t>(a, &m, err)) {  // the population's size: 8 bytes
    return rc;
  }
  const uint64_t* st = static_cast<const uint64_t*>(state.data);
  const auto advance = [&] {
    CROTON_LAUNCH(advance_kernel, 1, 1)(st, state.strides[0], static_cast<uint64_t*>(next.data),
                             next.strides[0]);
    return check_launch(err, "the random state's advance");
  };
  if (k == 0) return advance();
  if (m <= 0)
    return fail_value(err, check, "choice: a must be positive unless no samples are taken");
  double* w = nullptr;
  double* cdf = nullptr;
  ChoiceInfo* info = scratch_array<ChoiceInfo>(scratch, 1);
  if (info == nullptr) return fail_alloc(err);
  ChoiceInfo host{};
  if (p != nullptr) {
    if (p->shape[0] != m)
      return fail_value(err, check, "choice: p must have one entry per element of the population");
    w = scratch_array<double>(scratch, 2 * m);
    if (w == nullptr) return fail_alloc(err);
    cdf = w + m;
    const double atol = std::sqrt(sizeof(TP) == 4 ? double(std::numeric_limits<float>::epsilon())
                                                   : std::numeric_limits<double>::epsilon());
    CROTON_LAUNCH(choice_weights<TP>, 1, 1)(static_cast<const TP*>(p->data), p->strides[0], m,
                                            atol, w, cdf,
                                 info);
    if (int rc = check_launch(err, "the choice weights' kernel")) return rc;
    const cudaError_t status = cudaMemcpy(&host, info, sizeof host, cudaMemcpyDeviceToHost);
    if (status != cudaSuccess) return fail_cuda(err, status, "reading the choice weights' check");
    if (host.code == 1) return fail_value(err, check, "choice: probabilities must be non-negative");
    if (host.code == 2) return fail_value(err, check, "choice: probabilities do not sum to 1");
  }
  int64_t* chosen = scratch_array<int64_t>(scratch, k);
  if (chosen == nullptr) return fail_alloc(err);
  if (replace) {
    CROTON_LAUNCH(choice_with_replacement, blocks_for(k), kThreads)(st, state.strides[0], k, m,
                                                                    cdf, info,
                                                          chosen);
  } else if (k > m) {
    return fail_value(err, check,
                      "choice: cannot take a larger sample than the population when replace=False");
  } else {
    int64_t* pool = nullptr;
    if (w == nullptr) {
      pool = scratch_array<int64_t>(scratch, m);
      if (pool == nullptr) return fail_alloc(err);
    } else if (host.nonzero < k) {
      return fail_value(err, check, "choice: fewer non-zero entries in p than the sample size");
    }
    CROTON_LAUNCH(choice_without_replacement, 1, 1)(st, state.strides[0], k, m, w, cdf, pool,
                                                    chosen);
  }
  if (int rc = check_launch(err, "a random choice kernel")) return rc;
  Draw<TO, TA, TA> d{};
  d.out = static_cast<TO*>(out.data);
  d.n = k;
  d.ndim = out.ndim;
  for (int32_t q = 0; q < out.ndim; ++q) {
    d.shape[q] = out.shape[q];
    d.so[q] = out.strides[q];
  }
  d.a.data = static_cast<const TA*>(a.data);
  const auto gather = choice_gather<TO, TA>;
  CROTON_LAUNCH(gather, blocks_for(k), kThreads)(d, chosen, a_vector,
                                                     a_vector ? a.strides[0] : 0);
  if (int rc = check_launch(err, "the random choice's gather")) return rc;
  return advance();
}

}  // namespace rng
}  // namespace cuda
}  // namespace croton

#if defined(__GNUC__) && !defined(__clang__) && !defined(__CUDA_ARCH__)
#pragma GCC pop_options
#endif
