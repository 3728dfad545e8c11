// The call path of functions compiled for the CUDA target (croton/cuda/function.py), in C++ as
// the CPU's NativeFunction is (binding.cpp): a call reads its device arrays' addresses, shapes
// and dtypes, calls the kernels through the C ABI (every array a DLPack DLTensor of device
// kDLCUDA, runtime/cpu/abi.h) without the GIL, and puts updates that changed shape into their
// shared variables. Python is called only where Python owns the work: allocating device arrays
// (croton.cuda.array's pool), uploading host inputs and host-resident shared variables, copying
// outputs back to NumPy, arguments by keyword, the first call's device checks, and the wording
// of errors. (The former ctypes path spent most of a small call building ctypes structures.)
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "abi.h"
#include "buffer.hpp"
#include "call_slots.hpp"

namespace py = pybind11;

namespace croton_binding {

namespace {

// The shape and element strides of one array of a call (DLTensor points into it).
struct DeviceDims {
  int64_t shape[CROTON_MAX_NDIM];
  int64_t strides[CROTON_MAX_NDIM];
};

// The GIL while the kernels run: released around the call, re-taken by the callbacks.
struct Gil {
  PyThreadState* saved = nullptr;
  void release() { saved = PyEval_SaveThread(); }
  void take() {
    if (saved != nullptr) PyEval_RestoreThread(saved);
    saved = nullptr;
  }
};

struct DeviceAllocCtx {
  const croton_function* fn;
  Gil* gil;
  PyObject* array_type;         // croton.cuda.array.DeviceArray
  PyObject* device;             // the function's device number (a Python int)
  PyObject* const* out_dtypes;  // NumPy dtypes of the outputs, then of the update targets
  PyObject* const* upd_dtypes;
  PyObject** outputs;
  PyObject** updates;
  DeviceDims* out_dims;
  DeviceDims* upd_dims;
  PyObject* failure_type = nullptr;  // an exception the allocator raised (not MemoryError)
  PyObject* failure_value = nullptr;
  PyObject* failure_tb = nullptr;
  bool interrupted = false;  // the commit point found a pending KeyboardInterrupt (error set)
};

// `obj.name` as an int64 (a device address); false with the Python error cleared when it is
// not one.
bool address_of(PyObject* obj, void** out) {
  PyObject* value = PyObject_GetAttrString(obj, "ptr");
  if (value == nullptr) return false;
  *out = PyLong_AsVoidPtr(value);
  Py_DECREF(value);
  return !PyErr_Occurred();
}

// Reads a tuple of ints into `dst` (at most CROTON_MAX_NDIM); the length, or -1.
int read_ints(PyObject* tuple, int64_t* dst) {
  if (!PyTuple_Check(tuple)) return -1;
  const Py_ssize_t n = PyTuple_GET_SIZE(tuple);
  if (n > CROTON_MAX_NDIM) return -1;
  for (Py_ssize_t d = 0; d < n; ++d) {
    dst[d] = PyLong_AsLongLong(PyTuple_GET_ITEM(tuple, d));
    if (dst[d] == -1 && PyErr_Occurred()) return -1;
  }
  return static_cast<int>(n);
}

int alloc_device_array(void* vctx, int32_t kind, int32_t index, int32_t ndim,
                       const int64_t* shape, DLTensor* out) {
  auto* ctx = static_cast<DeviceAllocCtx*>(vctx);
  ctx->gil->take();
  int rc = 0;
  if (kind == CROTON_COMMIT_POINT) {
    if (interrupted_at_commit_point(&ctx->interrupted)) return 1;
  } else {
    PyObject* dims = PyTuple_New(ndim);
    for (int32_t d = 0; d < ndim && dims != nullptr; ++d)
      PyTuple_SET_ITEM(dims, d, PyLong_FromLongLong(shape[d]));
    PyObject* dtype = kind == 0 ? ctx->out_dtypes[index] : ctx->upd_dtypes[index];
    PyObject* arr = dims == nullptr ? nullptr
                                    : PyObject_CallFunctionObjArgs(ctx->array_type, dims, dtype,
                                                                   ctx->device, nullptr);
    Py_XDECREF(dims);
    void* data = nullptr;
    if (arr != nullptr && !address_of(arr, &data)) Py_CLEAR(arr);
    if (arr == nullptr) {
      rc = 1;
      if (PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyErr_Clear();  // the function reports it (CROTON_ERR_ALLOC, with the shape)
      } else if (ctx->failure_type == nullptr) {
        PyErr_Fetch(&ctx->failure_type, &ctx->failure_value, &ctx->failure_tb);
      } else {
        PyErr_Clear();
      }
    } else {
      PyObject** slot = kind == 0 ? &ctx->outputs[index] : &ctx->updates[index];
      Py_XDECREF(*slot);
      *slot = arr;
      DeviceDims* dd = kind == 0 ? &ctx->out_dims[index] : &ctx->upd_dims[index];
      for (int32_t d = 0; d < ndim; ++d) dd->shape[d] = shape[d];
      out->data = data;
      out->device = DLDevice{kDLCUDA, static_cast<int32_t>(PyLong_AsLong(ctx->device))};
      out->ndim = ndim;
      out->dtype = kind == 0 ? ctx->fn->outputs[index].dtype
                             : ctx->fn->shared[ctx->fn->update_target[index]].dtype;
      out->shape = dd->shape;
      out->strides = nullptr;
      out->byte_offset = 0;
    }
  }
  ctx->gil->release();
  return rc;
}

class DeviceFunction {
 public:
  // `array_type`: DeviceArray (its instances are read directly); `device`: the CUDA device the
  // function runs on (its arrays must be there); `label` names the function in errors;
  // `output_dtypes`, `update_dtypes`: NumPy dtypes of the results; `device_outputs`: outputs
  // returned as device arrays even when return_device_arrays is off; the callbacks are
  // CudaFunction's.
  DeviceFunction(py::capsule table, py::list shared_cells, py::object array_type, int device,
                 std::string label, py::list output_dtypes, py::list update_dtypes,
                 std::vector<bool> device_outputs, py::object prepare_input,
                 py::object prepare_shared, py::object finish_staged, py::object resolve,
                 py::object raise_error, py::object first_call, bool single)
      : table_(table), cells_(shared_cells), array_type_(array_type), device_(device),
        device_obj_(py::int_(device)), label_(std::move(label)),
        output_dtypes_(output_dtypes), update_dtypes_(update_dtypes),
        device_outputs_(std::move(device_outputs)), prepare_input_(prepare_input),
        prepare_shared_(prepare_shared), finish_staged_(finish_staged), resolve_(resolve),
        raise_error_(raise_error), first_call_(first_call), single_(single) {
    fn_ = static_cast<const croton_function*>(table.get_pointer());
    if (fn_ == nullptr || fn_->abi_version != CROTON_ABI_VERSION)
      throw std::runtime_error(
          "croton: compiled CUDA function has ABI version " +
          (fn_ == nullptr ? std::string("(none)") : std::to_string(fn_->abi_version)) +
          ", this binding layer speaks version " + std::to_string(CROTON_ABI_VERSION) +
          ": clear croton's cache");
    if (static_cast<int32_t>(py::len(shared_cells)) != fn_->n_shared ||
        static_cast<int32_t>(py::len(output_dtypes)) != fn_->n_outputs ||
        static_cast<int32_t>(py::len(update_dtypes)) != fn_->n_updates ||
        static_cast<int32_t>(device_outputs_.size()) != fn_->n_outputs)
      throw std::runtime_error("croton: a CUDA function's arguments do not match its table");
  }

