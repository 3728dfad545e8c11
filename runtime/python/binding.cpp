// croton's binding layer: built once per toolchain as the extension module `_croton_binding`.
// Each compiled function is a tiny extension module exporting a `croton_function` table in a
// capsule (see codegen/templates/function.cpp.j2); `NativeFunction` wraps one table and is the
// hot call path: it converts arguments, reads shared storage, calls the kernels through the C
// ABI (every array a DLPack DLTensor over the ndarray's memory, runtime/cpu/abi.h), and swaps
// in any update that changed shape. Everything else (defaults, keyword arguments, error messages)
// is delegated to Python callbacks off the fast path.
#include <pybind11/pybind11.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "abi.h"
#include "buffer.hpp"  // croton dtype codes
#include "call_slots.hpp"

namespace py = pybind11;

namespace {

using croton_binding::Refs;
using croton_binding::Slots;

constexpr int kTypenum[] = {NPY_BOOL,   NPY_INT8,    NPY_INT16,     NPY_INT32,     NPY_INT64,
                            NPY_UINT8,  NPY_UINT16,  NPY_UINT32,    NPY_UINT64,    NPY_FLOAT32,
                            NPY_FLOAT64, NPY_COMPLEX64, NPY_COMPLEX128, NPY_FLOAT16};
constexpr int kListFastMax = 32;
constexpr int64_t kItemsize[] = {1, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8, 8, 16};

// Calls whose inputs and shared variables hold at least this many elements release the GIL
// while the kernels run (NumPy releases it above 500 elements; a call of a few microseconds
// gains nothing, and re-taking a GIL another thread holds can cost a switch interval).
constexpr int64_t kReleaseGilElements = 1 << 14;

static_assert(sizeof(npy_intp) == sizeof(int64_t), "a DLTensor's shape is int64_t");

// The shape and element strides a DLTensor of this call points to (the binding's own storage:
// NumPy's strides count bytes).
struct Dims {
  int64_t shape[CROTON_MAX_NDIM];
  int64_t strides[CROTON_MAX_NDIM];
};

struct AllocCtx {
  const int32_t* output_dtypes;  // croton dtype codes
  PyObject** outputs;
  PyObject** updates;
  const int32_t* update_dtypes;
  PyThreadState* released;  // the GIL's saved state while the kernels run without it
  int64_t release_at;       // release the GIL after allocating an output this large
  bool interrupted;         // the commit point found a pending KeyboardInterrupt (error set)
};

// A CPU DLTensor over `data` with this call's `dims`.
void set_tensor(DLTensor* t, void* data, int32_t dtype, int32_t ndim, Dims* dims) {
  t->data = data;
  t->device = DLDevice{kDLCPU, 0};
  t->ndim = ndim;
  t->dtype = croton::dl_dtype(dtype);
  t->shape = dims->shape;
  t->strides = dims->strides;
  t->byte_offset = 0;
}

// Fills `t` (and `dims`) from an ndarray of the expected dtype (native byte order), ndim and
// alignment; false when it does not fit (the converter then makes one that does).
bool view_array(PyObject* obj, int32_t dtype, int32_t ndim, DLTensor* t, Dims* dims) {
  if (!PyArray_Check(obj)) return false;
  auto* arr = reinterpret_cast<PyArrayObject*>(obj);
  if (PyArray_TYPE(arr) != kTypenum[dtype] || PyArray_NDIM(arr) != ndim) return false;
  if (!PyArray_ISALIGNED(arr) || !PyArray_ISNOTSWAPPED(arr)) return false;
  const npy_intp item = PyArray_ITEMSIZE(arr);
  for (int d = 0; d < ndim; ++d) {
    const npy_intp stride = PyArray_STRIDE(arr, d);
    if (stride % item != 0) return false;
    dims->shape[d] = PyArray_DIM(arr, d);
    dims->strides[d] = stride / item;
  }
  set_tensor(t, PyArray_DATA(arr), dtype, ndim, dims);
  return true;
}

// Dimensions declared broadcastable must have length 1 (else the converter raises).
bool fits_pattern(const croton_arg& spec, const DLTensor& t) {
  for (int d = 0; d < spec.ndim; ++d)
    if (((spec.broadcastable >> d) & 1u) && t.shape[d] != 1) return false;
  return true;
}

int64_t numel(const DLTensor& t) {
  int64_t n = 1;
  for (int d = 0; d < t.ndim; ++d) n *= t.shape[d];  // shapes of real arrays: no overflow
  return n;
}

// The bytes [lo, hi) a buffer can touch (its bounding range); empty for an empty buffer.
struct Extent {
  uintptr_t lo = 0, hi = 0;
};

// `b`: a tensor of this call (strides set), of croton dtype `dtype`.
Extent extent_of(const DLTensor& b, int32_t dtype) {
  const int64_t item = kItemsize[dtype];
  int64_t lo = 0, hi = 0;
  for (int d = 0; d < b.ndim; ++d) {
    if (b.shape[d] == 0) return {};
    const int64_t span = (b.shape[d] - 1) * b.strides[d];
    (span < 0 ? lo : hi) += span;
  }
  const auto base = reinterpret_cast<uintptr_t>(b.data);
  return {base + static_cast<uintptr_t>(lo * item), base + static_cast<uintptr_t>((hi + 1) * item)};
}

bool overlap(const Extent& a, const Extent& b) { return a.lo < b.hi && b.lo < a.hi; }

int alloc_array(void* vctx, int32_t kind, int32_t index, int32_t ndim, const int64_t* shape,
                DLTensor* out) {
  auto* ctx = static_cast<AllocCtx*>(vctx);
  bool release = ctx->released != nullptr;
  if (release) {  // callbacks run with the GIL
    PyEval_RestoreThread(ctx->released);
    ctx->released = nullptr;
  }
  int rc = 0;
  if (kind == CROTON_COMMIT_POINT) {
    if (croton_binding::interrupted_at_commit_point(&ctx->interrupted)) return 1;
  } else {
    const int32_t dtype = kind == 0 ? ctx->output_dtypes[index] : ctx->update_dtypes[index];
    npy_intp dims[CROTON_MAX_NDIM];
    for (int d = 0; d < ndim; ++d) dims[d] = static_cast<npy_intp>(shape[d]);
    PyObject* arr = PyArray_SimpleNew(ndim, dims, kTypenum[dtype]);
    if (arr == nullptr) {
      PyErr_Clear();
      rc = 1;
    } else {
      PyObject** slot = kind == 0 ? &ctx->outputs[index] : &ctx->updates[index];
      Py_XDECREF(*slot);
      *slot = arr;
      // a fresh C-contiguous array: its own shape, no strides (the slot keeps it alive)
      out->data = PyArray_DATA(reinterpret_cast<PyArrayObject*>(arr));
      out->device = DLDevice{kDLCPU, 0};
      out->ndim = ndim;
      out->dtype = croton::dl_dtype(dtype);
      out->shape = reinterpret_cast<int64_t*>(PyArray_DIMS(reinterpret_cast<PyArrayObject*>(arr)));
      out->strides = nullptr;
      out->byte_offset = 0;
      // a large result: the kernels will take a while, let other threads run
      if (numel(*out) >= ctx->release_at) release = true;
    }
  }
  if (release) ctx->released = PyEval_SaveThread();
  return rc;
}

// Exact conversion of a Python number to one element of `dtype`, into `dst`.
bool number_to(PyObject* obj, int32_t dtype, void* dst) {
  if (PyFloat_CheckExact(obj)) {
    const double v = PyFloat_AS_DOUBLE(obj);
    if (dtype == CROTON_FLOAT64) {
      *static_cast<double*>(dst) = v;
      return true;
    }
    if (dtype == CROTON_FLOAT32) {
      const float f = static_cast<float>(v);
      if (static_cast<double>(f) != v && v == v) return false;
      *static_cast<float*>(dst) = f;
      return true;
    }
    return false;
  }
  if (PyLong_CheckExact(obj)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow) return false;
    switch (dtype) {
      case CROTON_INT64: *static_cast<int64_t*>(dst) = v; return true;
      case CROTON_INT32:
        if (v < INT32_MIN || v > INT32_MAX) return false;
        *static_cast<int32_t*>(dst) = static_cast<int32_t>(v);
        return true;
      case CROTON_FLOAT64:
        if (v > (1LL << 53) || v < -(1LL << 53)) return false;
        *static_cast<double*>(dst) = static_cast<double>(v);
        return true;
      case CROTON_FLOAT32:
        if (v > (1LL << 24) || v < -(1LL << 24)) return false;
        *static_cast<float*>(dst) = static_cast<float>(v);
        return true;
      default: return false;
    }
  }
  return false;
}

