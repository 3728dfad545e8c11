// Random kernels: Philox4x32-10 samples, bit-identical to croton/ops/random.py (the NumPy
// reference of the same ops). A generator state is a uint64 vector [key, call]; draw t of
// element e comes from the Philox block with counter (t / 2, e, call & 0xffffffff, call >> 32)
// and key (key & 0xffffffff, key >> 32): words 0-1 (t even) or 2-3 (t odd) give one 53-bit
// uniform double in [0, 1). Every kernel writes the state [key, call + 1] into `next`, a scratch
// buffer; the caller commits it to the shared state only when the whole call succeeded.
//
// Example (what the lowering emits):
//   if (const int rc = croton::rng::uniform<double, double, double>(B0, B1, B2, B3, B4, err, 0))
//     return rc;
//
// Floating-point: every formula is evaluated in double, in the order the NumPy reference uses,
// then cast; contraction into FMA is off and loops are not vectorized (so std::log/std::cos are
// glibc's scalar functions, as Python's math module calls), which keeps the bits identical.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "runtime.hpp"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off", "no-tree-vectorize")
#endif

namespace croton {
namespace rng {

// Philox4x32-10 with the key and the call counter of one state (CROTON_HD: the CUDA target's
// kernels, runtime/cuda/kernels/random.cuh, draw with it too).
struct Philox {
  uint32_t k0, k1, c2, c3;

  CROTON_HD void block(uint32_t j, uint32_t e, uint32_t w[4]) const {
    uint32_t x0 = j, x1 = e, x2 = c2, x3 = c3, a = k0, b = k1;
    for (int r = 0; r < 10; ++r) {
      if (r != 0) {
        a += 0x9E3779B9u;
        b += 0xBB67AE85u;
      }
      const uint64_t p0 = uint64_t{0xD2511F53u} * x0;
      const uint64_t p1 = uint64_t{0xCD9E8D57u} * x2;
      const uint32_t y0 = static_cast<uint32_t>(p1 >> 32) ^ x1 ^ a;
      const uint32_t y2 = static_cast<uint32_t>(p0 >> 32) ^ x3 ^ b;
      x1 = static_cast<uint32_t>(p1);
      x3 = static_cast<uint32_t>(p0);
      x0 = y0;
      x2 = y2;
    }
    w[0] = x0;
    w[1] = x1;
    w[2] = x2;
    w[3] = x3;
  }

  CROTON_HD static double unit(uint32_t lo, uint32_t hi) {
    return static_cast<double>(((uint64_t{hi} << 32) | lo) >> 11) * 0x1p-53;
  }

  // Draws 2 * j and 2 * j + 1 of element e.
  CROTON_HD void pair(int64_t j, int64_t e, double* u0, double* u1) const {
    uint32_t w[4];
    block(static_cast<uint32_t>(j), static_cast<uint32_t>(e), w);
    *u0 = unit(w[0], w[1]);
    *u1 = unit(w[2], w[3]);
  }

  CROTON_HD double draw(int64_t e, int64_t t) const {
    double u0, u1;
    pair(t >> 1, e, &u0, &u1);
    return (t & 1) ? u1 : u0;
  }
};

inline Philox load(const croton_buffer& state) {
  const uint64_t* s = static_cast<const uint64_t*>(state.data);
  const uint64_t key = s[0], call = s[state.strides[0]];
  return Philox{static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32),
                static_cast<uint32_t>(call), static_cast<uint32_t>(call >> 32)};
}

inline void advance(const croton_buffer& state, croton_buffer& next) {
  const uint64_t* s = static_cast<const uint64_t*>(state.data);
  uint64_t* n = static_cast<uint64_t*>(next.data);
  n[0] = s[0];
  n[next.strides[0]] = s[state.strides[0]] + 1;
}

// A parameter broadcast against the sample's shape (aligned on the right, as NumPy).
template <typename T>
struct Param {
  const T* data = nullptr;
  int64_t stride[CROTON_MAX_NDIM] = {};

