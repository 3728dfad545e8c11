"""Convolutions beyond the basic conv2d: filter dilation, groups, asymmetric padding, conv3d, the
transposed convolution (conv2d_grad_wrt_inputs / AbstractConv2d_gradInputs as Lasagne calls it),
the gradient wrt the weights (AbstractConv2d_gradWeights) and Theano's shape helpers. Values
against a SciPy reference, gradients against central differences, the transposed convolution
against the adjoint identity <conv(x), g> == <x, conv^T(g)>."""

import numpy as np
import pytest
import scipy.signal
from test_conv_pool import check_grads

import croton
import croton.tensor as T
from croton.tensor.nnet import abstract_conv

RNG = np.random.default_rng(5)


def ref_conv(x, w, pads, sub, dil, groups, flip):
    """SciPy reference: N-d correlation of the padded input with the dilated (flipped) filters."""
    nd = x.ndim - 2
    if flip:
        w = w[(Ellipsis,) + (slice(None, None, -1),) * nd]
    dk = tuple((k - 1) * d + 1 for k, d in zip(w.shape[2:], dil))
    wd = np.zeros(w.shape[:2] + dk)
    wd[(Ellipsis,) + tuple(slice(None, None, d) for d in dil)] = w
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    og, cg = w.shape[0] // groups, w.shape[1]
    out = []
    for n in range(x.shape[0]):
        rows = []
        for o in range(w.shape[0]):
            g = o // og
            acc = sum(scipy.signal.correlate(xp[n, g * cg + c], wd[o, c], mode="valid")
                      for c in range(cg))
            rows.append(acc[tuple(slice(None, None, s) for s in sub)])
        out.append(rows)
    return np.array(out)


CONFIGS_2D = [  # border_mode, subsample, dilation, groups, flip
    ("valid", (1, 1), (2, 1), 1, True), ("half", (1, 1), (2, 2), 1, False),
    ("full", (2, 1), (1, 3), 1, True), ((1, 2), (1, 1), (1, 1), 3, True),
    ("valid", (2, 2), (2, 1), 3, False), (((1, 0), (0, 2)), (1, 2), (1, 1), 1, False),
    ("half", (1, 1), (1, 1), 3, True),
]


def pads_of(border, kshape, dil):
    nd = len(kshape)
    return abstract_conv.border_mode_to_pad(
        border, nd, [(k - 1) * d + 1 for k, d in zip(kshape, dil)])