  py::object call(py::args args, py::kwargs kwargs) {
    if (!checked_) {
      first_call_();
      checked_ = true;
    }
    PyObject* argt = args.ptr();
    py::object resolved;
    const int32_t n_in = fn_->n_inputs, n_sh = fn_->n_shared;
    const int32_t n_out = fn_->n_outputs, n_upd = fn_->n_updates;
    if ((kwargs && PyDict_GET_SIZE(kwargs.ptr()) != 0) || PyTuple_GET_SIZE(argt) != n_in) {
      resolved = resolve_(args, kwargs);
      argt = resolved.ptr();
      if (!PyTuple_Check(argt) || PyTuple_GET_SIZE(argt) != n_in)
        throw std::runtime_error("croton: argument resolution returned a bad tuple");
    }
    Slots<DLTensor, false> in(n_in), sh(n_sh);
    Slots<DeviceDims, false> in_dims(n_in), sh_dims(n_sh);
    Refs in_refs(n_in), sh_refs(n_sh), staged(n_sh);
    for (int32_t i = 0; i < n_in; ++i) {
      PyObject* obj = PyTuple_GET_ITEM(argt, i);
      if (Py_TYPE(obj) != reinterpret_cast<PyTypeObject*>(array_type_.ptr())) {
        // host data (uploaded), foreign device arrays (__cuda_array_interface__, DLPack)
        obj = prepare_input_(i, py::handle(obj)).release().ptr();
      } else {
        Py_INCREF(obj);
      }
      in_refs[i] = obj;
      describe(obj, &in.data()[i], &in_dims.data()[i], "input", i);
    }
    PyObject* cells = cells_.ptr();
    for (int32_t j = 0; j < n_sh; ++j) {
      PyObject* value = PyList_GET_ITEM(PyList_GET_ITEM(cells, j), 0);
      if (Py_TYPE(value) != reinterpret_cast<PyTypeObject*>(array_type_.ptr())) {
        // a host shared variable: a device copy for this call, written back after it
        value = prepare_shared_(j).release().ptr();
        if (PyList_GET_ITEM(PyList_GET_ITEM(cells, j), 0) != value) {
          Py_INCREF(value);
          staged[j] = value;
        }
      } else {
        Py_INCREF(value);
      }
      sh_refs[j] = value;
      describe(value, &sh.data()[j], &sh_dims.data()[j], "shared variable", j);
    }
    Slots<PyObject*> outs(n_out), upds(n_upd);
    Slots<DLTensor, false> out_bufs(n_out), upd_bufs(n_upd);
    Slots<DeviceDims, false> out_dims(n_out), upd_dims(n_upd);
    Slots<PyObject*, false> out_types(n_out), upd_types(n_upd);
    for (int32_t k = 0; k < n_out; ++k) out_types.data()[k] = PyList_GET_ITEM(output_dtypes_.ptr(), k);
    for (int32_t k = 0; k < n_upd; ++k) upd_types.data()[k] = PyList_GET_ITEM(update_dtypes_.ptr(), k);
    Gil gil;
    DeviceAllocCtx ctx{fn_,           &gil,           array_type_.ptr(), device_obj_.ptr(),
                       out_types.data(), upd_types.data(), outs.data(),   upds.data(),
                       out_dims.data(),  upd_dims.data()};
    croton_error err;
    err.code = CROTON_OK;
    err.check = -1;
    err.ndim_a = err.ndim_b = 0;
    err.reason[0] = err.message[0] = '\0';
    gil.release();
    const int rc = fn_->call(in.data(), sh.data(), &alloc_device_array, &ctx, out_bufs.data(),
                             upd_bufs.data(), &err);
    gil.take();
    PyObject** out_objs = outs.data();
    PyObject** upd_objs = upds.data();
    if (rc != 0) {
      for (int32_t k = 0; k < n_out; ++k) Py_XDECREF(out_objs[k]);
      for (int32_t k = 0; k < n_upd; ++k) Py_XDECREF(upd_objs[k]);
      if (ctx.failure_type != nullptr) {
        PyErr_Restore(ctx.failure_type, ctx.failure_value, ctx.failure_tb);
        throw py::error_already_set();
      }
      if (ctx.interrupted) throw py::error_already_set();  // the KeyboardInterrupt
      py::tuple a(err.ndim_a), b(err.ndim_b);
      for (int d = 0; d < err.ndim_a; ++d) a[d] = py::int_(err.shape_a[d]);
      for (int d = 0; d < err.ndim_b; ++d) b[d] = py::int_(err.shape_b[d]);
      raise_error_(err.code, err.check, a, b, py::bytes(err.reason), py::bytes(err.message));
      throw std::runtime_error("croton: the error callback did not raise");
    }
    // Updates computed into new arrays (the shape changed) replace their variables' values;
    // a host variable staged for the call gets its new value back (CudaFunction).
    for (int32_t k = 0; k < n_upd; ++k) {
      const int32_t j = fn_->update_target[k];
      PyObject* fresh = upd_objs[k];
      upd_objs[k] = nullptr;
      if (staged[j] == nullptr) {
        if (fresh != nullptr) PyList_SetItem(PyList_GET_ITEM(cells, j), 0, fresh);  // steals it
        continue;
      }
      py::object value = fresh != nullptr ? py::reinterpret_steal<py::object>(fresh)
                                          : py::reinterpret_borrow<py::object>(staged[j]);
      try {
        finish_staged_(j, value);
      } catch (...) {
        for (int32_t m = 0; m < n_upd; ++m) Py_XDECREF(upd_objs[m]);
        for (int32_t m = 0; m < n_out; ++m) Py_XDECREF(out_objs[m]);
        throw;
      }
    }
    for (int32_t k = 0; k < n_out; ++k) {
      if (return_device_arrays || device_outputs_[k]) continue;
      PyObject* host = PyObject_CallMethod(out_objs[k], "to_numpy", nullptr);
      if (host == nullptr) {
        for (int32_t m = 0; m < n_out; ++m) Py_XDECREF(out_objs[m]);
        throw py::error_already_set();
      }
      Py_DECREF(out_objs[k]);
      out_objs[k] = host;
    }
    if (single_) return py::reinterpret_steal<py::object>(out_objs[0]);
    PyObject* list = PyList_New(n_out);
    for (int32_t k = 0; k < n_out; ++k) PyList_SET_ITEM(list, k, out_objs[k]);
    return py::reinterpret_steal<py::object>(list);
  }

