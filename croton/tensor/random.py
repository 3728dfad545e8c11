"""``RandomStreams``: Theano's symbolic random streams over a counter-based generator.

Every call (``uniform``, ``normal``, ``binomial``, ``choice``, ``permutation``) makes a random
variable with its own generator state, a shared ``uint64`` vector ``[key, call]``. The state's
``default_update`` is the advanced state, so every compiled function that draws from it advances
it in place (unless built with ``no_default_updates``); within one call a random variable is one
sample wherever it is used. Keys come from the streams' seed: the ``i``-th variable of
``RandomStreams(seed)`` gets output ``i + 1`` of SplitMix64 seeded with ``seed``, so the same seed
and the same order of calls give the same numbers, in compiled and in ``mode='NUMPY'`` functions.

Example::

    >>> import croton
    >>> from croton.tensor.random import RandomStreams
    >>> srng = RandomStreams(seed=234)
    >>> rv_u = srng.uniform((2, 2))
    >>> f = croton.function([], rv_u, mode='NUMPY')
    >>> a, b = f(), f()
    >>> a.shape, bool((a != b).all()), bool(((0 <= a) & (a < 1)).all())
    ((2, 2), True, True)
    >>> srng.seed(234); bool((f() == a).all())
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from croton.config import config
from croton.graph import Constant, Variable
from croton.ops.table import OPS, apply_op
from croton.shared import SharedVariable, shared
from croton.tensor.basic import as_tensor_variable
from croton.types import INT_DTYPES, upcast

__all__ = ["RandomStreams", "RandomVariable", "stream_key"]

_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1


def stream_key(seed: int, index: int) -> int:
    """The Philox key of random variable ``index`` of ``RandomStreams(seed)``: output
    ``index + 1`` of SplitMix64 seeded with ``seed``.

    >>> hex(stream_key(0, 0))
    '0xe220a8397b1dcdaf'
    """
    z = (int(seed) + (index + 1) * _GOLDEN) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


class RandomVariable(Variable):
    """A sample of a random op: a variable with Theano's ``rng`` (the state shared variable)
    and ``update`` (the pair ``(rng, new_state)``) attributes."""

    __slots__ = ("rng", "update")


def _int_scalar(value, what: str) -> Variable:
    if isinstance(value, bool) or isinstance(value, float | np.floating):
        raise TypeError(f"{what} must be an integer, got {value!r}")
    var = as_tensor_variable(int(value) if isinstance(value, np.integer) else value)
    if var.dtype not in INT_DTYPES or var.ndim != 0:
        raise TypeError(f"{what} must be an integer scalar, got {var.type}")
    return var


def _vector_length(size: Variable, ndim: int | None) -> int:
    if ndim is not None:
        return int(ndim)
    owner = size.owner
    if owner is not None and owner.op.name == "shape":
        return owner.inputs[0].ndim
    raise ValueError("cannot tell how many dimensions a symbolic size vector has; pass ndim=")


def _size_inputs(size, ndim: int | None, args: Sequence[Variable]) -> tuple[list, dict]:
    """The size inputs of a random node and its size parameters (``size_inputs``,
    ``size_vector``, ``size_ndim``, ``bcast``), Theano's ``_infer_ndim_bcast``."""
    if isinstance(size, Constant) or isinstance(size, np.ndarray):
        data = size.data if isinstance(size, Constant) else size
        size = tuple(int(d) for d in np.asarray(data).reshape(-1))
    if size is None:
        nd = max((a.ndim for a in args), default=0)
        if ndim is not None and ndim != nd:
            raise ValueError(f"ndim={ndim} but the parameters have {nd} dimensions; pass size")
        bcast = tuple(all(a.broadcastable[d - nd + a.ndim] if d - nd + a.ndim >= 0 else True
                          for a in args) for d in range(nd))
        return [], {"size_inputs": 0, "size_vector": False, "size_ndim": -1, "bcast": bcast}
    if isinstance(size, Variable):
        if size.dtype not in INT_DTYPES or size.ndim != 1:
            raise TypeError(f"a symbolic size must be an integer vector, got {size.type}")
        nd = _vector_length(size, ndim)
        params = {"size_inputs": 1, "size_vector": True, "size_ndim": nd, "bcast": (False,) * nd}
        return [size], params
    if isinstance(size, int | np.integer):
        size = (size,)
    dims = [_int_scalar(d, "each entry of size") for d in size]
    if ndim is not None and ndim != len(dims):
        raise ValueError(f"ndim={ndim} disagrees with size {size!r}")
    for d in dims:
        if isinstance(d, Constant) and int(d.data) < 0:
            raise ValueError(f"size must be non-negative, got {size!r}")
    bcast = tuple(isinstance(d, Constant) and int(d.data) == 1 for d in dims)
    return dims, {"size_inputs": len(dims), "size_vector": False, "size_ndim": len(dims),
                  "bcast": bcast}


