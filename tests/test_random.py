"""Random streams: the Philox generator, bit-identical compiled and NumPy samples, distribution
statistics, state updates (default updates, failed calls, reseeding, replay), Theano's tutorial.

Run: CROTON_TEST_KEEP_CACHE=1 CROTON_CACHE_DIR=/tmp/h-random-cache \
     python -m pytest -q -n 2 tests/test_random.py
"""

import numpy as np
import pytest

import croton.tensor as T
from croton import function
from croton.codegen.pipeline import run_pipeline
from croton.fgraph import Graph
from croton.ops.random import philox4x32
from croton.tensor.random import RandomStreams


def test_philox_known_answers():
    # Random123's kat_vectors: counter (4 words), key (2 words) -> output (4 words)
    cases = [
        ([0, 0, 0, 0], [0, 0], [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        ([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2, [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]),
        ([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0],
         [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]),
    ]
    for counter, key, expected in cases:
        words = philox4x32(*[np.uint64(c) for c in counter], *[np.uint64(k) for k in key])
        assert [int(w) for w in words] == expected


def test_theano_tutorial_program():
    from croton.tensor.shared_randomstreams import RandomStreams

    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    rv_n = srng.normal((2, 2))
    f = function([], rv_u)
    g = function([], rv_n, no_default_updates=True)    # Not updating rv_n.rng
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u)

    a, b = f(), f()
    assert a.shape == (2, 2) and not np.array_equal(a, b)
    np.testing.assert_array_equal(g(), g())
    before = rv_u.rng.get_value()
    np.testing.assert_allclose(nearly_zeros(), np.zeros((2, 2)), atol=1e-15)
    assert not np.array_equal(rv_u.rng.get_value(), before)  # nearly_zeros advanced rv_u.rng
    assert rv_u.update[0] is rv_u.rng and rv_u.rng.default_update is rv_u.update[1]
    # replay: save the state, draw, restore, draw again
    saved = rv_u.rng.get_value()
    first = f()
    rv_u.rng.set_value(saved)
    np.testing.assert_array_equal(f(), first)
    # reseeding resets every stream: same numbers as a fresh RandomStreams(89234)
    srng.seed(89234)
    fresh = RandomStreams(seed=89234)
    u2, n2 = fresh.uniform((2, 2)), fresh.normal((2, 2))
    np.testing.assert_array_equal(f(), function([], u2, mode="NUMPY")())
    np.testing.assert_array_equal(g(), function([], n2, mode="NUMPY")())


def _all_distributions(srng, low):
    """One random variable of each kind and option (parameters broadcast against ``size``)."""
    return [
        srng.uniform((3, 4000), low=low, high=low + 0.6),
        srng.uniform((2, 3000), low=-2.0, high=5.0, dtype="float32"),
        srng.normal((3, 4000), avg=low, std=3.0),
        srng.normal((5000,), avg=1.0, std=0.5, dtype="float32"),
        srng.binomial((3, 500), n=np.array([1, 7, 30]).reshape(3, 1), p=0.3),
        srng.choice((40,), a=50, replace=False),
        srng.choice((6, 7), a=np.arange(10.0, 20.0), replace=True, dtype="float64"),
        srng.choice((200,), a=5, p=[0.1, 0.0, 0.5, 0.15, 0.25]),
        srng.choice((4,), a=5, replace=False, p=[0.1, 0.0, 0.5, 0.15, 0.25]),
        srng.permutation((2, 3), n=9),
    ]


def test_compiled_samples_equal_numpy_reference_bit_for_bit():
    low = T.dcol("low")
    compiled = function([low], _all_distributions(RandomStreams(99), low))
    reference = function([low], _all_distributions(RandomStreams(99), low), mode="NUMPY")
    lows = np.array([[0.1], [-3.0], [7.25]])
    for _ in range(2):  # the second call draws from the advanced states
        for got, want in zip(compiled(lows), reference(lows)):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)


def test_distribution_statistics():
    srng = RandomStreams(2024)
    n = 100_000
    u = srng.uniform((n,), low=-1.0, high=3.0)
    z = srng.normal((n,), avg=2.0, std=0.5)
    b = srng.binomial((n,), n=10, p=0.3)
    c = srng.choice((60,), a=60, replace=False)
    perm = srng.permutation((50,), n=12)
    many = srng.permutation((3000,), n=4)
    uv, zv, bv, cv, pv, mv = function([], [u, z, b, c, perm, many])()
    assert uv.min() >= -1.0 and uv.max() < 3.0
    assert abs(uv.mean() - 1.0) < 0.02 and abs(uv.var() - 16 / 12) < 0.02
    assert abs(zv.mean() - 2.0) < 0.01 and abs(zv.std() - 0.5) < 0.01
    assert bv.dtype == np.int64 and bv.min() >= 0 and bv.max() <= 10
    assert abs(bv.mean() - 3.0) < 0.03 and abs(bv.var() - 2.1) < 0.05
    np.testing.assert_array_equal(np.sort(cv), np.arange(60))  # distinct: a permutation
    assert pv.shape == (50, 12)
    np.testing.assert_array_equal(np.sort(pv, axis=1), np.tile(np.arange(12), (50, 1)))
    assert len({tuple(row) for row in pv}) > 45
    # every value is equally likely in every position
    for position in range(4):
        freq = np.bincount(mv[:, position], minlength=4) / 3000
        assert np.all(np.abs(freq - 0.25) < 0.04)


def test_same_seed_same_stream_and_seed_resets():
    def draws(srng):
        return [srng.uniform((5,)), srng.normal((5,))]

    s1, s2 = RandomStreams(123), RandomStreams(123)
    f1, f2 = function([], draws(s1)), function([], draws(s2))
    first = f1()
    for a, b in zip(first, f2()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], first[1])  # two variables, two streams
    assert not np.array_equal(f1()[0], first[0])  # two calls, two samples
    s1.seed(123)
    for a, b in zip(f1(), first):
        np.testing.assert_array_equal(a, b)
    s1.seed(42)
    assert not np.array_equal(f1()[0], first[0])
    other = RandomStreams(124)
    assert not np.array_equal(function([], draws(other), mode="NUMPY")()[0], first[0])


