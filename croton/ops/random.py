"""Random ops: ``random_uniform``, ``random_normal``, ``random_binomial``, ``random_choice``,
``random_permutation``. Each node has two outputs: the advanced generator state and the sample.

The generator is Philox4x32-10 (Salmon et al., SC'11), counter-based, so every value is a pure
function of (key, counter) and the C++ kernels (``runtime/cpu/kernels/random.hpp``) and this
NumPy reference produce the same bits. A state is a ``uint64`` vector ``[key, call]``; draw
``t`` of element ``e`` in call ``call`` comes from the Philox block with counter words
``(t // 2, e, call & 0xffffffff, call >> 32)`` and key words ``(key & 0xffffffff, key >> 32)``:
words 0-1 (even ``t``) or 2-3 (odd ``t``) make one 53-bit uniform double in [0, 1). Every call
returns the state ``[key, call + 1]``.

Node inputs: ``[state, *size, *parameters]``. ``size`` is ``size_inputs`` int scalars (one per
dimension), or one int vector when ``size_vector``; parameters follow per distribution.

Example::

    >>> import numpy as np
    >>> from croton.ops.random import philox4x32
    >>> [hex(int(w)) for w in philox4x32(*[np.uint64(0)] * 6)]
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
"""

from __future__ import annotations

import math

import numpy as np

from croton.ops.shapes import broadcast_dims
from croton.ops.table import OpRecord, register
from croton.types import INT_DTYPES, TensorType

_MASK = np.uint64(0xFFFFFFFF)
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_U32 = np.uint64(32)
MAX_ELEMENTS = 1 << 32  # an element index is one 32-bit counter word


def philox4x32(c0, c1, c2, c3, k0, k1) -> tuple[np.ndarray, ...]:
    """Philox4x32-10 of counter words ``c0..c3`` and key words ``k0, k1`` (uint64 arrays holding
    32-bit values): the four 32-bit output words."""
    c0, c1, c2, c3, k0, k1 = (np.asarray(v, dtype=np.uint64) for v in (c0, c1, c2, c3, k0, k1))
    for r in range(10):
        if r:
            k0, k1 = (k0 + _W0) & _MASK, (k1 + _W1) & _MASK
        p0, p1 = _M0 * c0, _M1 * c2
        c0, c1, c2, c3 = (p1 >> _U32) ^ c1 ^ k0, p1 & _MASK, (p0 >> _U32) ^ c3 ^ k1, p0 & _MASK
    return c0, c1, c2, c3


def draw_pair(state: np.ndarray, elements: np.ndarray, block: int) -> tuple[np.ndarray, ...]:
    """The two uniform doubles of Philox block ``block`` of each element: draws ``2 * block``
    and ``2 * block + 1``."""
    key, call = np.uint64(state[0]), np.uint64(state[1])
    e = np.asarray(elements, dtype=np.uint64)
    w = philox4x32(np.full(e.shape, block, np.uint64), e, call & _MASK, call >> _U32,
                   key & _MASK, key >> _U32)
    scale = 2.0 ** -53
    return tuple((((w[i + 1] << _U32) | w[i]) >> np.uint64(11)).astype(np.float64) * scale
                 for i in (0, 2))


