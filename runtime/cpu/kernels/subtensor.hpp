// Indexing kernels: basic views (NumPy slice semantics), advanced-index gathers and scatters
// (set / accumulate), and the coordinates of a boolean mask. Strides count elements.
//
// Example (what codegen/lowering/subtensor.py emits for `x[1:, 2]`):
//   croton::subtensor::View v(B0);
//   if (int rc = v.slice(err, -1, true, 1, false, 0, 1)) return rc;
//   if (int rc = v.index(err, 3, 2)) return rc;
//   v.store(B1);
#pragma once
#include <cstdint>

#include "../runtime.hpp"

#include "../cold.hpp"

CROTON_COLD_BEGIN

namespace croton {
namespace subtensor {

inline int64_t item_size(int32_t dtype) { return dtype_size(dtype); }

// Python's slice.indices(n): the first index and the length of start:stop:step over n items.
struct SliceRange {
  int64_t start;
  int64_t length;
};

inline SliceRange slice_range(int64_t n, bool has_start, int64_t start, bool has_stop,
                              int64_t stop, int64_t step) {
  if (step == 0) return {0, 0};
  const int64_t lower = step < 0 ? -1 : 0;
  const int64_t upper = step < 0 ? n - 1 : n;
  auto clamp = [&](int64_t v) {
    if (v < 0) {
      v += n;
      return v < lower ? lower : v;
    }
    return v > upper ? upper : v;
  };
  start = has_start ? clamp(start) : (step < 0 ? upper : lower);
  stop = has_stop ? clamp(stop) : (step < 0 ? lower : upper);
  int64_t length = 0;
  if (step < 0 && stop < start) length = (start - stop - 1) / (-step) + 1;
  if (step > 0 && start < stop) length = (stop - start - 1) / step + 1;
  return {start, length};
}

inline int64_t slice_length(int64_t n, bool has_start, int64_t start, bool has_stop,
                            int64_t stop, int64_t step) {
  return slice_range(n, has_start, start, has_stop, stop, step).length;
}

// Builds a strided view of `src` one index entry at a time, then stores it into a buffer.
class View {
 public:
  explicit View(const croton_buffer& src) : src_(src) {}

  int slice(croton_error* err, int32_t check, bool has_start, int64_t start, bool has_stop,
            int64_t stop, int64_t step) {
    if (step == 0) return fail_value(err, check, "slice step cannot be zero");
    const SliceRange r = slice_range(src_.shape[in_], has_start, start, has_stop, stop, step);
    if (r.length > 0) offset_ += r.start * src_.strides[in_];
    shape_[nd_] = r.length;
    strides_[nd_++] = src_.strides[in_++] * step;
    return 0;
  }

  int index(croton_error* err, int32_t check, int64_t i) {
    const int64_t n = src_.shape[in_];
    const int64_t k = i < 0 ? i + n : i;
    if (k < 0 || k >= n) return fail_index(err, check, i, n);
    offset_ += k * src_.strides[in_++];
    return 0;
  }

  void newaxis() {
    shape_[nd_] = 1;
    strides_[nd_++] = 0;
  }

  void keep() {
    shape_[nd_] = src_.shape[in_];
    strides_[nd_++] = src_.strides[in_++];
  }

  void store(croton_buffer& dst) const {
    dst.data = static_cast<char*>(src_.data) + offset_ * item_size(src_.dtype);
    dst.ndim = nd_;
    dst.dtype = src_.dtype;
    for (int32_t d = 0; d < nd_; ++d) {
      dst.shape[d] = shape_[d];
      dst.strides[d] = strides_[d];
    }
  }