  // False when `b` does not broadcast to `shape`.
  bool bind(const croton_buffer& b, int32_t ndim, const int64_t* shape) {
    data = static_cast<const T*>(b.data);
    const int32_t lead = ndim - b.ndim;
    if (lead < 0) return false;
    for (int32_t d = 0; d < ndim; ++d) {
      if (d < lead || b.shape[d - lead] == 1) {
        stride[d] = 0;
      } else if (b.shape[d - lead] == shape[d]) {
        stride[d] = b.strides[d - lead];
      } else {
        return false;
      }
    }
    return true;
  }

  T at(const int64_t* idx, int32_t ndim) const {
    int64_t o = 0;
    for (int32_t d = 0; d < ndim; ++d) o += idx[d] * stride[d];
    return data[o];
  }
};

inline int64_t offset(const croton_buffer& b, const int64_t* idx, int32_t ndim) {
  int64_t o = 0;
  for (int32_t d = 0; d < ndim; ++d) o += idx[d] * b.strides[d];
  return o;
}

// Calls f(e, idx) for the C-order index e and multi-index idx of every element of the first
// `ndim` dimensions of `shape`; stops (and returns false) when f returns false.
template <typename F>
inline bool for_each(int32_t ndim, const int64_t* shape, F&& f) {
  const int64_t n = numel(ndim, shape);
  int64_t idx[CROTON_MAX_NDIM] = {};
  for (int64_t e = 0; e < n; ++e) {
    if (!f(e, static_cast<const int64_t*>(idx))) return false;
    for (int32_t d = ndim - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return true;
}

constexpr int64_t kMaxElements = int64_t{1} << 32;  // an element index is one counter word

template <typename TO, typename TL, typename TH>
int uniform(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
            const croton_buffer& low, const croton_buffer& high, croton_error* err,
            int32_t check) {
  Param<TL> lo;
  Param<TH> hi;
  if (!lo.bind(low, out.ndim, out.shape) || !hi.bind(high, out.ndim, out.shape))
    return fail_value(err, check, "low and high do not broadcast to the sample shape");
  if (numel(out.ndim, out.shape) >= kMaxElements)
    return fail_value(err, check, "a random sample has at most 2**32 - 1 elements");
  const Philox g = load(state);
  TO* po = static_cast<TO*>(out.data);
  const int32_t nd = out.ndim;
  for_each(nd, out.shape, [&](int64_t e, const int64_t* idx) {
    const double l = static_cast<double>(lo.at(idx, nd));
    const double h = static_cast<double>(hi.at(idx, nd));
    double u0, u1;
    g.pair(0, e, &u0, &u1);
    TO v = static_cast<TO>(l + (h - l) * u0);
    const TO lt = static_cast<TO>(l), ht = static_cast<TO>(h);
    if (ht > lt && !(v < ht)) v = std::nextafter(ht, lt);  // rounding reached `high`
    po[offset(out, idx, nd)] = v;
    return true;
  });
  advance(state, next);
  return 0;
}

template <typename TO, typename TA, typename TS>
int normal(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
           const croton_buffer& avg, const croton_buffer& std_, croton_error* err,
           int32_t check) {
  Param<TA> mean;
  Param<TS> scale;
  if (!mean.bind(avg, out.ndim, out.shape) || !scale.bind(std_, out.ndim, out.shape))
    return fail_value(err, check, "avg and std do not broadcast to the sample shape");
  if (numel(out.ndim, out.shape) >= kMaxElements)
    return fail_value(err, check, "a random sample has at most 2**32 - 1 elements");
  const Philox g = load(state);
  TO* po = static_cast<TO*>(out.data);
  const int32_t nd = out.ndim;
  for_each(nd, out.shape, [&](int64_t e, const int64_t* idx) {
    double u0, u1;
    g.pair(0, e, &u0, &u1);
    const double radius = std::sqrt(-2.0 * std::log(1.0 - u0));  // Box-Muller
    const double z = radius * std::cos(6.283185307179586 * u1);
    const double a = static_cast<double>(mean.at(idx, nd));
    const double s = static_cast<double>(scale.at(idx, nd));
    po[offset(out, idx, nd)] = static_cast<TO>(a + s * z);
    return true;
  });
  advance(state, next);
  return 0;
}

template <typename TO, typename TN, typename TP>
int binomial(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
             const croton_buffer& trials, const croton_buffer& prob, croton_error* err,
             int32_t check) {
  Param<TN> pn;
  Param<TP> pp;
  if (!pn.bind(trials, out.ndim, out.shape) || !pp.bind(prob, out.ndim, out.shape))
    return fail_value(err, check, "n and p do not broadcast to the sample shape");
  if (numel(out.ndim, out.shape) >= kMaxElements)
    return fail_value(err, check, "a random sample has at most 2**32 - 1 elements");
  const Philox g = load(state);
  TO* po = static_cast<TO*>(out.data);
  const int32_t nd = out.ndim;
  const char* bad = nullptr;
  for_each(nd, out.shape, [&](int64_t e, const int64_t* idx) {
    const int64_t n = static_cast<int64_t>(pn.at(idx, nd));
    const double p = static_cast<double>(pp.at(idx, nd));
    if (n < 0) bad = "binomial: n must be non-negative";
    if (!(p >= 0.0 && p <= 1.0)) bad = "binomial: p must be in [0, 1]";
    if (bad != nullptr) return false;
    int64_t hits = 0;
    for (int64_t t = 0; t < n; t += 2) {
      double u0, u1;
      g.pair(t >> 1, e, &u0, &u1);
      hits += u0 < p;
      if (t + 1 < n) hits += u1 < p;
    }
    po[offset(out, idx, nd)] = static_cast<TO>(hits);
    return true;
  });
  if (bad != nullptr) return fail_value(err, check, bad);
  advance(state, next);
  return 0;
}

CROTON_HD inline int64_t min_index(int64_t a, int64_t b) { return a < b ? a : b; }

template <typename T>
inline void swap_values(T& a, T& b) {
  const T t = a;
  a = b;
  b = t;
}

// The first index whose cumulative weight exceeds u * total (NumPy's searchsorted, side
// 'right'); past the end: `last`.
CROTON_HD inline int64_t pick(const double* cdf, int64_t m, double u, int64_t last) {
  const double x = u * cdf[m - 1];
  int64_t lo = 0, hi = m;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (cdf[mid] <= x) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo >= m ? last : lo;
}

CROTON_HD inline int64_t last_positive(const double* w, int64_t m) {
  int64_t last = m - 1;
  while (last > 0 && !(w[last] > 0.0)) --last;
  return last;
}

template <typename TO, typename TA, typename TP>
int choice(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
           const croton_buffer& a, bool a_vector, const croton_buffer* p, bool replace,
           Scratch& scratch, croton_error* err, int32_t check) {
  const int64_t k = numel(out.ndim, out.shape);
  if (k >= kMaxElements)
    return fail_value(err, check, "a random sample has at most 2**32 - 1 elements");
  const Philox g = load(state);
  TO* po = static_cast<TO*>(out.data);
  const int32_t nd = out.ndim;
  const int64_t m =
      a_vector ? a.shape[0] : static_cast<int64_t>(*static_cast<const TA*>(a.data));
  if (k == 0) {
    advance(state, next);
    return 0;
  }
  if (m <= 0)
    return fail_value(err, check, "choice: a must be positive unless no samples are taken");
  double* weights = nullptr;
  double* cdf = nullptr;
  int64_t last = m - 1;
  if (p != nullptr) {
    if (p->shape[0] != m)
      return fail_value(err, check, "choice: p must have one entry per element of the population");
    weights = static_cast<double*>(scratch.alloc(2 * m * int64_t(sizeof(double))));
    if (weights == nullptr) return fail_alloc(err);
    cdf = weights + m;
    const TP* pd = static_cast<const TP*>(p->data);
    double total = 0.0;
    for (int64_t i = 0; i < m; ++i) {
      weights[i] = static_cast<double>(pd[i * p->strides[0]]);
      if (!(weights[i] >= 0.0))
        return fail_value(err, check, "choice: probabilities must be non-negative");
      total += weights[i];
      cdf[i] = total;
    }
    const double eps = sizeof(TP) == 4 ? std::numeric_limits<float>::epsilon()
                                       : std::numeric_limits<double>::epsilon();
    const double atol = std::sqrt(eps);
    if (!(std::fabs(total - 1.0) <= atol))
      return fail_value(err, check, "choice: probabilities do not sum to 1");
    last = last_positive(weights, m);
  }
  int64_t* chosen = static_cast<int64_t*>(scratch.alloc(k * int64_t(sizeof(int64_t))));
  if (chosen == nullptr) return fail_alloc(err);
  if (replace) {
    for (int64_t i = 0; i < k; ++i) {
      const double u = g.draw(i, 0);
      chosen[i] = weights != nullptr
                      ? pick(cdf, m, u, last)
                      : min_index(static_cast<int64_t>(u * static_cast<double>(m)), m - 1);
    }
  } else if (k > m) {
    return fail_value(err, check,
                      "choice: cannot take a larger sample than the population when replace=False");
  } else if (weights == nullptr) {
    int64_t* pool = static_cast<int64_t*>(scratch.alloc(m * int64_t(sizeof(int64_t))));
    if (pool == nullptr) return fail_alloc(err);
    for (int64_t i = 0; i < m; ++i) pool[i] = i;
    for (int64_t i = 0; i < k; ++i) {  // partial Fisher-Yates
      const double u = g.draw(i, 0);
      const int64_t j = min_index(i + static_cast<int64_t>(u * static_cast<double>(m - i)), m - 1);
      swap_values(pool[i], pool[j]);
      chosen[i] = pool[i];
    }
  } else {
    int64_t nonzero = 0;
    for (int64_t i = 0; i < m; ++i) nonzero += weights[i] != 0.0;
    if (nonzero < k)
      return fail_value(err, check, "choice: fewer non-zero entries in p than the sample size");
    for (int64_t i = 0; i < k; ++i) {  // draw by weight, then remove the drawn entry
      double total = 0.0;
      for (int64_t q = 0; q < m; ++q) {
        total += weights[q];
        cdf[q] = total;
      }
      chosen[i] = pick(cdf, m, g.draw(i, 0), last_positive(weights, m));
      weights[chosen[i]] = 0.0;
    }
  }
  const TA* ad = static_cast<const TA*>(a.data);
  for_each(nd, out.shape, [&](int64_t e, const int64_t* idx) {
    po[offset(out, idx, nd)] = a_vector ? static_cast<TO>(ad[chosen[e] * a.strides[0]])
                                        : static_cast<TO>(chosen[e]);
    return true;
  });
  advance(state, next);
  return 0;
}

// One permutation of range(n) along the last axis for every index of the leading axes.
template <typename TO>
int permutation(const croton_buffer& state, croton_buffer& next, croton_buffer& out,
                croton_error* err, int32_t check) {
  if (numel(out.ndim, out.shape) >= kMaxElements)
    return fail_value(err, check, "a random sample has at most 2**32 - 1 elements");
  const Philox g = load(state);
  TO* po = static_cast<TO*>(out.data);
  const int32_t nd = out.ndim - 1;
  const int64_t n = out.shape[nd], step = out.strides[nd];
  for_each(nd, out.shape, [&](int64_t r, const int64_t* idx) {
    TO* row = po + offset(out, idx, nd);
    for (int64_t i = 0; i < n; ++i) row[i * step] = static_cast<TO>(i);
    double u0 = 0.0, u1 = 0.0;
    for (int64_t i = 0; i + 1 < n; ++i) {  // Fisher-Yates
      if ((i & 1) == 0) g.pair(i >> 1, r, &u0, &u1);
      const double u = (i & 1) ? u1 : u0;
      const int64_t j = min_index(i + static_cast<int64_t>(u * static_cast<double>(n - i)), n - 1);
      swap_values(row[i * step], row[j * step]);
    }
    return true;
  });
  advance(state, next);
  return 0;
}

}  // namespace rng
}  // namespace croton

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
