"""A 2-layer LSTM training step written in Theano's API (the compile-time target of issue 16:
a Lasagne-style LSTM, gates stacked in one weight matrix per layer, each layer a ``scan``,
cross-entropy at the last step, SGD on every parameter).

Run: ``python -m bench.lstm`` builds it and prints ``croton.function``'s compile report and a
step's loss; ``bench/ab/compile_probe.py lstm2_step`` times its compile beside the model steps.

Example::

    >>> f, args = build_lstm2_step(seq=3, batch=2, n_in=4, n_hid=5, n_out=3)
    >>> float(f(*args)) > 0
    True
"""

from __future__ import annotations

import numpy as np


def build_lstm2_step(seq: int = 20, batch: int = 16, n_in: int = 64, n_hid: int = 128,
                     n_out: int = 10, function=None):
    """The compiled training step and one batch of inputs for it: ``f(x, y) -> loss``."""
    import croton
    import croton.tensor as T

    function = function or croton.function
    rng = np.random.RandomState(0)

    def param(*shape, scale=0.1):
        return croton.shared(rng.uniform(-scale, scale, shape).astype("float32"))

    def lstm_layer(inputs, n_from):
        W_x, W_h = param(n_from, 4 * n_hid), param(n_hid, 4 * n_hid)
        b = croton.shared(np.zeros(4 * n_hid, dtype="float32"))
        projected = T.dot(inputs, W_x) + b  # every step's input projection at once

        def step(x_t, h, c):
            gates = x_t + T.dot(h, W_h)
            i = T.nnet.sigmoid(gates[:, :n_hid])
            f = T.nnet.sigmoid(gates[:, n_hid:2 * n_hid])
            o = T.nnet.sigmoid(gates[:, 2 * n_hid:3 * n_hid])
            g = T.tanh(gates[:, 3 * n_hid:])
            c_new = f * c + i * g
            return o * T.tanh(c_new), c_new

        zeros = T.zeros((inputs.shape[1], n_hid), dtype="float32")
        (hs, _), _ = croton.scan(step, sequences=projected, outputs_info=[zeros, zeros])
        return hs, [W_x, W_h, b]

    x, y = T.ftensor3("x"), T.ivector("y")
    h1, p1 = lstm_layer(x, n_in)
    h2, p2 = lstm_layer(h1, n_hid)
    W_out, b_out = param(n_hid, n_out), croton.shared(np.zeros(n_out, dtype="float32"))
    probs = T.nnet.softmax(T.dot(h2[-1], W_out) + b_out)
    loss = T.nnet.categorical_crossentropy(probs, y).mean()
    params = p1 + p2 + [W_out, b_out]
    grads = T.grad(loss, params)
    f = function([x, y], loss, updates=[(p, p - np.float32(0.1) * g)
                                        for p, g in zip(params, grads)])
    args = (rng.standard_normal((seq, batch, n_in)).astype("float32"),
            rng.randint(0, n_out, batch).astype("int32"))
    return f, args


def main() -> None:
    import time

    t0 = time.perf_counter()
    f, args = build_lstm2_step()
    print("compile report", {k: round(v, 3) for k, v in f.compile_report.items()},
          f"total {time.perf_counter() - t0:.2f} s; loss {float(f(*args)):.4f}")


if __name__ == "__main__":
    main()