def draw(state: np.ndarray, elements: np.ndarray, t: int) -> np.ndarray:
    """Uniform doubles in [0, 1): draw ``t`` of each element."""
    return draw_pair(state, elements, t // 2)[t % 2]


def advanced(state: np.ndarray) -> np.ndarray:
    """The state after one call: ``[key, call + 1]``."""
    return np.array([state[0], (int(state[1]) + 1) % (1 << 64)], dtype=np.uint64)


# --- shapes -----------------------------------------------------------------------------------
def _check_state(state: np.ndarray) -> None:
    if state.shape != (2,):
        raise ValueError(f"the random generator state must be a uint64 vector of length 2, "
                         f"got shape {state.shape}")


def _size(values, params) -> tuple[int, ...]:
    k = params["size_inputs"]
    if params["size_vector"]:
        vec = np.asarray(values[1]).reshape(-1)
        if vec.shape[0] != params["size_ndim"]:
            raise ValueError(f"size has {vec.shape[0]} elements, expected {params['size_ndim']}")
        dims = tuple(int(v) for v in vec)
    else:
        dims = tuple(int(v) for v in values[1:1 + k])
    if any(d < 0 for d in dims):
        raise ValueError(f"size must be non-negative, got {dims}")
    return dims


def _args(values, params) -> list[np.ndarray]:
    return [np.asarray(v) for v in values[1 + params["size_inputs"]:]]


def _out_shape(values, params, args) -> tuple[int, ...]:
    if params["size_inputs"] == 0 and params["size_ndim"] < 0:
        return np.broadcast_shapes(*(a.shape for a in args))
    return _size(values, params)


def _broadcast(args, shape) -> list[np.ndarray]:
    try:
        return [np.broadcast_to(a, shape).reshape(-1) for a in args]
    except ValueError:
        raise ValueError(f"parameter shapes {[a.shape for a in args]} do not broadcast to the "
                         f"sample shape {shape}") from None


def _count(shape) -> int:
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if n >= MAX_ELEMENTS:
        raise ValueError(f"a random sample has at most 2**32 - 1 elements, got {n}")
    return n


# --- distributions ----------------------------------------------------------------------------
def _finish(values: np.ndarray, dtype: str, shape) -> np.ndarray:
    return values.astype(dtype).reshape(shape)


def _uniform(values, params):
    state = values[0]
    _check_state(state)
    args = _args(values, params)
    shape = _out_shape(values, params, args)
    n = _count(shape)
    lo, hi = (a.astype(np.float64) for a in _broadcast(args, shape))
    u = draw(state, np.arange(n), 0)
    dt = np.dtype(params["dtype"])
    out = (lo + (hi - lo) * u).astype(dt)
    lo_t, hi_t = lo.astype(dt), hi.astype(dt)
    bad = (hi_t > lo_t) & ~(out < hi_t)  # rounding reached ``high``: take the float below it
    out[bad] = np.nextafter(hi_t, lo_t)[bad]
    return [advanced(state), out.reshape(shape)]


def _vmath(fn, x: np.ndarray) -> np.ndarray:
    """``fn`` (from ``math``: the C library's log/cos, as the compiled kernel calls) per element."""
    return np.fromiter(map(fn, x.tolist()), dtype=np.float64, count=x.size)


def _normal(values, params):
    state = values[0]
    _check_state(state)
    args = _args(values, params)
    shape = _out_shape(values, params, args)
    n = _count(shape)
    avg, std = (a.astype(np.float64) for a in _broadcast(args, shape))
    u1, u2 = draw_pair(state, np.arange(n), 0)
    radius = np.sqrt(-2.0 * _vmath(math.log, 1.0 - u1))
    z = radius * _vmath(math.cos, 6.283185307179586 * u2)  # Box-Muller
    return [advanced(state), _finish(avg + std * z, params["dtype"], shape)]


def _binomial(values, params):
    state = values[0]
    _check_state(state)
    args = _args(values, params)
    shape = _out_shape(values, params, args)
    count = _count(shape)
    n, p = _broadcast(args, shape)
    n, p = n.astype(np.int64), p.astype(np.float64)
    if (n < 0).any():
        raise ValueError("binomial: n must be non-negative")
    if not ((p >= 0) & (p <= 1)).all():
        raise ValueError("binomial: p must be in [0, 1]")
    hits = np.zeros(count, np.int64)
    elements = np.arange(count)
    for block in range((int(n.max()) + 1) // 2 if count else 0):
        for t, u in zip((2 * block, 2 * block + 1), draw_pair(state, elements, block)):
            hits += (u < p) & (t < n)
    return [advanced(state), _finish(hits, params["dtype"], shape)]


def _cdf(p: np.ndarray, m: int) -> np.ndarray:
    if p.shape != (m,):
        raise ValueError(f"choice: p has {p.size} entries but the population has {m}")
    atol = math.sqrt(np.finfo(np.float32 if p.dtype == np.float32 else np.float64).eps)
    p = p.astype(np.float64)
    if not (p >= 0).all():
        raise ValueError("choice: probabilities must be non-negative")
    cdf = np.cumsum(p)
    if not abs(cdf[-1] - 1.0) <= atol:
        raise ValueError("choice: probabilities do not sum to 1")
    return cdf


def _pick(cdf: np.ndarray, u: np.ndarray, last: int) -> np.ndarray:
    """Indices drawn by inverting ``cdf`` at ``u * total``; rounding past the end picks
    ``last`` (the last index of positive weight)."""
    idx = np.searchsorted(cdf, u * cdf[-1], side="right")
    return np.where(idx >= cdf.shape[0], last, idx)


def _choice(values, params):
    state = values[0]
    _check_state(state)
    args = _args(values, params)
    shape = _size(values, params)
    k = _count(shape)
    a = args[0]
    m = a.shape[0] if a.ndim == 1 else int(a)
    if m <= 0 and k > 0:
        raise ValueError("choice: a must be positive unless no samples are taken")
    u = draw(state, np.arange(k), 0)
    weights = args[1].astype(np.float64) if params["has_p"] and k else None
    if weights is not None:
        cdf = _cdf(args[1], m)
        last = int(np.flatnonzero(weights > 0)[-1])
    if k == 0:
        idx = np.zeros(0, np.int64)
    elif params["replace"]:
        if weights is None:
            idx = np.minimum((u * float(m)).astype(np.int64), m - 1)
        else:
            idx = _pick(cdf, u, last)
    elif k > m:
        raise ValueError("choice: cannot take a larger sample than the population when "
                         "replace=False")
    elif weights is None:
        pool = np.arange(m, dtype=np.int64)
        for i in range(k):  # partial Fisher-Yates
            j = min(i + int(u[i] * float(m - i)), m - 1)
            pool[i], pool[j] = pool[j], pool[i]
        idx = pool[:k]
    else:
        if np.count_nonzero(weights) < k:
            raise ValueError("choice: fewer non-zero entries in p than the sample size")
        idx = np.zeros(k, np.int64)
        for i in range(k):  # draw by weight, then remove the drawn entry
            last = int(np.flatnonzero(weights > 0)[-1])
            idx[i] = _pick(np.cumsum(weights), u[i:i + 1], last)[0]
            weights[idx[i]] = 0.0
    picked = a.reshape(-1)[idx] if a.ndim == 1 else idx
    return [advanced(state), _finish(np.asarray(picked), params["dtype"], shape)]


def _permutation(values, params):
    state = values[0]
    _check_state(state)
    shape = _size(values, params)
    rows = _count(shape)
    n = int(_args(values, params)[0])
    if n < 0:
        raise ValueError("permutation: n must be non-negative")
    _count(shape + (n,))
    perm = np.tile(np.arange(n, dtype=np.int64), (rows, 1))
    r = np.arange(rows)
    for i in range(n - 1):  # Fisher-Yates on every row at once
        j = np.minimum(i + (draw(state, r, i) * float(n - i)).astype(np.int64), n - 1)
        perm[r, i], perm[r, j] = perm[r, j], perm[r, i].copy()
    return [advanced(state), _finish(perm, params["dtype"], shape + (n,))]


# --- type rules ---------------------------------------------------------------------------------
def _type_rule(nparams: int):
    def rule(types, params):
        state, rest = types[0], types[1:]
        if state.dtype != "uint64" or state.ndim != 1:
            raise TypeError(f"a random op needs a uint64 vector state, got {state}")
        k = params["size_inputs"]
        for t in rest[:k]:
            if t.dtype not in INT_DTYPES or t.ndim != (1 if params["size_vector"] else 0):
                raise TypeError(f"size must be integer scalars or one integer vector, got {t}")
        if len(rest) != k + nparams:
            raise TypeError(f"expected {k + nparams} inputs after the state, got {len(rest)}")
        return [state, TensorType(params["dtype"], params["bcast"])]

    return rule


def _random_shape(name: str):
    """The new state (2 words) and the sample: ``size`` (scalars or a vector's entries: values),
    else the parameters' broadcast shape; a permutation adds a row of n (a value)."""

    def rule(params, ins):
        k = params["size_inputs"]
        if params["size_vector"]:
            dims = [ins.value(1, d) for d in range(params["size_ndim"])]
        elif params["size_ndim"] >= 0:
            dims = [ins.value(1 + j) for j in range(k)]
        else:
            dims = broadcast_dims(ins, range(1 + k, len(ins.types)), len(params["bcast"]))
        if name == "random_permutation":
            dims.append(ins.value(1 + k))
        return [[2], dims]

    return rule


def _record(name: str, perform, nparams: int, doc: str) -> None:
    register(OpRecord(name, "random", _type_rule(nparams), perform,
                      lambda node, g: [None] * len(node.inputs), doc=doc,
                      shape=_random_shape(name)))


_record("random_uniform", _uniform, 2, "uniform samples in [low, high) (inputs low, high)")
_record("random_normal", _normal, 2, "normal samples by Box-Muller (inputs avg, std)")
_record("random_binomial", _binomial, 2, "binomial counts of n Bernoulli(p) trials (inputs n, p)")
_record("random_permutation", _permutation, 1, "per-row permutations of range(n) (input n)")
register(OpRecord("random_choice", "random", lambda types, params: _type_rule(
    2 if params["has_p"] else 1)(types, params), _choice,
    lambda node, g: [None] * len(node.inputs), shape=_random_shape("random_choice"),
    doc="samples of range(a) or of vector a, with or without replacement, weighted by p"))