  int n_inputs() const { return fn_->n_inputs; }
  int n_outputs() const { return fn_->n_outputs; }
  int n_shared() const { return fn_->n_shared; }
  int n_updates() const { return fn_->n_updates; }

  bool return_device_arrays = false;

 private:
  // `t` over the device array `obj` (a DeviceArray, or what prepare_input made of an argument:
  // ptr, shape, strides in elements or None, dtype, device). It must be on the function's
  // device; the compiled code checks the rest (CROTON_ERR_ARGUMENT names the argument).
  void describe(PyObject* obj, DLTensor* t, DeviceDims* dims, const char* what, int32_t index) {
    void* data = nullptr;
    py::object shape = py::reinterpret_steal<py::object>(PyObject_GetAttrString(obj, "shape"));
    py::object dtype = py::reinterpret_steal<py::object>(PyObject_GetAttrString(obj, "dtype"));
    py::object device = py::reinterpret_steal<py::object>(PyObject_GetAttrString(obj, "device"));
    const int ndim = shape ? read_ints(shape.ptr(), dims->shape) : -1;
    const long on = device ? PyLong_AsLong(device.ptr()) : -1;
    if (!dtype || ndim < 0 || on < 0 || !address_of(obj, &data)) {
      PyErr_Clear();
      throw py::type_error(label_ + ": " + what + " " + std::to_string(index) +
                           " is not a device array croton can read");
    }
    if (on != device_)
      throw py::type_error(label_ + ": " + what + " " + std::to_string(index) + " is on cuda:" +
                           std::to_string(on) + "; this function runs on cuda:" +
                           std::to_string(device_) + ", so copy it there first");
    t->data = data;
    t->device = DLDevice{kDLCUDA, device_};
    t->ndim = ndim;
    t->dtype = dl_dtype_of(dtype.ptr());
    t->shape = dims->shape;
    t->strides = nullptr;
    t->byte_offset = 0;
    if (Py_TYPE(obj) == reinterpret_cast<PyTypeObject*>(array_type_.ptr())) return;
    py::object strides =
        py::reinterpret_steal<py::object>(PyObject_GetAttrString(obj, "strides"));
    if (!strides) throw py::error_already_set();
    if (strides.is_none()) return;
    if (read_ints(strides.ptr(), dims->strides) != ndim)
      throw py::type_error(std::string("croton: ") + what + " " + std::to_string(index) +
                           " has strides croton cannot read");
    t->strides = dims->strides;
  }