def conv_outs(x, w, configs, conv=T.nnet.conv2d):
    return [conv(x, w[:, : 6 // g] if g > 1 else w, border_mode=b, subsample=s,
                 filter_dilation=d, num_groups=g, filter_flip=f) for b, s, d, g, f in configs]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv2d_dilation_groups_asymmetric_padding_values(dtype):
    x, w = T.tensor4("x", dtype=dtype), T.tensor4("w", dtype=dtype)
    outs = conv_outs(x, w, CONFIGS_2D)
    f = croton.function([x, w], outs)
    f_np = croton.function([x, w], outs, mode="NUMPY")
    tol = 1e-4 if dtype == "float32" else 1e-11
    big = RNG.standard_normal((2, 6, 18, 9)).astype(dtype)
    cases = [(RNG.standard_normal((2, 6, 9, 8)).astype(dtype),
              RNG.standard_normal((6, 6, 3, 2)).astype(dtype)),
             (big[:, :, ::2, ::-1], RNG.standard_normal((6, 6, 2, 3)).astype(dtype)
              .transpose(0, 1, 3, 2)[::-1])]
    for a, b in cases:
        for got, got_np, (border, sub, dil, g, flip) in zip(f(a, b), f_np(a, b), CONFIGS_2D):
            bw = b[:, : 6 // g] if g > 1 else b
            want = ref_conv(a.astype("float64"), bw.astype("float64"),
                            pads_of(border, bw.shape[2:], dil), sub, dil, g, flip)
            assert got.dtype == dtype and got.shape == want.shape, (border, sub, dil, g)
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
            np.testing.assert_allclose(got_np, want, rtol=tol, atol=tol)


def test_conv2d_dilation_groups_gradients():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    check_grads([x, w], conv_outs(x, w, CONFIGS_2D[1:5]),
                [RNG.standard_normal((2, 6, 7, 6)), RNG.standard_normal((6, 6, 2, 2))])


CONFIGS_3D = [("valid", (1, 1, 1), (1, 1, 1), 1, True), ("half", (2, 1, 1), (1, 2, 1), 1, False),
              ((1, 0, 2), (1, 2, 1), (1, 1, 2), 2, True), ("full", (1, 1, 2), (1, 1, 1), 3, False)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv3d_values(dtype):
    x, w = T.tensor5("x", dtype=dtype), T.tensor5("w", dtype=dtype)
    outs = conv_outs(x, w, CONFIGS_3D, T.nnet.conv3d)
    f = croton.function([x, w], outs)
    a = RNG.standard_normal((2, 6, 5, 6, 7)).astype(dtype)[:, :, :, ::-1]
    b = RNG.standard_normal((6, 6, 2, 3, 2)).astype(dtype)
    tol = 1e-4 if dtype == "float32" else 1e-11
    for got, (border, sub, dil, g, flip) in zip(f(a, b), CONFIGS_3D):
        bw = b[:, : 6 // g] if g > 1 else b
        want = ref_conv(a.astype("float64"), bw.astype("float64"),
                        pads_of(border, bw.shape[2:], dil), sub, dil, g, flip)
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_conv3d_gradients():
    x, w = T.dtensor5("x"), T.dtensor5("w")
    check_grads([x, w], conv_outs(x, w, CONFIGS_3D[1:3], T.nnet.conv3d),
                [RNG.standard_normal((1, 6, 4, 5, 4)), RNG.standard_normal((6, 6, 2, 2, 2))])


def test_transposed_conv_is_the_adjoint_and_matches_theano_as_lasagne_calls_it():
    w, g, x = T.dtensor4("w"), T.dtensor4("g"), T.dtensor4("x")
    # Lasagne's TransposedConv2DLayer: W (in channels, filters, k, k), stride 2, crop 1
    op = T.nnet.abstract_conv.AbstractConv2d_gradInputs(
        imshp=(None, 3, 9, 8), kshp=(4, 3, 3, 2), subsample=(2, 2), border_mode=(1, 1),
        filter_flip=False)
    up = op(w, g, (9, 8))
    n = T.lvector("n")
    up_sym = op(w, g, n)
    fwd = T.nnet.conv2d(x, w, border_mode=(1, 1), subsample=(2, 2), filter_flip=False)
    f = croton.function([w, g, x, n], [up, up_sym, fwd])
    wa, xa = RNG.standard_normal((4, 3, 3, 2)), RNG.standard_normal((2, 3, 9, 8))
    ga = RNG.standard_normal((2, 4, 5, 5))
    got, got_sym, y = f(wa, ga, xa, np.array([9, 8]))
    assert got.shape == (2, 3, 9, 8) and y.shape == ga.shape
    np.testing.assert_allclose(got_sym, got)
    np.testing.assert_allclose((y * ga).sum(), (xa * got).sum(), rtol=1e-12)
    # the documented example: a 1x1 filter upsamples with zeros between the values
    up1 = abstract_conv.conv2d_grad_wrt_inputs(g, w, (1, 1, 3, 3), subsample=(2, 2))
    np.testing.assert_array_equal(
        croton.function([w, g], up1)(np.ones((1, 1, 1, 1)), np.arange(1.0, 5).reshape(1, 1, 2, 2)),
        [[[[1, 0, 2], [0, 0, 0], [3, 0, 4]]]])
    with pytest.raises(ValueError, match=r"conv2d_grad_input.*output gradient"):
        f(wa, ga, xa, np.array([12, 8]))
    check_grads([w, g], [up], [wa, ga])


def test_grad_wrt_weights_as_lasagne_dilated_layer_calls_it():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    # Lasagne's DilatedConv2DLayer: the dilated convolution as a gradient wrt the weights
    op = T.nnet.abstract_conv.AbstractConv2d_gradWeights(
        imshp=(3, 2, 8, 9), kshp=(4, 2, 6, 5), subsample=(2, 2), border_mode="valid",
        filter_flip=False)
    out = op(x.transpose(1, 0, 2, 3), w, (6, 5)).transpose(1, 0, 2, 3)
    f = croton.function([x, w], out)
    xa, wa = RNG.standard_normal((2, 3, 8, 9)), RNG.standard_normal((3, 4, 2, 3))
    want = ref_conv(xa, wa.transpose(1, 0, 2, 3), ((0, 0), (0, 0)), (1, 1), (2, 2), 1, False)
    np.testing.assert_allclose(f(xa, wa), want, rtol=1e-12, atol=1e-12)
    check_grads([x, w], [out], [xa, wa])


def test_shape_helpers_match_theano():
    assert abstract_conv.get_conv_output_shape((2, 3, 7, 7), (4, 3, 3, 3), "valid",
                                               (1, 1)) == (2, 4, 5, 5)
    assert abstract_conv.get_conv_output_shape((2, 3, 7, 8), (4, 3, 3, 2), "half", (2, 2),
                                               (2, 1)) == (2, 4, 4, 5)
    assert abstract_conv.get_conv_shape_1axis(7, 3, "full", 2) == 5
    assert abstract_conv.get_conv_shape_1axis(None, 3, "full", 2) is None
    assert abstract_conv.get_conv_shape_1axis(10, 3, (2, 1), 3, 2) == 3
    assert abstract_conv.get_conv_gradinputs_shape((4, 3, 3, 3), (2, 4, 5, 5), "valid",
                                                   (1, 1)) == (2, 3, 7, 7)
    assert abstract_conv.get_conv_gradinputs_shape((4, 3, 3, 3), (2, 4, 5, 5), "valid",
                                                   (2, 1)) == (2, 3, None, 7)
    assert abstract_conv.get_conv_gradweights_shape((2, 3, 7, 7), (2, 4, 5, 5), "valid",
                                                    (1, 1)) == (4, 3, 3, 3)
    assert abstract_conv.border_mode_to_pad("half", 2, (3, 5)) == ((1, 1), (2, 2))
    assert abstract_conv.check_conv_gradinputs_shape((2, 3, 7, 7), (4, 3, 3, 3), (2, 4, 5, 5),
                                                     "valid", (1, 1))
    assert not abstract_conv.check_conv_gradinputs_shape((2, 3, 7, 7), (4, 3, 3, 3),
                                                         (2, 4, 6, 5), "valid", (1, 1))
    assert T.nnet.abstract_conv is abstract_conv


def test_bad_arguments_name_the_argument():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    with pytest.raises(ValueError, match="filter_dilation"):
        T.nnet.conv2d(x, w, filter_dilation=(0, 1))
    with pytest.raises(ValueError, match="num_groups"):
        T.nnet.conv2d(x, w, num_groups=0)
    with pytest.raises(TypeError, match="5-d"):
        T.nnet.conv3d(x, w)
    f = croton.function([x, w], T.nnet.conv2d(x, w, num_groups=2))
    with pytest.raises(ValueError, match=r"conv2d.*channels.*groups"):
        f(np.zeros((1, 4, 5, 5)), np.zeros((2, 3, 2, 2)))
    with pytest.raises(ValueError, match=r"conv2d.*divisible by groups"):
        f(np.zeros((1, 4, 5, 5)), np.zeros((3, 2, 2, 2)))
    g = croton.function([x, w], T.nnet.conv2d(x, w, filter_dilation=(3, 1)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        g(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 2)))


def test_many_image_chunks_and_window_edges():
    # 20 images of 100 taps x 348 pixels: three chunks of images (7 per GEMM); stride, dilation and
    # padding put window edges at every offset of a row
    x, w, g = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("g")
    y = T.nnet.conv2d(x, w, border_mode=((2, 1), (3, 4)), subsample=(1, 2), filter_dilation=(1, 2),
                      filter_flip=False)
    gx, gw = T.grad((y * g).sum(), [x, w])
    f = croton.function([x, w, g], [y, gx, gw])
    f_np = croton.function([x, w, g], [y, gx, gw], mode="NUMPY")
    xa = RNG.standard_normal((20, 8, 30, 50))[:, ::2, :, ::2]
    wa = RNG.standard_normal((3, 4, 5, 5))
    ga = RNG.standard_normal((20, 3, 29, 12))
    want_y = ref_conv(xa, wa, ((2, 1), (3, 4)), (1, 2), (1, 2), 1, False)
    got = f(xa, wa, ga)
    np.testing.assert_allclose(got[0], want_y, rtol=1e-11, atol=1e-11)
    for a, b in zip(got, f_np(xa, wa, ga)):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)
