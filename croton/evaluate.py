"""The NumPy evaluator: runs a graph with each op's NumPy reference (``perform``). Used for
constant folding's cousin at run time (``mode='NUMPY'``, for debugging) and by tests as an
oracle. Never the default path.

Example::

    >>> import croton, croton.tensor as T
    >>> x = T.dvector('x')
    >>> f = croton.function([x], T.exp(x).sum(), mode='NUMPY')
    >>> float(f([0.0, 0.0]))
    2.0
"""

from __future__ import annotations

import functools

import numpy as np

from croton.fgraph import Graph
from croton.graph import Constant, Variable
from croton.ops.table import node_perform


def evaluate(graph: Graph, inputs: list[np.ndarray]) -> tuple[list, list]:
    """Values of the outputs and of the update expressions (shared values read from storage)."""
    values: dict[int, np.ndarray] = {id(v): x for v, x in zip(graph.inputs, inputs)}

    def value_of(v: Variable) -> np.ndarray:
        if id(v) in values:
            return values[id(v)]
        if isinstance(v, Constant):
            return v.data
        if hasattr(v, "storage"):
            value = v.storage[0]  # a value in device memory (a DeviceArray) is copied here
            return value if isinstance(value, np.ndarray) else np.asarray(value)
        raise KeyError(f"no value for {v!r}")

    for node in graph.nodes():
        results = node_perform(node, [value_of(i) for i in node.inputs])
        for out, res in zip(node.outputs, results):
            values[id(out)] = res
    outputs = [np.array(value_of(v), copy=True) for v in graph.outputs]
    updates = [np.array(value_of(v), copy=True) for _, v in graph.updates]
    return outputs, updates


class NumpyFunction:
    """``mode='NUMPY'``: the same call contract as a compiled function, evaluated by NumPy."""

    def __init__(self, graph: Graph, spec, single: bool) -> None:
        from croton.function_module import convert_input, resolve_arguments

        self.graph, self._spec, self._single = graph, spec, single
        self._convert = functools.partial(convert_input, spec)
        self._resolve = functools.partial(resolve_arguments, spec)
        self.name = spec.name

    def __reduce__(self):
        from croton.function_module import _unpickle_function

        return (_unpickle_function, (self._origin,))

    def __call__(self, *args, **kwargs):
        args = self._resolve(args, kwargs)
        inputs = [self._convert(i, a) for i, a in enumerate(args)]
        outputs, updates = evaluate(self.graph, inputs)
        for (shared_var, _), value in zip(self.graph.updates, updates):
            value = value.astype(shared_var.dtype, copy=False)
            if isinstance(shared_var.storage[0], np.ndarray):
                shared_var.storage[0] = value
            else:  # in device memory: uploaded (into the same allocation when it fits)
                shared_var.set_value(value, borrow=True)
        return outputs[0] if self._single else outputs