def test_failed_call_leaves_state_unchanged():
    srng = RandomStreams(5)
    rows = T.lscalar("rows")
    x, y = T.dvector("x"), T.dvector("y")
    rv = srng.uniform((rows, 2))
    f = function([rows, x, y], [rv, x + y])
    state = rv.rng.get_value()
    with pytest.raises(ValueError, match="non-negative"):
        f(-1, [1.0], [2.0])
    np.testing.assert_array_equal(rv.rng.get_value(), state)
    with pytest.raises(ValueError):
        f(3, [1.0, 2.0], [1.0, 2.0, 3.0])  # a shape error elsewhere in the function
    np.testing.assert_array_equal(rv.rng.get_value(), state)
    sample, _ = f(3, [1.0], [2.0])
    assert sample.shape == (3, 2)
    assert int(rv.rng.get_value()[1]) == int(state[1]) + 1 and rv.rng.get_value()[0] == state[0]
    # the NumPy reference checks the same
    g = function([rows, x, y], [rv, x + y], mode="NUMPY")
    state = rv.rng.get_value()
    with pytest.raises(ValueError):
        g(-1, [1.0], [2.0])
    np.testing.assert_array_equal(rv.rng.get_value(), state)


def test_symbolic_sizes_and_broadcast_parameters():
    srng = RandomStreams(8)
    size = T.lvector("size")
    n = T.iscalar("n")
    avg = T.dmatrix("avg")
    rv_vec = srng.uniform(size, ndim=2, dtype="float32")
    p = T.dvector("p")
    rv_mixed = srng.binomial((n, 3), n=4, p=p)
    rv_params = srng.normal(avg=avg, std=0.0)  # size from the parameters: exactly avg
    perm = srng.permutation((n,), n=n)
    ins = [size, n, p, avg]
    f = function(ins, [rv_vec, rv_mixed, rv_params, perm])
    ref = function(ins, [rv_vec, rv_mixed, rv_params, perm], mode="NUMPY")
    states = [v.rng.get_value() for v in (rv_vec, rv_mixed, rv_params, perm)]
    args = ([4, 5], 2, [0.0, 0.5, 1.0], np.arange(6.0).reshape(2, 3))
    got = f(*args)
    for v, s in zip((rv_vec, rv_mixed, rv_params, perm), states):
        v.rng.set_value(s)
    for a, b in zip(got, ref(*args)):
        np.testing.assert_array_equal(a, b)
    assert got[0].shape == (4, 5) and got[0].dtype == np.float32
    assert got[1].shape == (2, 3) and np.all(got[1][:, 0] == 0) and np.all(got[1][:, 2] == 4)
    np.testing.assert_array_equal(got[2], args[3])
    assert got[3].shape == (2, 2)
    with pytest.raises(ValueError, match="2 elements"):
        f([4, 5, 6], 2, [0.0, 0.5, 1.0], args[3])
    with pytest.raises(ValueError, match="broadcast"):
        f([4, 5], 2, [0.0, 0.5], args[3])  # p has 2 entries, the sample 3 columns


