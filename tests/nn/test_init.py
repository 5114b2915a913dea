"""nn.init: distributions on large tensors, in-place filling, dtypes and seeded reproducibility.

The statistical checks use a 400 x 300 weight (120,000 draws): a sample standard deviation is
then within about 0.2 % of the true one, so a 3 % tolerance cannot fail by chance but does catch
a wrong formula (for example a fan of 300 instead of 700 changes the std by 50 %).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import init

SHAPE = (400, 300)  # (out_features, in_features): fan_in = 300, fan_out = 400
FAN_IN, FAN_OUT = 300, 400


def _weight(dtype: Any = np.float64) -> nn.Parameter:
    return nn.Parameter(np.full(SHAPE, 7.0, dtype=dtype))


def _stats(t: cr.Tensor) -> tuple[float, float]:
    values = t.data.astype(np.float64)
    return float(values.mean()), float(values.std())


# ----------------------------------------------------------------------- distributions
def test_normal_default_std_is_001() -> None:
    """normal_ draws N(0, 0.01²) by default."""
    mean, std = _stats(init.normal_(_weight(), rng=np.random.default_rng(0)))
    assert std == pytest.approx(0.01, rel=0.03)
    assert abs(mean) < 5 * 0.01 / math.sqrt(SHAPE[0] * SHAPE[1])


def test_normal_with_mean_and_std() -> None:
    """normal_(std=2, mean=3) draws N(3, 4)."""
    mean, std = _stats(init.normal_(_weight(), std=2.0, mean=3.0, rng=np.random.default_rng(1)))
    assert std == pytest.approx(2.0, rel=0.03)
    assert mean == pytest.approx(3.0, abs=0.03)


def test_uniform_bounds_mean_and_std() -> None:
    """uniform_(a, b): inside [a, b], mean (a + b)/2, std (b - a)/sqrt(12)."""
    t = init.uniform_(_weight(), -0.5, 1.5, rng=np.random.default_rng(2))
    values = t.data
    assert values.min() >= -0.5 and values.max() <= 1.5
    assert values.min() < -0.49 and values.max() > 1.49
    mean, std = _stats(t)
    assert mean == pytest.approx(0.5, abs=0.01)
    assert std == pytest.approx(2.0 / math.sqrt(12), rel=0.03)


def test_uniform_default_is_zero_to_one() -> None:
    """As PyTorch, uniform_ defaults to U(0, 1)."""
    values = init.uniform_(_weight(), rng=np.random.default_rng(3)).data
    assert values.min() >= 0.0 and values.max() <= 1.0
    assert values.mean() == pytest.approx(0.5, abs=0.01)


def test_zeros() -> None:
    """zeros_ fills with exact zeros."""
    assert not init.zeros_(_weight()).data.any()


XAVIER_BOUND = math.sqrt(6 / (FAN_IN + FAN_OUT))
HE_BOUND = math.sqrt(6 / FAN_IN)


@pytest.mark.parametrize(
    ("fill", "bound"),
    [
        (lambda t, rng: init.xavier_uniform_(t, rng=rng), XAVIER_BOUND),
        (lambda t, rng: init.xavier_uniform_(t, gain=2.0, rng=rng), 2.0 * XAVIER_BOUND),
        (lambda t, rng: init.he_uniform_(t, rng=rng), HE_BOUND),
    ],
    ids=["xavier_uniform", "xavier_uniform_gain2", "he_uniform"],
)
def test_uniform_initialisers_bound_and_std(fill: Callable[..., Any], bound: float) -> None:
    """Xavier: U(±gain·sqrt(6/(fan_in+fan_out))); He: U(±sqrt(6/fan_in)); std = bound/sqrt(3)."""
    t = fill(_weight(), np.random.default_rng(4))
    values = t.data
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound
    mean, std = _stats(t)
    assert std == pytest.approx(bound / math.sqrt(3), rel=0.03)
    assert abs(mean) < 0.03 * bound


@pytest.mark.parametrize(
    ("fill", "std"),
    [
        (lambda t, rng: init.xavier_normal_(t, rng=rng), math.sqrt(2 / (FAN_IN + FAN_OUT))),
        (
            lambda t, rng: init.xavier_normal_(t, gain=0.5, rng=rng),
            0.5 * math.sqrt(2 / (FAN_IN + FAN_OUT)),
        ),
        (lambda t, rng: init.he_normal_(t, rng=rng), math.sqrt(2 / FAN_IN)),
    ],
    ids=["xavier_normal", "xavier_normal_gain0.5", "he_normal"],
)
def test_normal_initialisers_std(fill: Callable[..., Any], std: float) -> None:
    """Xavier: N(0, gain²·2/(fan_in+fan_out)); He: N(0, 2/fan_in)."""
    t = fill(_weight(), np.random.default_rng(5))
    mean, sample_std = _stats(t)
    assert sample_std == pytest.approx(std, rel=0.03)
    assert abs(mean) < 0.03 * std
    # A normal draw of 120,000 values reaches beyond 3 std but essentially never 6.
    assert np.abs(t.data).max() > 3 * std
    assert np.abs(t.data).max() < 6 * std


def test_fans_read_weight_as_out_by_in() -> None:
    """A (10, 1000) weight has fan_in 1000: He std sqrt(2/1000), not sqrt(2/10)."""
    t = init.he_normal_(nn.Parameter(np.zeros((10, 1000))), rng=np.random.default_rng(6))
    assert t.data.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.03)


@pytest.mark.parametrize(
    "fill", [init.xavier_uniform_, init.xavier_normal_, init.he_uniform_, init.he_normal_]
)
def test_fan_based_initialisers_refuse_a_vector(fill: Callable[..., Any]) -> None:
    """A bias (1-D) has no fan in and fan out."""
    with pytest.raises(ValueError, match="shape"):
        fill(nn.Parameter(np.zeros(5)))


# ------------------------------------------------------------------ in place and dtypes
ALL_FILLS: list[tuple[str, Callable[..., Any]]] = [
    ("normal", lambda t: init.normal_(t)),
    ("uniform", lambda t: init.uniform_(t, -1.0, 1.0)),
    ("zeros", lambda t: init.zeros_(t)),
    ("xavier_uniform", lambda t: init.xavier_uniform_(t)),
    ("xavier_normal", lambda t: init.xavier_normal_(t)),
    ("he_uniform", lambda t: init.he_uniform_(t)),
    ("he_normal", lambda t: init.he_normal_(t)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fill", [f for _, f in ALL_FILLS], ids=[n for n, _ in ALL_FILLS])
def test_initialisers_fill_in_place_and_keep_dtype(fill: Callable[..., Any], dtype: Any) -> None:
    """The same tensor is returned, its data array is the same object, its dtype unchanged."""
    t = nn.Parameter(np.full((30, 20), 7.0, dtype=dtype))
    array = t.data
    alias = t.data  # a view held elsewhere (for example by an optimiser) sees the new values
    out = fill(t)
    assert out is t
    assert t.data is array
    assert t.dtype == dtype
    assert not np.any(alias == 7.0)
    assert t.requires_grad


# -------------------------------------------------------------------------- seeding
@pytest.mark.parametrize("fill", [f for _, f in ALL_FILLS], ids=[n for n, _ in ALL_FILLS])
def test_manual_seed_gives_bit_identical_weights(fill: Callable[..., Any]) -> None:
    """The same cr.manual_seed gives the very same bits."""
    cr.manual_seed(7)
    a = fill(nn.Parameter(np.zeros((40, 30), dtype=np.float32)))
    cr.manual_seed(7)
    b = fill(nn.Parameter(np.zeros((40, 30), dtype=np.float32)))
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize(
    "fill",
    [
        init.normal_,
        init.uniform_,
        init.xavier_uniform_,
        init.xavier_normal_,
        init.he_uniform_,
        init.he_normal_,
    ],
)
def test_rng_gives_bit_identical_weights_and_different_seeds_differ(
    fill: Callable[..., Any],
) -> None:
    """Equal rng seeds give equal weights; other seeds give other weights."""
    a = fill(nn.Parameter(np.zeros((40, 30))), rng=np.random.default_rng(8))
    b = fill(nn.Parameter(np.zeros((40, 30))), rng=np.random.default_rng(8))
    c = fill(nn.Parameter(np.zeros((40, 30))), rng=np.random.default_rng(9))
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)


def test_rng_leaves_the_library_generator_alone() -> None:
    """Initialising from a passed rng does not draw from the generator manual_seed seeds."""
    cr.manual_seed(10)
    expected = cr.rand(4).data.copy()
    cr.manual_seed(10)
    init.xavier_uniform_(nn.Parameter(np.zeros((50, 50))), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(cr.rand(4).data, expected)


# ----------------------------------------------------- reproducible training, end to end
_XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
_XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]], dtype=np.float32)


def _train(seed: int) -> list[np.ndarray]:
    """Build (He and Xavier init, dropout) and train a small net from cr.manual_seed(seed)."""
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))
    init.he_normal_(model[0].weight)
    init.xavier_uniform_(model[3].weight)
    opt = optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(30):
        opt.zero_grad()
        loss_fn(model(_XOR_X), _XOR_Y).backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def test_same_seed_gives_bit_identical_training() -> None:
    """Two runs from the same seed end with exactly equal parameters; another seed differs."""
    first, second, other = _train(11), _train(11), _train(12)
    assert len(first) == 4
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    assert not all(np.array_equal(a, c) for a, c in zip(first, other))


# ------------------------------------------------------------------------ against torch
def test_initialiser_spreads_match_torch() -> None:
    """The sample std and max of each initialiser agree with torch.nn.init on the same shape."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    pairs = [
        ("xavier_uniform", init.xavier_uniform_, torch.nn.init.xavier_uniform_),
        ("xavier_normal", init.xavier_normal_, torch.nn.init.xavier_normal_),
        ("he_uniform", init.he_uniform_, torch.nn.init.kaiming_uniform_),
        ("he_normal", init.he_normal_, torch.nn.init.kaiming_normal_),
        ("normal", init.normal_, lambda t: torch.nn.init.normal_(t, std=0.01)),
    ]
    cr.manual_seed(0)
    for name, ours, theirs in pairs:
        a = ours(_weight()).data
        b = theirs(torch.empty(SHAPE, dtype=torch.float64)).numpy()
        assert a.std() == pytest.approx(b.std(), rel=0.03), name
        if "uniform" in name:
            # 120,000 uniform draws come within 0.01 % of the bound.
            assert np.abs(a).max() == pytest.approx(np.abs(b).max(), rel=1e-3), name