  // The DLPack dtype of a NumPy dtype object (remembered: NumPy's builtin dtypes are
  // singletons, so a call looks one pointer up per array).
  DLDataType dl_dtype_of(PyObject* dtype) {
    for (const auto& known : dtypes_)
      if (known.first.ptr() == dtype) return known.second;
    py::object d = py::reinterpret_borrow<py::object>(dtype);
    const std::string kind = py::str(d.attr("kind"));
    const int bits = 8 * d.attr("itemsize").cast<int>();
    uint8_t code = kDLOpaqueHandle;
    if (kind == "b") code = kDLBool;
    else if (kind == "i") code = kDLInt;
    else if (kind == "u") code = kDLUInt;
    else if (kind == "f") code = kDLFloat;
    else if (kind == "c") code = kDLComplex;
    const DLDataType t{code, static_cast<uint8_t>(bits), 1};
    if (dtypes_.size() < 32) dtypes_.emplace_back(d, t);
    return t;
  }

  py::capsule table_;
  py::list cells_;
  py::object array_type_;
  int32_t device_;
  py::object device_obj_;
  std::string label_;
  py::list output_dtypes_, update_dtypes_;
  std::vector<bool> device_outputs_;
  py::object prepare_input_, prepare_shared_, finish_staged_, resolve_, raise_error_,
      first_call_;
  bool single_;
  bool checked_ = false;
  const croton_function* fn_ = nullptr;
  std::vector<std::pair<py::object, DLDataType>> dtypes_;
};

}  // namespace

void register_device_function(py::module_& m) {
  py::class_<DeviceFunction>(m, "DeviceFunction", py::dynamic_attr())
      .def(py::init<py::capsule, py::list, py::object, int, std::string, py::list, py::list,
                    std::vector<bool>, py::object, py::object, py::object, py::object,
                    py::object, py::object, bool>())
      .def("__call__", &DeviceFunction::call)
      .def_readwrite("return_device_arrays", &DeviceFunction::return_device_arrays)
      .def_property_readonly("n_inputs", &DeviceFunction::n_inputs)
      .def_property_readonly("n_outputs", &DeviceFunction::n_outputs)
      .def_property_readonly("n_shared", &DeviceFunction::n_shared)
      .def_property_readonly("n_updates", &DeviceFunction::n_updates);
}

}  // namespace croton_binding