 private:
  const croton_buffer& src_;
  int32_t in_ = 0;
  int32_t nd_ = 0;
  int64_t offset_ = 0;
  int64_t shape_[CROTON_MAX_NDIM] = {};
  int64_t strides_[CROTON_MAX_NDIM] = {};
};

// The C++ side of `broadcast_length(a, b, ...)`: NumPy's broadcast of index-array dims (a
// mismatch is caught by a shape check before any kernel runs).
inline int64_t broadcast_length(int64_t n) { return n; }
template <class... Rest>
inline int64_t broadcast_length(int64_t n, Rest... rest) {
  const int64_t other = broadcast_length(rest...);
  return n == 1 ? other : n;
}

inline int64_t load_index(const croton_buffer& b, int64_t offset) {
  const void* p = b.data;
  switch (b.dtype) {
    case CROTON_INT8: return static_cast<const int8_t*>(p)[offset];
    case CROTON_INT16: return static_cast<const int16_t*>(p)[offset];
    case CROTON_INT32: return static_cast<const int32_t*>(p)[offset];
    case CROTON_UINT8: return static_cast<const uint8_t*>(p)[offset];
    case CROTON_UINT16: return static_cast<const uint16_t*>(p)[offset];
    case CROTON_UINT32: return static_cast<const uint32_t*>(p)[offset];
    case CROTON_UINT64: {
      const uint64_t v = static_cast<const uint64_t*>(p)[offset];
      return v > uint64_t(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v);
    }
    default: return static_cast<const int64_t*>(p)[offset];
  }
}

// The region an advanced index selects in a view `x`: per region dim, its length, its stride
// in x (a whole dim) and its stride in the `offsets` table (a dim of the broadcast arrays).
// offsets[t] is the element offset in x of the indexed dims at broadcast position t.
struct Region {
  int32_t ndim = 0;
  int64_t shape[CROTON_MAX_NDIM] = {};
  int64_t xstride[CROTON_MAX_NDIM] = {};
  int64_t tstride[CROTON_MAX_NDIM] = {};
  const int64_t* offsets = nullptr;
};

// Checks and wraps every index (negative ones count from the end), fills `r`. `k` arrays index
// dims `axes` of x (k == 0: the region is x itself); `adjacent`: the broadcast dims replace the
// indexed ones in place, else they come first (NumPy's rule).
inline int make_region(croton_error* err, const croton_buffer& x, int32_t k,
                       const croton_buffer* const* idx, const int32_t* axes,
                       const int32_t* checks, bool adjacent, Scratch& scratch, Region* r) {
  int32_t nb = 0;
  for (int32_t j = 0; j < k; ++j) nb = idx[j]->ndim > nb ? idx[j]->ndim : nb;
  int64_t bshape[CROTON_MAX_NDIM] = {};
  int64_t count = 1;
  for (int32_t d = 0; d < nb; ++d) {
    bshape[d] = 1;
    for (int32_t j = 0; j < k; ++j) {
      const int32_t dj = d - (nb - idx[j]->ndim);
      if (dj >= 0 && idx[j]->shape[dj] != 1) bshape[d] = idx[j]->shape[dj];
    }
    count *= bshape[d];
  }
  auto* table = static_cast<int64_t*>(scratch.alloc((count > 0 ? count : 1) * 8));
  if (table == nullptr) return fail_alloc(err);
  table[0] = 0;
  int64_t pos[CROTON_MAX_NDIM] = {};
  for (int64_t t = 0; t < count; ++t) {
    int64_t offset = 0;
    for (int32_t j = 0; j < k; ++j) {
      const croton_buffer& a = *idx[j];
      int64_t at = 0;
      for (int32_t dj = 0; dj < a.ndim; ++dj)
        if (a.shape[dj] != 1) at += pos[dj + (nb - a.ndim)] * a.strides[dj];
      const int64_t i = load_index(a, at);
      const int64_t n = x.shape[axes[j]];
      const int64_t w = i < 0 ? i + n : i;
      if (w < 0 || w >= n) return fail_index(err, checks[j], i, n);
      offset += w * x.strides[axes[j]];
    }
    table[t] = offset;
    for (int32_t d = nb - 1; d >= 0; --d) {
      if (++pos[d] < bshape[d]) break;
      pos[d] = 0;
    }
  }
  r->offsets = table;
  int32_t nd = 0;
  auto add_table_dims = [&]() {
    int64_t s = 1;
    for (int32_t d = nb - 1; d >= 0; --d) {
      r->tstride[nd + d] = s;
      s *= bshape[d];
    }
    for (int32_t d = 0; d < nb; ++d) {
      r->shape[nd] = bshape[d];
      r->xstride[nd++] = 0;
    }
  };
  auto add_x_dim = [&](int32_t d) {
    r->shape[nd] = x.shape[d];
    r->tstride[nd] = 0;
    r->xstride[nd++] = x.strides[d];
  };
  auto indexed = [&](int32_t d) {
    for (int32_t j = 0; j < k; ++j)
      if (axes[j] == d) return true;
    return false;
  };
  if (!adjacent || k == 0) add_table_dims();
  for (int32_t d = 0; d < x.ndim; ++d) {
    if (!indexed(d)) {
      add_x_dim(d);
    } else if (adjacent && d == axes[0]) {
      add_table_dims();
    }
  }
  r->ndim = nd;
  return 0;
}

// Calls fn(offset in x, offset in `other`) over the region in C order; `other_strides` walks a
// second buffer of the region's shape (the gather's output, or the value a scatter writes).
template <class F>
inline void for_each(const Region& r, const int64_t* other_strides, F&& fn) {
  const int32_t nd = r.ndim;
  for (int32_t d = 0; d < nd; ++d)
    if (r.shape[d] == 0) return;
  if (nd == 0) {
    fn(r.offsets[0], int64_t(0));
    return;
  }
  int64_t pos[CROTON_MAX_NDIM] = {};
  const int32_t last = nd - 1;
  const int64_t n = r.shape[last], xs = r.xstride[last], ts = r.tstride[last];
  const int64_t os = other_strides[last];
  for (;;) {
    int64_t xo = 0, to = 0, oo = 0;
    for (int32_t d = 0; d < last; ++d) {
      xo += pos[d] * r.xstride[d];
      to += pos[d] * r.tstride[d];
      oo += pos[d] * other_strides[d];
    }
    for (int64_t i = 0; i < n; ++i) fn(xo + i * xs + r.offsets[to + i * ts], oo + i * os);
    int32_t d = last - 1;
    while (d >= 0 && ++pos[d] == r.shape[d]) pos[d--] = 0;
    if (d < 0) return;
  }
}

// out = x[idx]: `out` has the region's shape.
template <class T>
inline int gather(croton_error* err, const croton_buffer& x, int32_t k,
                  const croton_buffer* const* idx, const int32_t* axes, const int32_t* checks,
                  bool adjacent, croton_buffer& out, Scratch& scratch) {
  Region r;
  if (int rc = make_region(err, x, k, idx, axes, checks, adjacent, scratch, &r)) return rc;
  const T* px = static_cast<const T*>(x.data);
  T* po = static_cast<T*>(out.data);
  for_each(r, out.strides, [&](int64_t xo, int64_t oo) { po[oo] = px[xo]; });
  return 0;
}

// x[idx] = y (kSet) or x[idx] += y, in place in `x` (a view of the op's fresh output); `y` has
// the region's ndim and broadcasts along its length-1 dims. Repeated indices: the last write
// wins, or they accumulate.
template <class T, bool kSet>
inline int scatter(croton_error* err, croton_buffer& x, int32_t k,
                   const croton_buffer* const* idx, const int32_t* axes, const int32_t* checks,
                   bool adjacent, const croton_buffer& y, Scratch& scratch) {
  Region r;
  if (int rc = make_region(err, x, k, idx, axes, checks, adjacent, scratch, &r)) return rc;
  int64_t ys[CROTON_MAX_NDIM] = {};
  for (int32_t d = 0; d < y.ndim; ++d) ys[d] = y.shape[d] == 1 ? 0 : y.strides[d];
  T* px = static_cast<T*>(x.data);
  const T* py = static_cast<const T*>(y.data);
  if constexpr (kSet) {
    for_each(r, ys, [&](int64_t xo, int64_t yo) { px[xo] = py[yo]; });
  } else {
    for_each(r, ys, [&](int64_t xo, int64_t yo) { px[xo] = static_cast<T>(px[xo] + py[yo]); });
  }
  return 0;
}

// Counts the true elements of `mask` into the int64 scalar `count`, after checking that the
// mask's shape equals x's dims from `axis` on.
inline int mask_count(croton_error* err, int32_t check, const croton_buffer& mask,
                      const croton_buffer& x, int32_t axis, croton_buffer& count) {
  for (int32_t d = 0; d < mask.ndim; ++d)
    if (mask.shape[d] != x.shape[axis + d])
      return fail_index(err, check, mask.shape[d], x.shape[axis + d]);
  Region r;
  const int64_t zero = 0;
  r.ndim = mask.ndim;
  r.offsets = &zero;
  for (int32_t d = 0; d < mask.ndim; ++d) {
    r.shape[d] = mask.shape[d];
    r.xstride[d] = mask.strides[d];
  }
  const bool* pm = static_cast<const bool*>(mask.data);
  int64_t n = 0;
  for_each(r, r.tstride, [&](int64_t mo, int64_t) { n += pm[mo] ? 1 : 0; });
  *static_cast<int64_t*>(count.data) = n;
  return 0;
}

// The coordinates of the true elements of `mask` in C order: coords[d] gets those along dim d.
inline void mask_coordinates(const croton_buffer& mask, croton_buffer* const* coords) {
  for (int32_t d = 0; d < mask.ndim; ++d)
    if (mask.shape[d] == 0) return;
  const bool* pm = static_cast<const bool*>(mask.data);
  int64_t pos[CROTON_MAX_NDIM] = {};
  int64_t written = 0;
  for (;;) {
    int64_t mo = 0;
    for (int32_t d = 0; d < mask.ndim; ++d) mo += pos[d] * mask.strides[d];
    if (pm[mo]) {
      for (int32_t d = 0; d < mask.ndim; ++d)
        static_cast<int64_t*>(coords[d]->data)[written * coords[d]->strides[0]] = pos[d];
      ++written;
    }
    int32_t d = mask.ndim - 1;
    while (d >= 0 && ++pos[d] == mask.shape[d]) pos[d--] = 0;
    if (d < 0) return;
  }
}

}  // namespace subtensor
}  // namespace croton

CROTON_COLD_END
