"""``croton.tensor.signal``: Theano's signal namespace (``signal.pool.pool_2d``)."""
