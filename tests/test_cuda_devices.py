"""CUDA devices other than device 0, on the CPU emulation of CUDA with two devices
(tests/cuda_emu: ``CROTON_EMU_DEVICES=2``; every emulated launch records the device that was
current, every emulated allocation the device it was made on). What this checks: the names
(``cuda1``, ``cuda:1``), where shared variables, uploads, outputs and scratch live, that the
compiled code runs on the device of its arrays and restores the caller's, and that arrays of
two devices in one call are refused by name. It says nothing about a GPU (no device here runs
kernels; the run-time half is tests/test_cuda.py's, on a GPU).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from cuda_emu.harness import emulate_cuda, emulated_module

import croton
import croton.tensor as T
from croton.codegen.lower import lower
from croton.codegen.pipeline import run_pipeline
from croton.codegen.target import CUDA
from croton.config import config
from croton.cuda import runtime
from croton.cuda.array import DeviceArray
from croton.cuda.function import ALLOC_FN, CrotonError, DLDevice, DLTensor, dl_dtype
from croton.fgraph import Graph


@pytest.fixture(scope="module")
def two_devices(tmp_path_factory):
    """The emulation with two devices for this module's tests."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CROTON_EMU_DEVICES", "2")
        yield from emulate_cuda(tmp_path_factory)


def test_device_names():
    assert [runtime.cuda_index(n) for n in ("cuda", "cuda0", "cuda1", "cuda:1", "cuda:12")] == \
        [0, 0, 1, 1, 12]
    for bad in ("cuda:", "cudax", "gpu1", "cuda:-1"):
        with pytest.raises(ValueError, match="not a CUDA device name"):
            runtime.cuda_index(bad)
    assert croton.shared(np.ones(2, "float32"), device="cpu").device == "cpu"
    with pytest.raises(ValueError, match="'cuda', 'cudaN' or 'cuda:N', not 'gpu'"):
        croton.shared(np.ones(2, "float32"), device="gpu")


def test_a_function_on_device_1_keeps_everything_there(two_devices):
    assert runtime.device_count() == 2
    W = croton.shared(np.ones(3, "float32"), "W", device="cuda1")
    assert W.device == "cuda:1"  # Theano's cuda1 and PyTorch's cuda:1 name one device
    value = W.get_value(borrow=True, return_internal_type=True)
    assert value.device == 1 and runtime.pointer_device(value.ptr) == 1
    x = T.fvector("x")
    f = croton.function([x], [(W * x).sum(), T.cumsum(x * W)], updates=[(W, W + x)],
                        device="cuda:1")
    assert "cuda:1" in repr(f) and f.device == 1
    total, running = f(np.arange(3, dtype="float32"))
    assert float(total) == 3.0 and running.tolist() == [0.0, 1.0, 3.0]
    module = two_devices[-1]
    assert module.croton_emu_last_launch_device() == 1  # the kernels ran on device 1
    assert module.croton_emu_current_device() == 0  # and the caller's device is current again
    assert W.get_value().tolist() == [1.0, 2.0, 3.0]
    assert W.get_value(borrow=True, return_internal_type=True) is value  # updated in place
    f.return_device_arrays = True
    total, running = f(DeviceArray.from_numpy(np.ones(3, "float32"), device=1))
    assert (total.device, running.device) == (1, 1)
    assert running.__dlpack_device__() == (2, 1) and runtime.pointer_device(running.ptr) == 1
    assert running.to_numpy().tolist() == [1.0, 3.0, 6.0] and "cuda:1" in repr(running)
    W.set_value(np.zeros(5, "float32"))  # a new shape: a new array, on the same device
    assert W.get_value(borrow=True, return_internal_type=True).device == 1
    assert float(f(DeviceArray.from_numpy(np.ones(5, "float32"), device=1))[0].to_numpy()) == 0
    # a host shared variable is uploaded to the function's device for the call
    H = croton.shared(np.ones(2, "float32"), "H")
    g = croton.function([], H.sum(), updates=[(H, H * 3)], device="cuda1")
    assert float(g()) == 2.0 and H.get_value().tolist() == [3.0, 3.0]
    assert two_devices[-1].croton_emu_last_launch_device() == 1


