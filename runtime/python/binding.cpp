// croton's binding layer: built once per toolchain as the extension module `_croton_binding`.
// Each compiled function is a tiny extension module exporting a `croton_function` table in a
// capsule (see codegen/templates/function.cpp.j2); `NativeFunction` wraps one table and is the
// hot call path: it converts arguments, reads shared storage, calls the kernels, and swaps in
// any update that changed shape. Everything else (defaults, keyword arguments, error messages)
// is delegated to Python callbacks off the fast path.
#include <pybind11/pybind11.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <array>
#include <cstring>
#include <vector>

#include "abi.h"

namespace py = pybind11;

namespace {

constexpr int kTypenum[] = {NPY_BOOL,   NPY_INT8,    NPY_INT16,     NPY_INT32,     NPY_INT64,
                            NPY_UINT8,  NPY_UINT16,  NPY_UINT32,    NPY_UINT64,    NPY_FLOAT32,
                            NPY_FLOAT64, NPY_COMPLEX64, NPY_COMPLEX128, NPY_FLOAT16};
constexpr int kListFastMax = 32;

struct AllocCtx {
  const croton_function* fn;
  PyObject** outputs;
  PyObject** updates;
  const int32_t* update_dtypes;
};

// Fills `b` from an ndarray of the expected dtype and ndim; false when it does not fit.
bool view_array(PyObject* obj, int32_t dtype, int32_t ndim, croton_buffer* b) {
  if (!PyArray_Check(obj)) return false;
  auto* arr = reinterpret_cast<PyArrayObject*>(obj);
  if (PyArray_TYPE(arr) != kTypenum[dtype] || PyArray_NDIM(arr) != ndim) return false;
  if (!PyArray_ISALIGNED(arr)) return false;
  const npy_intp item = PyArray_ITEMSIZE(arr);
  b->data = PyArray_DATA(arr);
  b->ndim = ndim;
  b->dtype = dtype;
  for (int d = 0; d < ndim; ++d) {
    const npy_intp stride = PyArray_STRIDE(arr, d);
    if (stride % item != 0) return false;
    b->shape[d] = PyArray_DIM(arr, d);
    b->strides[d] = stride / item;
  }
  return true;
}

// Dimensions declared broadcastable must have length 1 (else the converter raises).
bool fits_pattern(const croton_arg& spec, const croton_buffer& b) {
  for (int d = 0; d < spec.ndim; ++d)
    if (((spec.broadcastable >> d) & 1u) && b.shape[d] != 1) return false;
  return true;
}

int alloc_array(void* vctx, int32_t kind, int32_t index, int32_t ndim, const int64_t* shape,
                croton_buffer* out) {
  auto* ctx = static_cast<AllocCtx*>(vctx);
  const int32_t dtype = kind == 0 ? ctx->fn->outputs[index].dtype : ctx->update_dtypes[index];
  npy_intp dims[CROTON_MAX_NDIM];
  for (int d = 0; d < ndim; ++d) dims[d] = static_cast<npy_intp>(shape[d]);
  PyObject* arr = PyArray_SimpleNew(ndim, dims, kTypenum[dtype]);
  if (arr == nullptr) {
    PyErr_Clear();
    return 1;
  }
  PyObject** slot = kind == 0 ? &ctx->outputs[index] : &ctx->updates[index];
  Py_XDECREF(*slot);
  *slot = arr;
  return view_array(arr, dtype, ndim, out) ? 0 : 1;
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

// Per-call arrays: on the stack up to 16 entries, on the heap beyond.
template <class T>
class Slots {
 public:
  explicit Slots(int32_t n) {
    if (n > 16) big_.assign(static_cast<size_t>(n), T{});
  }
  T* data() { return big_.empty() ? small_.data() : big_.data(); }

 private:
  std::array<T, 16> small_{};
  std::vector<T> big_;
};

class NativeFunction {
 public:
  NativeFunction(py::capsule table, py::list shared_cells, py::object convert,
                 py::object resolve, py::object raise_error, bool single_output)
      : table_(table), cells_(shared_cells), convert_(convert), resolve_(resolve),
        raise_error_(raise_error), single_output_(single_output) {
    fn_ = static_cast<const croton_function*>(table.get_pointer());
    if (fn_ == nullptr || fn_->abi_version != CROTON_ABI_VERSION)
      throw std::runtime_error("croton: compiled function has an incompatible ABI version");
    if (static_cast<int32_t>(py::len(shared_cells)) != fn_->n_shared)
      throw std::runtime_error("croton: wrong number of shared variables for this function");
    storage_.resize(static_cast<size_t>(fn_->n_inputs));
    update_dtypes_.resize(static_cast<size_t>(fn_->n_updates));
    for (int32_t k = 0; k < fn_->n_updates; ++k)
      update_dtypes_[k] = fn_->shared[fn_->update_target[k]].dtype;
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
    Slots<croton_buffer> in_slots(n_in);
    croton_buffer* in = in_slots.data();
    std::vector<py::object> keep;  // converted arguments stay alive for the call
    for (int32_t i = 0; i < n_in; ++i) {
      PyObject* obj = PyTuple_GET_ITEM(argt, i);
      const croton_arg& spec = fn_->inputs[i];
      croton_buffer* b = &in[i];
      if (view_array(obj, spec.dtype, spec.ndim, b) && fits_pattern(spec, *b)) continue;
      if (fast_number_or_list(obj, spec, i, b) && fits_pattern(spec, *b)) continue;
      py::object converted = convert_(i, py::handle(obj));
      if (!view_array(converted.ptr(), spec.dtype, spec.ndim, b))
        throw std::runtime_error("croton: input conversion returned an unexpected array");
      keep.push_back(std::move(converted));
    }
    Slots<croton_buffer> sh_slots(n_sh);
    croton_buffer* sh = sh_slots.data();
    PyObject* cells = cells_.ptr();
    for (int32_t j = 0; j < n_sh; ++j) {
      PyObject* value = PyList_GET_ITEM(PyList_GET_ITEM(cells, j), 0);
      if (!view_array(value, fn_->shared[j].dtype, fn_->shared[j].ndim, &sh[j]))
        throw std::runtime_error("croton: a shared variable's storage has the wrong type");
    }
    Slots<PyObject*> out_objs(fn_->n_outputs), upd_objs(fn_->n_updates);
    Slots<croton_buffer> out_bufs(fn_->n_outputs), upd_bufs(fn_->n_updates);
    PyObject** outs = out_objs.data();
    PyObject** upds = upd_objs.data();
    croton_buffer* ob = out_bufs.data();
    croton_buffer* ub = upd_bufs.data();
    AllocCtx ctx{fn_, outs, upds, update_dtypes_.data()};
    croton_error err{};
    const int rc = fn_->call(in, sh, &alloc_array, &ctx, ob, ub, &err);
    if (rc != 0) {
      for (int32_t k = 0; k < fn_->n_outputs; ++k) Py_XDECREF(outs[k]);
      for (int32_t k = 0; k < fn_->n_updates; ++k) Py_XDECREF(upds[k]);
      py::tuple a(err.ndim_a), b(err.ndim_b);
      for (int d = 0; d < err.ndim_a; ++d) a[d] = py::int_(err.shape_a[d]);
      for (int d = 0; d < err.ndim_b; ++d) b[d] = py::int_(err.shape_b[d]);
      raise_error_(err.code, err.check, a, b, py::str(err.message));
      throw std::runtime_error("croton: the error callback did not raise");
    }
    // Updates whose shape changed were computed into new arrays: swap them in now.
    for (int32_t k = 0; k < fn_->n_updates; ++k) {
      if (upds[k] != nullptr) {
        PyObject* cell = PyList_GET_ITEM(cells, fn_->update_target[k]);
        PyList_SetItem(cell, 0, upds[k]);  // steals the reference
      }
    }
    if (single_output_) return py::reinterpret_steal<py::object>(outs[0]);
    PyObject* list = PyList_New(fn_->n_outputs);
    for (int32_t k = 0; k < fn_->n_outputs; ++k) PyList_SET_ITEM(list, k, outs[k]);
    return py::reinterpret_steal<py::object>(list);
  }

  int n_inputs() const { return fn_->n_inputs; }
  int n_outputs() const { return fn_->n_outputs; }
  int n_shared() const { return fn_->n_shared; }
  int n_updates() const { return fn_->n_updates; }

 private:
  // Python floats/ints for scalars and short lists of them for vectors, converted exactly
  // without NumPy; anything else goes to the Python converter (which also raises the errors).
  bool fast_number_or_list(PyObject* obj, const croton_arg& spec, int32_t i, croton_buffer* b) {
    void* dst = storage_[static_cast<size_t>(i)].data();
    const int64_t item = spec.dtype == CROTON_FLOAT32 || spec.dtype == CROTON_INT32 ? 4 : 8;
    if (spec.ndim == 0) {
      if (PyArray_IsScalar(obj, Generic)) {  // NumPy scalars of exactly this dtype
        PyArray_Descr* descr = PyArray_DescrFromScalar(obj);
        const bool same = descr != nullptr && descr->type_num == kTypenum[spec.dtype];
        Py_XDECREF(descr);
        if (!same) return false;
        PyArray_ScalarAsCtype(obj, dst);
      } else if (!number_to(obj, spec.dtype, dst)) {
        return false;
      }
    } else if (spec.ndim == 1 && PyList_CheckExact(obj)) {
      const Py_ssize_t n = PyList_GET_SIZE(obj);
      if (n > kListFastMax) return false;
      auto* base = static_cast<char*>(dst);
      for (Py_ssize_t k = 0; k < n; ++k)
        if (!number_to(PyList_GET_ITEM(obj, k), spec.dtype, base + k * item)) return false;
      b->shape[0] = n;
      b->strides[0] = 1;
    } else {
      return false;
    }
    b->data = dst;
    b->ndim = spec.ndim;
    b->dtype = spec.dtype;
    return true;
  }

  py::capsule table_;
  py::list cells_;
  py::object convert_, resolve_, raise_error_;
  bool single_output_;
  const croton_function* fn_ = nullptr;
  std::vector<std::array<double, kListFastMax>> storage_;
  std::vector<int32_t> update_dtypes_;
};

}  // namespace

PYBIND11_MODULE(_croton_binding, m) {
  if (_import_array() < 0) throw py::error_already_set();
  m.doc() = "croton's binding layer: wraps compiled function tables as callables.";
  m.attr("ABI_VERSION") = CROTON_ABI_VERSION;
  py::class_<NativeFunction>(m, "NativeFunction", py::dynamic_attr())
      .def(py::init<py::capsule, py::list, py::object, py::object, py::object, bool>())
      .def("__call__", &NativeFunction::call)
      .def_property_readonly("n_inputs", &NativeFunction::n_inputs)
      .def_property_readonly("n_outputs", &NativeFunction::n_outputs)
      .def_property_readonly("n_shared", &NativeFunction::n_shared)
      .def_property_readonly("n_updates", &NativeFunction::n_updates);
}