// Where one call stages the Python numbers and short lists it converts itself: on the call's
// own stack (uninitialized: only the slots used are written), so concurrent and re-entrant
// calls of one function never share it.
class Staging {
 public:
  explicit Staging(int32_t n) : n_(n) {}
  void* slot(int32_t i) {
    if (n_ <= kSmall) return small_[i];
    if (big_.empty()) big_.resize(static_cast<size_t>(n_) * kListFastMax);
    return big_.data() + static_cast<size_t>(i) * kListFastMax;
  }

 private:
  static constexpr int32_t kSmall = 8;
  int32_t n_;
  double small_[kSmall][kListFastMax];
  std::vector<double> big_;
};

class NativeFunction {
 public:
  NativeFunction(py::capsule table, py::list shared_cells, py::object convert,
                 py::object resolve, py::object raise_error, bool single_output,
                 bool always_release_gil)
      : table_(table), cells_(shared_cells), convert_(convert), resolve_(resolve),
        raise_error_(raise_error), single_output_(single_output),
        release_at_(always_release_gil ? 0 : kReleaseGilElements) {
    fn_ = static_cast<const croton_function*>(table.get_pointer());
    if (fn_ == nullptr || fn_->abi_version != CROTON_ABI_VERSION)
      throw std::runtime_error(
          "croton: compiled function has ABI version " +
          (fn_ == nullptr ? std::string("(none)") : std::to_string(fn_->abi_version)) +
          ", this binding layer speaks version " + std::to_string(CROTON_ABI_VERSION) +
          ": rebuild it (clear croton's cache)");
    if (static_cast<int32_t>(py::len(shared_cells)) != fn_->n_shared)
      throw std::runtime_error("croton: wrong number of shared variables for this function");
    auto codes = [](const croton_arg* args, int32_t n) {
      std::vector<int32_t> out(static_cast<size_t>(n));
      for (int32_t k = 0; k < n; ++k) {
        out[k] = croton::dtype_code(args[k].dtype);
        if (out[k] < 0 || args[k].ndim > CROTON_MAX_NDIM)
          throw std::runtime_error("croton: compiled function has an argument of unknown type");
      }
      return out;
    };
    input_dtypes_ = codes(fn_->inputs, fn_->n_inputs);
    shared_dtypes_ = codes(fn_->shared, fn_->n_shared);
    output_dtypes_ = codes(fn_->outputs, fn_->n_outputs);
    update_dtypes_.resize(static_cast<size_t>(fn_->n_updates));
    for (int32_t k = 0; k < fn_->n_updates; ++k)
      update_dtypes_[k] = shared_dtypes_[fn_->update_target[k]];
  }

