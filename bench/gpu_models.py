"""The training steps of ``python -m bench.gpu``: mlp_step (batch 4096) and lenet_step (batch 128)
as croton graphs on device shared variables, PyTorch eager modules and JAX jit steps, with the
same shapes, initialisation scale and SGD (lr 0.01) as the peers' workloads
(``../shared/peers/workloads_*.py``; copied here because a GPU machine gets only this repository).

Example::

    >>> from bench.gpu_models import SPECS
    >>> SPECS["mlp_step"]["batch"]
    4096
"""
from __future__ import annotations

import numpy as np

from bench.gpu import interleaved

LR = np.float32(0.01)
SPECS = {"mlp_step": {"batch": 4096, "sizes": (784, 512, 512, 10)},
         "lenet_step": {"batch": 128}}
LENET = [((20, 1, 5, 5), 25), ((20,), 0), ((50, 20, 5, 5), 500), ((50,), 0),
         ((800, 500), 800), ((500,), 0), ((500, 10), 500), ((10,), 0)]


def _init(name: str, rng) -> list[np.ndarray]:
    """The parameters as float32 arrays, weight then bias per layer (biases zero)."""
    if name == "mlp_step":
        s = SPECS[name]["sizes"]
        shapes = [x for a, b in zip(s[:-1], s[1:]) for x in (((a, b), a), ((b,), 0))]
    else:
        shapes = LENET
    return [(rng.standard_normal(sh) * np.sqrt(1.0 / fan)).astype("float32") if fan
            else np.zeros(sh, "float32") for sh, fan in shapes]


def _data(name: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """A batch of inputs (float32) and labels (int32)."""
    b = SPECS[name]["batch"]
    labels = rng.integers(0, 10, b).astype("int32")
    if name == "mlp_step":
        return rng.standard_normal((b, 784)).astype("float32"), labels
    return rng.random((b, 1, 28, 28)).astype("float32"), labels


def croton_step(name: str, params: list[np.ndarray]):
    """croton's step compiled for the GPU, parameters in device shared variables; the loss stays
    on the device (``return_device_arrays``)."""
    import croton
    import croton.tensor as T
    from croton.tensor.nnet import conv2d, softmax
    from croton.tensor.signal.pool import pool_2d

    sh = [croton.shared(p, f"p{k}", device="cuda") for k, p in enumerate(params)]
    yl = T.ivector("y")
    if name == "mlp_step":
        X = T.fmatrix("X")
        h = X
        for i in range(0, len(sh), 2):
            h = T.dot(h, sh[i]) + sh[i + 1]
            if i < len(sh) - 2:
                h = T.tanh(h)
    else:
        X = T.ftensor4("X")
        h = X
        for i in (0, 2):
            h = pool_2d(conv2d(h, sh[i]), (2, 2), ignore_border=True)
            h = T.tanh(h + sh[i + 1].dimshuffle("x", 0, "x", "x"))
        h = T.tanh(T.dot(h.flatten(2), sh[4]) + sh[5])
        h = T.dot(h, sh[6]) + sh[7]
    loss = -T.mean(T.log(softmax(h))[T.arange(yl.shape[0]), yl])
    grads = T.grad(loss, sh)
    f = croton.function([X, yl], loss, updates=[(q, q - LR * g) for q, g in zip(sh, grads)],
                        device="cuda")
    f.return_device_arrays = True
    return f


def torch_step(name: str, params: list[np.ndarray], torch):
    """PyTorch eager on CUDA: the same model and initial parameters, SGD, cross-entropy."""
    nn = torch.nn
    if name == "mlp_step":
        model = nn.Sequential(nn.Linear(784, 512), nn.Tanh(), nn.Linear(512, 512), nn.Tanh(),
                              nn.Linear(512, 10))
        layers = [m for m in model if isinstance(m, nn.Linear)]
        weights = [p.T for p in params[0::2]]  # Linear keeps (out, in)
    else:
        model = nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Tanh(),
                              nn.Conv2d(20, 50, 5), nn.MaxPool2d(2), nn.Tanh(), nn.Flatten(),
                              nn.Linear(800, 500), nn.Tanh(), nn.Linear(500, 10))
        layers = [m for m in model if isinstance(m, (nn.Linear, nn.Conv2d))]
        # croton's conv2d is Theano's (flips the kernel, a true convolution): torch correlates
        weights = [params[0][:, :, ::-1, ::-1], params[2][:, :, ::-1, ::-1], params[4].T,
                   params[6].T]
    with torch.no_grad():
        for m, w, b in zip(layers, weights, params[1::2]):
            m.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            m.bias.copy_(torch.from_numpy(b))
    model = model.cuda()
    opt = torch.optim.SGD(model.parameters(), lr=float(LR))

    def step(X, y):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        return loss

    return step