def test_no_default_updates_list_and_explicit_update():
    srng = RandomStreams(3)
    u, v = srng.uniform((3,)), srng.uniform((3,))
    f = function([], [u, v], no_default_updates=[v.rng], mode="NUMPY")
    a = f()
    b = f()
    assert not np.array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    # an explicit update of the state wins over its default update
    g = function([], u, updates=[(u.rng, u.rng)], mode="NUMPY")
    np.testing.assert_array_equal(g(), g())


def test_random_nodes_are_never_merged_or_folded():
    srng = RandomStreams(11)
    a, b = srng.uniform((4,)), srng.uniform((4,))
    graph = Graph.make([], [a, b], [a.update, b.update])
    optimized = run_pipeline(graph)
    names = [n.op.name for n in optimized.nodes()]
    assert names.count("random_uniform") == 2
    assert sum(1 for n in run_pipeline(graph, "FAST_COMPILE").nodes()
               if n.op.name == "random_uniform") == 2
    x, y = function([], [a, b], mode="FAST_COMPILE")()
    assert not np.array_equal(x, y)


def test_argument_errors():
    srng = RandomStreams(1)
    with pytest.raises(TypeError):
        srng.uniform((2.5,))
    with pytest.raises(ValueError, match="non-negative"):
        srng.normal((-1, 2))
    with pytest.raises(ValueError, match="ndim"):
        srng.uniform(T.lvector("s"))
    with pytest.raises(ValueError):
        srng.uniform((3,), low=np.zeros((2, 3)))  # a 2-d parameter for a 1-d sample
    too_many = srng.choice((6,), a=5, replace=False)
    with pytest.raises(ValueError, match="larger sample"):
        function([], too_many, mode="NUMPY")()
    bad_p = srng.choice((3,), a=3, p=[0.5, 0.2, 0.2])
    with pytest.raises(ValueError, match="sum to 1"):
        function([], bad_p, mode="NUMPY")()
    f = function([], [too_many, bad_p], on_unused_input="ignore")
    state = too_many.rng.get_value()
    with pytest.raises(ValueError, match="larger sample"):
        f()
    np.testing.assert_array_equal(too_many.rng.get_value(), state)


def test_import_paths():
    import croton.tensor.random
    import croton.tensor.shared_randomstreams as old

    assert old.RandomStreams is croton.tensor.random.RandomStreams
    assert croton.shared(np.zeros(2)).default_update is None
