"""``theano.gpuarray`` as Theano 1.0.5 shows it on a machine without pygpu: croton has no GPU
back end yet, so ``pygpu_activated`` is False and cuDNN is absent, and libraries that test these
flags (Lasagne's layers and tests) take their CPU paths. The old back ends
(``theano.sandbox.cuda``, ``theano.sandbox.gpuarray``) raise ImportError under the alias.

Example::

    >>> from croton import gpuarray
    >>> gpuarray.pygpu_activated, gpuarray.dnn.dnn_present()
    (False, False)
"""

from types import SimpleNamespace

pygpu = None
pygpu_activated = False


def _absent(*args, **kwargs) -> bool:
    return False


#: ``theano.gpuarray.dnn``'s availability checks.
dnn = SimpleNamespace(dnn_present=_absent, dnn_available=_absent, version=lambda raises=True: -1)

__all__ = ["pygpu", "pygpu_activated", "dnn"]
