"""``MRG_RandomStreams``: Theano's ``theano.sandbox.rng_mrg`` streams, drawn from croton's
counter-based generator (Philox4x32-10) instead of MRG31k3p.

The API is Theano's (``uniform``, ``normal``, ``binomial``, ``multinomial``, ``choice``;
``nstreams`` is accepted and has no effect: a counter-based generator needs no stream count).
The numbers differ from Theano's MRG generator, as they would between any two generators; the
same seed gives the same numbers. Draws inside ``scan`` advance the state at every step.

Example::

    >>> import croton
    >>> from croton.sandbox.rng_mrg import MRG_RandomStreams
    >>> srng = MRG_RandomStreams(seed=42)
    >>> u = srng.uniform((3,))
    >>> f = croton.function([], u)
    >>> a, b = f(), f()
    >>> bool((a != b).all()), bool(((0 <= a) & (a < 1)).all())
    (True, True)
"""

from __future__ import annotations

from croton.graph import Variable
from croton.tensor.basic import as_tensor_variable
from croton.tensor.random import RandomStreams, _multinomial_counts, categorical_index

__all__ = ["MRG_RandomStreams"]


class MRG_RandomStreams(RandomStreams):  # noqa: N801  (Theano's name)
    """Theano's ``MRG_RandomStreams(seed=12345)``."""

    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None, nstreams=None,
                **kwargs):
        """Uniform samples in ``[low, high)``."""
        return super().uniform(size, low, high, ndim=ndim, dtype=dtype)

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None, nstreams=None,
               truncate=False, **kwargs):
        """Normal samples of mean ``avg`` and standard deviation ``std``."""
        if truncate:
            raise NotImplementedError("MRG_RandomStreams.normal(truncate=True)")
        return super().normal(size, avg, std, ndim=ndim, dtype=dtype)

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64", nstreams=None,
                 **kwargs):
        """Counts of successes in ``n`` trials of probability ``p``."""
        return super().binomial(size, n, p, ndim=ndim, dtype=dtype)

    def multinomial(self, size=None, n=1, pvals=None, ndim=None, dtype="int64", nstreams=None,
                    **kwargs) -> Variable:
        """Counts of ``n`` draws from each row of the matrix ``pvals``: an array of its shape
        (``size`` and ``ndim`` must be None, as in Theano)."""
        pvals = _probability_matrix(pvals, "multinomial", "pvals")
        if size is not None or ndim is not None:
            raise ValueError("MRG_RandomStreams.multinomial: size and ndim are not used; the "
                             "sample has the shape of pvals")
        from croton.tensor.random import _int_scalar

        n = _int_scalar(n, "multinomial: n")
        return _multinomial_counts(self, [pvals.shape[0]], 1, n, pvals, dtype)

    def choice(self, size=1, a=None, replace=True, p=None, ndim=None, dtype="int64",
               nstreams=None, **kwargs) -> Variable:
        """``size`` distinct indices per row of the matrix ``p``, drawn without replacement
        (each draw from the row's remaining weights): shape ``(p.shape[0], size)``. As in
        Theano 1.0.5, only ``replace=False`` with ``a=None`` is supported."""
        import croton.tensor as T

        if replace:
            raise NotImplementedError("MRG_RandomStreams.choice only draws without replacement "
                                      "(replace=False), as in Theano")
        if a is not None:
            raise TypeError("MRG_RandomStreams.choice: a must be None; the samples are indices "
                            "between 0 and p.shape[1] - 1")
        if ndim is not None:
            raise ValueError("MRG_RandomStreams.choice: ndim is not used")
        if not isinstance(size, int) or size < 1:
            raise TypeError(f"MRG_RandomStreams.choice: size must be a positive int, got "
                            f"{size!r}")
        weights = _probability_matrix(p, "choice", "p")
        u = self.uniform((weights.shape[0], size), dtype=weights.dtype)
        columns = T.arange(weights.shape[1])
        picked = []
        for j in range(size):
            index = categorical_index(u[:, j], weights)
            picked.append(index)
            weights = T.switch(T.eq(T.shape_padright(index), columns), 0, weights)
        return T.cast(T.stack(picked, axis=1), dtype)


def _probability_matrix(p, method: str, arg: str) -> Variable:
    if p is None:
        raise TypeError(f"MRG_RandomStreams.{method}: give {arg}")
    p = as_tensor_variable(p)
    if p.ndim != 2:
        raise NotImplementedError(f"MRG_RandomStreams.{method}: {arg} must be a matrix (one "
                                  f"distribution per row), as in Theano; got {p.type}")
    return p
