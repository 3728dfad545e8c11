// The module-init stub of a compiled function's extension module: hands the function table
// (croton_function_get, from the function's own translation unit) to croton's prebuilt binding
// layer as a capsule, with the profiling table when the function was compiled with profiling.
// Compiled as its own small translation unit beside the function's (fn_name.h defines
// CROTON_PYTHON_MODULE, the module's name), so Python.h is never parsed with the kernels and
// the two compile in parallel.
#include <Python.h>

#include "abi.h"
#include "fn_name.h"

extern "C" const croton_function* croton_function_get(void);
extern "C" __attribute__((weak)) void* croton_profile_table(void);

#define CROTON_STR2(x) #x
#define CROTON_STR(x) CROTON_STR2(x)
#define CROTON_PYINIT2(name) PyInit_##name
#define CROTON_PYINIT(name) CROTON_PYINIT2(name)

static PyModuleDef croton_module_def = {
    PyModuleDef_HEAD_INIT, CROTON_STR(CROTON_PYTHON_MODULE), nullptr, -1,
    nullptr, nullptr, nullptr, nullptr, nullptr};

static bool add_capsule(PyObject* module, void* pointer, const char* capsule_name,
                        const char* attribute) {
  PyObject* capsule = PyCapsule_New(pointer, capsule_name, nullptr);
  if (capsule == nullptr || PyModule_AddObject(module, attribute, capsule) < 0) {
    Py_XDECREF(capsule);
    return false;
  }
  return true;
}

PyMODINIT_FUNC CROTON_PYINIT(CROTON_PYTHON_MODULE)(void) {
  PyObject* module = PyModule_Create(&croton_module_def);
  if (module == nullptr) return nullptr;
  void* table = const_cast<croton_function*>(croton_function_get());
  bool ok = add_capsule(module, table, "croton_function", "function");
  if (ok && croton_profile_table != nullptr)
    ok = add_capsule(module, croton_profile_table(), "croton_profile", "profile");
  if (!ok) {
    Py_DECREF(module);
    return nullptr;
  }
  return module;
}