def test_arrays_of_another_device_are_refused_by_name(two_devices):
    V = croton.shared(np.ones(2, "float32"), "V", device="cuda")
    x = T.fvector("x")
    with pytest.raises(TypeError, match="runs on cuda:1 but shared variable V lives on cuda: "):
        croton.function([x], x + V, device="cuda:1")
    f = croton.function([x], x * 2, device="cuda:1")
    before = len(two_devices)
    with pytest.raises(TypeError, match="input 0 is on cuda:0; this function runs on cuda:1"):
        f(DeviceArray.from_numpy(np.ones(2, "float32")))
    g = croton.function([x], x + V, device="cuda")
    W = croton.shared(np.ones(2, "float32"), "W", device="cuda:1")
    with pytest.raises(TypeError, match="runs on cuda but shared variable W lives on cuda:1"):
        g.copy(swap={V: W})
    assert len(two_devices) == before + 1  # g's build; no call ran
    with pytest.raises(runtime.CudaUnavailableError, match="no CUDA device 3: this process "
                                                           "sees 2"):
        croton.function([x], x + 1, device="cuda3")(np.ones(2, "float32"))


def _tensor(t: DLTensor, arr: np.ndarray, device: int, keep: list) -> None:
    shape = (ctypes.c_int64 * max(1, arr.ndim))(*arr.shape)
    keep += [arr, shape]
    t.data, t.device, t.ndim = arr.ctypes.data, DLDevice(2, device), arr.ndim
    t.dtype, t.shape, t.strides, t.byte_offset = dl_dtype(arr.dtype), shape, None, 0


def test_the_compiled_code_runs_on_its_first_arrays_device(two_devices, tmp_path):
    """Below the binding layer (an exported library's caller): the call runs on the device of
    its first array and refuses an array of another device, naming it; a device that does not
    exist is a device error."""
    x, y = T.fvector("x"), T.fvector("y")
    graph = run_pipeline(Graph.make([x, y], [x + y], []), "FAST_RUN")
    module, table = emulated_module(lower(graph, target=CUDA).plan, tmp_path)
    a, b = np.ones(3, "float32"), np.arange(3, dtype="float32")
    for devices, rc, words in [((1, 0), 7, "input 1 ('y') is on device cuda:0; this call runs "
                                            "on cuda:1 (the device of its first array)"),
                               ((5, 5), 8, "cudaSetDevice")]:
        keep, err = [], CrotonError()
        tin = (DLTensor * 2)()
        _tensor(tin[0], a, devices[0], keep)
        _tensor(tin[1], b, devices[1], keep)
        got = table.call(tin, (DLTensor * 1)(), ALLOC_FN(lambda *args: 1), None,
                         (DLTensor * 1)(), (DLTensor * 1)(), ctypes.byref(err))
        assert got == rc and words in err.message.decode() + err.reason.decode()
        assert module.croton_emu_current_device() == 0


def test_the_device_flag_names_the_device(two_devices, monkeypatch):
    """``device=cuda1`` (Theano's flag): functions compile for device 1, and new float32 shared
    variables and random streams' states live there."""
    from croton.tensor.random import RandomStreams

    monkeypatch.setattr(config, "device", "cuda1")
    W = croton.shared(np.ones(4, "float32"), "W")
    assert W.device == "cuda:1"
    srng = RandomStreams(7)
    u = srng.uniform((4,))
    f = croton.function([], W * u)
    assert f.device == 1
    draw = f()
    assert draw.shape == (4,) and ((draw >= 0) & (draw < 1)).all()
    assert two_devices[-1].croton_emu_last_launch_device() == 1
    state = u.rng.get_value(borrow=True, return_internal_type=True)
    assert isinstance(state, DeviceArray) and state.device == 1


def test_doctor_lists_every_device(two_devices):
    from croton.cli import cuda_checks

    assert cuda_checks()["cuda_device"] == ("cuda: croton CUDA emulator (sm_90); "
                                            "cuda:1: croton CUDA emulator (sm_90)")
