"""Seeds: ``check_seed`` and every public ``seed=`` (``cr.manual_seed``, the toy sets, the
``DataLoader``, ``train_val_split``) take non-negative integers only, and say so by name.

``np.random.default_rng`` accepts any non-negative integer (NumPy's ``SeedSequence``); the
checks must refuse what it refuses, plus bools and floats, and accept everything else."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    DataLoader,
    TensorDataset,
    make_blobs,
    make_circles,
    make_elongated,
    make_moons,
    make_separable,
    make_spirals,
    make_xor,
    train_val_split,
)
from chainrule.engine.random import check_seed, default_generator

# (name in the message, a call taking the seed)
SEEDED: list[tuple[str, Callable[[object], object]]] = [
    ("manual_seed", lambda seed: cr.manual_seed(seed)),  # type: ignore[arg-type]
    ("make_xor", lambda seed: make_xor(seed=seed)),  # type: ignore[arg-type]
    ("make_moons", lambda seed: make_moons(seed=seed)),  # type: ignore[arg-type]
    ("make_circles", lambda seed: make_circles(seed=seed)),  # type: ignore[arg-type]
    ("make_spirals", lambda seed: make_spirals(seed=seed)),  # type: ignore[arg-type]
    ("make_blobs", lambda seed: make_blobs(seed=seed)),  # type: ignore[arg-type]
    ("make_separable", lambda seed: make_separable(seed=seed)),  # type: ignore[arg-type]
    ("make_elongated", lambda seed: make_elongated(seed=seed)),  # type: ignore[arg-type]
    (
        "DataLoader",
        lambda seed: DataLoader(TensorDataset(np.zeros((4, 2))), seed=seed),  # type: ignore[arg-type]
    ),
    (
        "train_val_split",
        lambda seed: train_val_split(np.zeros((10, 2)), np.zeros(10), seed=seed),  # type: ignore[arg-type]
    ),
]
SEEDED_IDS = [name for name, _ in SEEDED]


# ------------------------------------------------------------------------ check_seed
@pytest.mark.parametrize("seed", [0, 1, 12345, 2**32, 2**64 + 1, np.int64(7), np.uint8(3)])
def test_check_seed_returns_the_integer_default_rng_would_take(seed: int) -> None:
    checked = check_seed(seed, "somewhere")
    assert type(checked) is int and checked == int(seed)
    assert np.random.default_rng(checked).random() == np.random.default_rng(int(seed)).random()


def test_check_seed_refuses_negative_integers_with_its_caller_and_argument() -> None:
    with pytest.raises(ValueError) as caught:
        check_seed(-3, "my_function", "random_state")
    assert str(caught.value) == "my_function: random_state must be a non-negative integer, got -3"
    # NumPy refuses the same values, less clearly.
    with pytest.raises(ValueError, match="non-negative"):
        np.random.default_rng(-3)


@pytest.mark.parametrize("seed", [1.5, 1.0, np.float64(2.0), True, np.bool_(False), "7", None])
def test_check_seed_refuses_what_is_not_an_integer(seed: object) -> None:
    with pytest.raises(TypeError, match="my_function: seed must be a non-negative integer, got"):
        check_seed(seed, "my_function")


# ------------------------------------------------------------------------ every public seed
@pytest.mark.parametrize(("name", "call"), SEEDED, ids=SEEDED_IDS)
def test_a_negative_seed_is_a_value_error_naming_the_function(
    name: str, call: Callable[[object], object]
) -> None:
    with pytest.raises(ValueError) as caught:
        call(-1)
    assert str(caught.value) == f"{name}: seed must be a non-negative integer, got -1"


@pytest.mark.parametrize("seed", [1.5, 2.0, True, "3"])
@pytest.mark.parametrize(("name", "call"), SEEDED, ids=SEEDED_IDS)
def test_a_seed_that_is_not_an_integer_is_a_type_error_naming_the_function(
    name: str, call: Callable[[object], object], seed: object
) -> None:
    with pytest.raises(TypeError, match=f"^{name}: seed must be a non-negative integer, got"):
        call(seed)


@pytest.mark.parametrize(("name", "call"), SEEDED, ids=SEEDED_IDS)
def test_valid_seeds_are_accepted(name: str, call: Callable[[object], object]) -> None:
    for seed in (0, np.int64(5), 2**40):
        call(seed)


def test_a_refused_manual_seed_leaves_the_generator_as_it_was() -> None:
    cr.manual_seed(3)
    expected = np.random.default_rng(3).standard_normal(2)
    with pytest.raises(ValueError):
        cr.manual_seed(-1)
    np.testing.assert_array_equal(default_generator().standard_normal(2), expected)


def test_a_numpy_integer_seed_is_the_same_seed() -> None:
    X, y = make_moons(20, seed=np.int64(4))  # type: ignore[arg-type]
    X_int, y_int = make_moons(20, seed=4)
    np.testing.assert_array_equal(X, X_int)
    np.testing.assert_array_equal(y, y_int)
