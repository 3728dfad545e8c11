"""``MRG_RandomStreams``: Theano's ``theano.sandbox.rng_mrg`` streams, drawn from croton's
counter-based generator (Philox4x32-10) instead of MRG31k3p.

The API is Theano's (``uniform``, ``normal``, ``binomial``; ``nstreams`` is accepted and has no
effect: a counter-based generator needs no stream count). The numbers differ from Theano's MRG
generator, as they would between any two generators; the same seed gives the same numbers.

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

from croton.tensor.random import RandomStreams

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