def _check_params_fit(args: Sequence[Variable], params: dict) -> None:
    nd = params["size_ndim"]
    for a in args:
        if nd >= 0 and a.ndim > nd:
            raise ValueError(f"a parameter of {a.ndim} dimensions does not fit a sample of "
                             f"{nd} dimensions")


def _float_dtype(dtype: str | None, args: Sequence[Variable]) -> str:
    if dtype is None:
        return upcast(config.floatX, *(a.dtype for a in args))
    return str(np.dtype(dtype))


class RandomStreams:
    """Theano's ``RandomStreams``: a factory of random variables whose states it can reseed.

    ``seed`` (default 12345) fixes every stream: two ``RandomStreams(123)`` draw the same
    numbers when their variables are made in the same order.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.default_instance_seed = 12345 if seed is None else int(seed)
        self.state_updates: list[tuple[SharedVariable, Variable]] = []

    # --- state ------------------------------------------------------------------------------
    def seed(self, seed: int | None = None) -> None:
        """Reset every stream made so far (and those made later) from ``seed``."""
        if seed is not None:
            self.default_instance_seed = int(seed)
        for i, (state, _) in enumerate(self.state_updates):
            state.set_value(self._initial_state(i))

    def updates(self) -> list[tuple[SharedVariable, Variable]]:
        """The ``(state, new_state)`` pair of every random variable made so far."""
        return list(self.state_updates)

    def __getitem__(self, item: SharedVariable) -> np.ndarray:
        return item.get_value(borrow=True)

    def __setitem__(self, item: SharedVariable, value) -> None:
        item.set_value(value)

    def _initial_state(self, index: int) -> np.ndarray:
        return np.array([stream_key(self.default_instance_seed, index), 0], dtype=np.uint64)

    def gen(self, op_name: str, sizes: list, args: list, **params) -> RandomVariable:
        """A new random variable of op ``op_name`` with its own state shared variable."""
        index = len(self.state_updates)
        # under device=cuda the state lives in device memory, beside the CUDA functions'
        # buffers (Theano kept its GPU streams' states there); else on the host
        on_device = config.device.startswith("cuda")
        state = shared(self._initial_state(index), name=f"random_state{index}",
                       device=config.device if on_device else None)
        node = apply_op(OPS[op_name], [state, *sizes, *args], **params)
        sample = RandomVariable(node.outputs[1].type, node, 1)
        node.outputs[1] = sample
        new_state = node.outputs[0]
        state.default_update = new_state
        sample.rng, sample.update = state, (state, new_state)
        self.state_updates.append(sample.update)
        return sample

    # --- distributions ------------------------------------------------------------------------
    def _continuous(self, op_name: str, size, a, b, ndim, dtype) -> RandomVariable:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        dtype = _float_dtype(dtype, [a, b])
        sizes, params = _size_inputs(size, ndim, [a, b])
        _check_params_fit([a, b], params)
        return self.gen(op_name, sizes, [a, b], dtype=dtype, **params)

    def uniform(self, size=None, low=0.0, high=1.0, ndim: int | None = None,
                dtype: str | None = None) -> RandomVariable:
        """Samples uniform in ``[low, high)`` (broadcast to ``size``)."""
        return self._continuous("random_uniform", size, low, high, ndim, dtype)

    def normal(self, size=None, avg=0.0, std=1.0, ndim: int | None = None,
               dtype: str | None = None) -> RandomVariable:
        """Normal samples of mean ``avg`` and standard deviation ``std``."""
        return self._continuous("random_normal", size, avg, std, ndim, dtype)

    def binomial(self, size=None, n=1, p=0.5, ndim: int | None = None,
                 dtype: str = "int64") -> RandomVariable:
        """Counts of successes in ``n`` trials of probability ``p``."""
        n, p = as_tensor_variable(n), as_tensor_variable(p)
        if n.dtype not in INT_DTYPES:
            raise TypeError(f"binomial: n must be an integer, got {n.type}")
        sizes, params = _size_inputs(size, ndim, [n, p])
        _check_params_fit([n, p], params)
        return self.gen("random_binomial", sizes, [n, p], dtype=str(np.dtype(dtype)), **params)

    def choice(self, size=None, a=2, replace: bool = True, p=None, ndim: int | None = None,
               dtype: str = "int64") -> RandomVariable:
        """Samples of ``range(a)`` (``a`` an integer) or of the entries of vector ``a``, with or
        without replacement, uniform or weighted by the probability vector ``p``."""
        a = as_tensor_variable(a)
        if a.ndim > 1 or (a.ndim == 0 and a.dtype not in INT_DTYPES):
            raise TypeError(f"choice: a must be an integer or a vector, got {a.type}")
        args = [a]
        if p is not None:
            p = as_tensor_variable(p)
            if p.ndim != 1:
                raise TypeError(f"choice: p must be a vector, got {p.type}")
            args.append(p)
        sizes, params = _size_inputs(() if size is None else size, ndim, [])
        return self.gen("random_choice", sizes, args, dtype=str(np.dtype(dtype)),
                        replace=bool(replace), has_p=p is not None, **params)

    def permutation(self, size=None, n=1, ndim: int | None = None,
                    dtype: str = "int64") -> RandomVariable:
        """Permutations of ``range(n)``: one per element of ``size``, along a last axis of
        length ``n``."""
        n = _int_scalar(n, "permutation: n")
        sizes, params = _size_inputs(() if size is None else size, ndim, [])
        params["bcast"] = params["bcast"] + (False,)
        return self.gen("random_permutation", sizes, [n], dtype=str(np.dtype(dtype)), **params)

    def multinomial(self, size=None, n=1, pvals=(0.5, 0.5), ndim: int | None = None,
                    dtype: str = "int64") -> Variable:
        """Counts of ``n`` draws from the categories of ``pvals`` (its last axis): shape
        ``size + (len(pvals),)`` (``size`` None: ``pvals``'s leading shape), Theano's
        ``RandomStreams.multinomial``."""
        pvals = as_tensor_variable(pvals)
        if pvals.ndim == 0 or pvals.dtype not in ("float16", "float32", "float64"):
            raise TypeError(f"multinomial: pvals must be a float vector or more, got {pvals.type}")
        n = _int_scalar(n, "multinomial: n")
        if size is None:
            lead, nd = [pvals.shape[d] for d in range(pvals.ndim - 1)], pvals.ndim - 1
        elif isinstance(size, Variable):
            lead, nd = size, _vector_length(size, ndim)
        else:
            size = (size,) if isinstance(size, int | np.integer) else tuple(size)
            lead, nd = list(size), len(size)
        return _multinomial_counts(self, lead, nd, n, pvals, dtype)


def categorical_index(u: Variable, weights: Variable) -> Variable:
    """The category each uniform number ``u`` (shape ``(...)``) picks from ``weights`` (shape
    ``(..., k)``, non-negative, not necessarily normalized): the first ``j`` whose cumulative
    weight exceeds ``u`` times the total, so a category of weight 0 is never picked.

    >>> import numpy as np, croton, croton.tensor as T
    >>> f = croton.function([], categorical_index(T.constant([0.0, 0.5, 0.99]),
    ...                                           T.constant([1.0, 0.0, 2.0, 1.0])))
    >>> f().tolist()
    [0, 2, 3]
    """
    import croton.tensor as T

    cum = T.cumsum(weights, axis=-1)
    k = weights.shape[-1]
    passed = T.ge(T.shape_padright(u * cum[..., -1]), cum)
    return T.minimum(T.sum(passed, axis=-1), k - 1)


def _multinomial_counts(streams: RandomStreams, lead, nd: int, n: Variable, pvals: Variable,
                        dtype: str) -> Variable:
    """``n`` categorical draws per sample from ``pvals`` (weights along its last axis),
    counted per category."""
    import croton.tensor as T

    if isinstance(lead, Variable):
        draw_size = T.concatenate([T.cast(lead, "int64"), T.stack([T.cast(n, "int64")])])
    else:
        draw_size = [*lead, n]
    u = streams.uniform(draw_size, ndim=nd + 1, dtype=pvals.dtype)      # (..., n)
    first = categorical_index(u, T.shape_padaxis(pvals, -2))            # (..., n)
    hits = T.eq(T.shape_padright(first), T.arange(pvals.shape[-1]))     # (..., n, k)
    return T.cast(T.sum(hits, axis=-2), str(np.dtype(dtype)))