  py::object call(py::args args, py::kwargs kwargs) {
    PyObject* argt = args.ptr();
    py::object resolved;
    if ((kwargs && PyDict_GET_SIZE(kwargs.ptr()) != 0) ||
        PyTuple_GET_SIZE(argt) != fn_->n_inputs) {
      resolved = resolve_(args, kwargs);
      argt = resolved.ptr();
      if (!PyTuple_Check(argt) || PyTuple_GET_SIZE(argt) != fn_->n_inputs)
        throw std::runtime_error("croton: argument resolution returned a bad tuple");
    }
    const int32_t n_in = fn_->n_inputs, n_sh = fn_->n_shared;
    Slots<DLTensor, false> in_slots(n_in);
    Slots<Dims, false> in_dims(n_in);
    DLTensor* in = in_slots.data();
    Staging staging(n_in);
    Refs in_refs(n_in);  // the array behind each input (nullptr: staged), alive for the call
    for (int32_t i = 0; i < n_in; ++i) {
      PyObject* obj = PyTuple_GET_ITEM(argt, i);
      const croton_arg& spec = fn_->inputs[i];
      const int32_t dtype = input_dtypes_[i];
      DLTensor* b = &in[i];
      Dims* dims = &in_dims.data()[i];
      if (view_array(obj, dtype, spec.ndim, b, dims) && fits_pattern(spec, *b)) {
        Py_INCREF(obj);
        in_refs[i] = obj;
        continue;
      }
      if (fast_number_or_list(obj, spec, dtype, staging.slot(i), b, dims) &&
          fits_pattern(spec, *b))
        continue;
      py::object converted = convert_(i, py::handle(obj));
      if (!view_array(converted.ptr(), dtype, spec.ndim, b, dims))
        throw std::runtime_error("croton: the converter of argument " + std::to_string(i) +
                                 " returned an array the compiled code cannot read");
      in_refs[i] = converted.release().ptr();
    }
    Slots<DLTensor, false> sh_slots(n_sh);
    Slots<Dims, false> sh_dims(n_sh);
    DLTensor* sh = sh_slots.data();
    Refs sh_refs(n_sh);
    PyObject* cells = cells_.ptr();
    int64_t elements = 0;
    for (int32_t j = 0; j < n_sh; ++j) {
      PyObject* value = PyList_GET_ITEM(PyList_GET_ITEM(cells, j), 0);
      if (!view_array(value, shared_dtypes_[j], fn_->shared[j].ndim, &sh[j], &sh_dims.data()[j]))
        throw std::runtime_error("croton: a shared variable's storage has the wrong type");
      Py_INCREF(value);
      sh_refs[j] = value;
      elements += numel(sh[j]);
    }
    Refs private_copies(fn_->n_updates);  // update targets written into a copy (see below)
    if (fn_->n_updates > 0)
      protect_writes(in, in_dims.data(), in_refs, sh, sh_dims.data(), sh_refs, private_copies);
    for (int32_t i = 0; i < n_in; ++i) elements += numel(in[i]);
    Slots<PyObject*> out_objs(fn_->n_outputs), upd_objs(fn_->n_updates);
    Slots<DLTensor, false> out_bufs(fn_->n_outputs), upd_bufs(fn_->n_updates);
    PyObject** outs = out_objs.data();
    PyObject** upds = upd_objs.data();
    DLTensor* ob = out_bufs.data();
    DLTensor* ub = upd_bufs.data();
    AllocCtx ctx{output_dtypes_.data(), outs, upds, update_dtypes_.data(), nullptr, release_at_,
                 false};
    croton_error err;  // not zeroed (800 bytes a call): what is read on failure is set
    err.code = CROTON_OK;
    err.check = -1;
    err.ndim_a = err.ndim_b = 0;
    err.reason[0] = err.message[0] = '\0';
    // The kernels run without the GIL when the call is large (other Python threads go on);
    // the allocator and commit-point callbacks re-take it.
    if (elements >= release_at_) ctx.released = PyEval_SaveThread();
    const int rc = fn_->call(in, sh, &alloc_array, &ctx, ob, ub, &err);
    if (ctx.released != nullptr) PyEval_RestoreThread(ctx.released);
    if (rc != 0) {
      for (int32_t k = 0; k < fn_->n_outputs; ++k) Py_XDECREF(outs[k]);
      for (int32_t k = 0; k < fn_->n_updates; ++k) Py_XDECREF(upds[k]);
      if (ctx.interrupted) throw py::error_already_set();  // the KeyboardInterrupt
      py::tuple a(err.ndim_a), b(err.ndim_b);
      for (int d = 0; d < err.ndim_a; ++d) a[d] = py::int_(err.shape_a[d]);
      for (int d = 0; d < err.ndim_b; ++d) b[d] = py::int_(err.shape_b[d]);
      // Python words it from its own check table (with the user's source line); `message`,
      // the compiled code's own, for what that table cannot say
      raise_error_(err.code, err.check, a, b, py::str(err.reason), py::str(err.message));
      throw std::runtime_error("croton: the error callback did not raise");
    }
    // Updates computed into new arrays (shape changed) or into a private copy: swap them in.
    for (int32_t k = 0; k < fn_->n_updates; ++k) {
      PyObject* value = upds[k] != nullptr ? upds[k] : private_copies[k];
      if (value == nullptr) continue;
      if (upds[k] == nullptr) {
        Py_INCREF(value);
      }
      PyObject* cell = PyList_GET_ITEM(cells, fn_->update_target[k]);
      PyList_SetItem(cell, 0, value);  // steals the reference
    }
    py::object result;
    if (single_output_) {
      result = py::reinterpret_steal<py::object>(outs[0]);
    } else {
      PyObject* list = PyList_New(fn_->n_outputs);
      for (int32_t k = 0; k < fn_->n_outputs; ++k) PyList_SET_ITEM(list, k, outs[k]);
      result = py::reinterpret_steal<py::object>(list);
    }
    // A Ctrl-C that came after the commit point (while updates were written in place): the
    // step is done and cannot be undone, so it comes out as croton's StepInterrupted (a
    // KeyboardInterrupt) that says so and carries the step's outputs.
    if (PyErr_CheckSignals() != 0) {
      if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
        PyErr_Clear();
        py::object cls = py::module_::import("croton.function_module").attr("StepInterrupted");
        py::object exc = cls(result);
        PyErr_SetObject(cls.ptr(), exc.ptr());
      }
      throw py::error_already_set();
    }
    return result;
  }

  int n_inputs() const { return fn_->n_inputs; }
  int n_outputs() const { return fn_->n_outputs; }
  int n_shared() const { return fn_->n_shared; }
  int n_updates() const { return fn_->n_updates; }

 private:
  // The call writes the storage of its update targets in place. Nothing it reads may overlap
  // that storage (an input that is, or views, a shared variable's value; two shared variables
  // over one array), and read-only storage (a borrowed array the user locked) is never written:
  // an overlapping input is copied (as Theano copied inputs that may alias what it writes); a
  // read-only target, or one overlapping another shared variable, is computed into a private
  // copy that replaces its value once the call succeeds. A bounds check, as np.shares_memory's
  // fast path: false positives (interleaved views) only cost a copy.
  void protect_writes(DLTensor* in, Dims* in_dims, Refs& in_refs, DLTensor* sh, Dims* sh_dims,
                      Refs& sh_refs, Refs& private_copies) {
    const int32_t n_in = fn_->n_inputs, n_sh = fn_->n_shared;
    Slots<Extent, false> extent_slots(n_sh);  // all n written below
    Extent* extents = extent_slots.data();
    for (int32_t j = 0; j < n_sh; ++j) extents[j] = extent_of(sh[j], shared_dtypes_[j]);
    // Shared variables keep their storage from call to call: when every extent is as in a
    // call that found no update target overlapping another shared variable, neither does this
    // one (n_updates x n_shared comparisons become one memcmp).
    const size_t extent_bytes = sizeof(Extent) * static_cast<size_t>(n_sh);
    const bool known_apart = apart_extents_.size() == static_cast<size_t>(n_sh) &&
                             std::memcmp(apart_extents_.data(), extents, extent_bytes) == 0;
    bool shared_overlap = false;
    for (int32_t k = 0; k < fn_->n_updates; ++k) {
      const int32_t j = fn_->update_target[k];
      auto* arr = reinterpret_cast<PyArrayObject*>(sh_refs[j]);
      const Extent target = extents[j];
      bool overlaps = false;
      for (int32_t m = 0; m < n_sh && !known_apart && !overlaps && target.lo != target.hi; ++m)
        overlaps = m != j && overlap(target, extents[m]);
      shared_overlap = shared_overlap || overlaps;
      if (overlaps || !PyArray_ISWRITEABLE(arr)) {
        PyObject* fresh = PyArray_NewCopy(arr, NPY_CORDER);
        if (fresh == nullptr) throw py::error_already_set();
        private_copies[k] = fresh;
        view_array(fresh, shared_dtypes_[j], fn_->shared[j].ndim, &sh[j], &sh_dims[j]);
        continue;  // a fresh array: no input can overlap it
      }
      if (target.lo == target.hi) continue;
      for (int32_t i = 0; i < n_in; ++i) {
        if (in_refs[i] == nullptr || !overlap(target, extent_of(in[i], input_dtypes_[i]))) continue;
        PyObject* fresh = PyArray_NewCopy(reinterpret_cast<PyArrayObject*>(in_refs[i]),
                                          NPY_CORDER);
        if (fresh == nullptr) throw py::error_already_set();
        Py_DECREF(in_refs[i]);
        in_refs[i] = fresh;
        view_array(fresh, input_dtypes_[i], fn_->inputs[i].ndim, &in[i], &in_dims[i]);
      }
    }
    if (!known_apart && !shared_overlap) apart_extents_.assign(extents, extents + n_sh);
  }

  // Python floats/ints for scalars and short lists of them for vectors, converted exactly
  // without NumPy into this call's staging slot `dst`; anything else goes to the Python
  // converter (which also raises the errors).
  static bool fast_number_or_list(PyObject* obj, const croton_arg& spec, int32_t dtype, void* dst,
                                  DLTensor* b, Dims* dims) {
    const int64_t item = dtype == CROTON_FLOAT32 || dtype == CROTON_INT32 ? 4 : 8;
    if (spec.ndim == 0) {
      if (PyArray_IsScalar(obj, Generic)) {  // NumPy scalars of exactly this dtype
        PyArray_Descr* descr = PyArray_DescrFromScalar(obj);
        const bool same = descr != nullptr && descr->type_num == kTypenum[dtype] &&
                          PyArray_ISNBO(descr->byteorder);
        Py_XDECREF(descr);
        if (!same) return false;
        PyArray_ScalarAsCtype(obj, dst);
      } else if (!number_to(obj, dtype, dst)) {
        return false;
      }
    } else if (spec.ndim == 1 && PyList_CheckExact(obj)) {
      const Py_ssize_t n = PyList_GET_SIZE(obj);
      if (n > kListFastMax) return false;
      auto* base = static_cast<char*>(dst);
      for (Py_ssize_t k = 0; k < n; ++k)
        if (!number_to(PyList_GET_ITEM(obj, k), dtype, base + k * item)) return false;
      dims->shape[0] = n;
      dims->strides[0] = 1;
    } else {
      return false;
    }
    set_tensor(b, dst, dtype, spec.ndim, dims);
    return true;
  }

  py::capsule table_;
  py::list cells_;
  py::object convert_, resolve_, raise_error_;
  bool single_output_;
  int64_t release_at_;
  const croton_function* fn_ = nullptr;
  std::vector<int32_t> input_dtypes_, shared_dtypes_, output_dtypes_, update_dtypes_;
  std::vector<Extent> apart_extents_;  // see protect_writes
};

}  // namespace

namespace croton_binding {
void register_device_function(py::module_& m);  // device_call.cpp
}

PYBIND11_MODULE(_croton_binding, m) {
  if (_import_array() < 0) throw py::error_already_set();
  m.doc() = "croton's binding layer: wraps compiled function tables as callables.";
  m.attr("ABI_VERSION") = CROTON_ABI_VERSION;
  py::class_<NativeFunction>(m, "NativeFunction", py::dynamic_attr())
      .def(py::init<py::capsule, py::list, py::object, py::object, py::object, bool, bool>())
      .def("__call__", &NativeFunction::call)
      .def_property_readonly("n_inputs", &NativeFunction::n_inputs)
      .def_property_readonly("n_outputs", &NativeFunction::n_outputs)
      .def_property_readonly("n_shared", &NativeFunction::n_shared)
      .def_property_readonly("n_updates", &NativeFunction::n_updates);
  croton_binding::register_device_function(m);
}