def jax_step(name: str, params: list[np.ndarray], jx):
    """A JAX jit step on the GPU, parameters threaded through calls."""
    jax, dev = jx
    jnp = jax.numpy

    def forward(p, X):
        if name == "mlp_step":
            h = X
            for i in range(0, len(p), 2):
                h = h @ p[i] + p[i + 1]
                if i < len(p) - 2:
                    h = jnp.tanh(h)
            return h
        h = X
        for i in (0, 2):
            c = jax.lax.conv_general_dilated(h, p[i][:, :, ::-1, ::-1], (1, 1), "VALID",
                                             dimension_numbers=("NCHW", "OIHW", "NCHW"))
            c = jax.lax.reduce_window(c, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2),
                                      "VALID")
            h = jnp.tanh(c + p[i + 1][None, :, None, None])
        h = jnp.tanh(h.reshape(h.shape[0], -1) @ p[4] + p[5])
        return h @ p[6] + p[7]

    def loss(p, X, y):
        lp = jax.nn.log_softmax(forward(p, X))
        return -jnp.mean(lp[jnp.arange(y.shape[0]), y])

    @jax.jit
    def step(p, X, y):
        val, g = jax.value_and_grad(loss)(p, X, y)
        return val, [a - LR * b for a, b in zip(p, g)]

    state = {"p": [jax.device_put(p, dev) for p in params]}

    def call(X, y):
        val, state["p"] = step(state["p"], X, y)
        return val

    return call


def bench_steps(name: str, rounds: int, timer, jx) -> list[dict]:
    """ms per training step of croton, torch eager (and JAX), data on the device for all; the
    first losses must agree (same parameters and data) and fall."""
    import torch

    rng = np.random.default_rng(0)
    params, (Xa, ya) = _init(name, rng), _data(name, rng)
    X, y32, y64 = (torch.from_numpy(a).cuda() for a in (Xa, ya, ya.astype("int64")))
    f, t = croton_step(name, params), torch_step(name, params, torch)
    first = {"croton": float(np.asarray(f(X, y32))),
             "torch": float(t(X, y64))}
    impls = {"croton": lambda: f(X, y32), "torch": lambda: t(X, y64)}
    if jx[0] is not None:
        j = jax_step(name, params, jx)
        Xj, yj = (jx[0].device_put(a, jx[1]) for a in (Xa, ya))
        first["jax"] = float(j(Xj, yj))
        impls["jax"] = lambda: j(Xj, yj).block_until_ready()
    calls = 20 if name == "mlp_step" else 50
    ms = {k: v * 1e3 for k, v in interleaved(impls, calls, rounds, timer).items()}
    last = float(np.asarray(f(X, y32)))
    note = (f"batch {SPECS[name]['batch']}; first loss "
            + ", ".join(f"{k} {v:.4f}" for k, v in first.items())
            + f"; croton's after training {last:.4f}; target: croton <= torch")
    return [{"bench": name, "metric": "ms/step", **ms, "note": note}]

