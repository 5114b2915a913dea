"""``split_rows`` (seeded, stratified by class) and the metrics of ``chainrule.train.metrics``,
whose values must be scikit-learn's on any arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as sk

from chainrule.data.table.split import split_rows
from chainrule.train import metrics

HYPOTHESIS = settings(max_examples=100, deadline=None, database=None, derandomize=True)
fractions = st.floats(0, 0.95, exclude_max=True)


# ------------------------------------------------------------------------ split_rows
@HYPOTHESIS
@given(rows=st.integers(0, 300), fraction=fractions, seed=st.integers(0, 2**32 - 1))
def test_a_plain_split_is_disjoint_covering_sorted_and_sized(
    rows: int, fraction: float, seed: int
) -> None:
    """Kept and taken rows partition range(rows), each sorted; round(rows * fraction) are
    taken, at least one and never all when the fraction is positive and rows > 1; the same
    seed gives the same split."""
    kept, taken = split_rows(rows, fraction, seed)
    assert np.array_equal(np.sort(np.concatenate([kept, taken])), np.arange(rows))
    assert np.all(np.diff(kept) > 0) and np.all(np.diff(taken) > 0)
    expected = round(rows * fraction)
    if fraction > 0 and rows > 1:
        expected = min(max(expected, 1), rows - 1)
    assert len(taken) == expected
    again = split_rows(rows, fraction, seed)
    assert np.array_equal(again[0], kept) and np.array_equal(again[1], taken)


@HYPOTHESIS
@given(
    labels=arrays(np.int64, st.integers(1, 200), elements=st.integers(0, 5)),
    fraction=fractions,
    seed=st.integers(0, 2**32 - 1),
)
def test_a_stratified_split_takes_each_class_in_proportion(
    labels: np.ndarray, fraction: float, seed: int
) -> None:
    """Each class gives round(n_c * fraction) rows (never all of them), so every class keeps
    a training row, and where all round to nothing the largest class gives one; the parts are
    disjoint, covering, sorted and the same for the same seed."""
    kept, taken = split_rows(len(labels), fraction, seed, labels)
    assert np.array_equal(np.sort(np.concatenate([kept, taken])), np.arange(len(labels)))
    assert np.all(np.diff(kept) > 0) and np.all(np.diff(taken) > 0)
    classes = np.unique(labels)
    sizes = [int(np.sum(labels == label)) for label in classes]
    expected = [min(round(size * fraction), size - 1) for size in sizes]
    if fraction > 0 and sum(expected) == 0:  # all rounded to nothing: the largest class gives 1
        largest = int(np.argmax(sizes))
        expected[largest] = 1 if sizes[largest] > 1 else 0
    for label, wanted in zip(classes, expected):
        assert int(np.sum(labels[taken] == label)) == wanted
        assert np.sum(labels[kept] == label) >= 1
    again = split_rows(len(labels), fraction, seed, labels)
    assert np.array_equal(again[0], kept) and np.array_equal(again[1], taken)


def test_the_seed_changes_the_split() -> None:
    """Different seeds draw different rows (of 100, the chance of the same 20 is nil)."""
    splits = {tuple(split_rows(100, 0.2, seed)[1]) for seed in range(5)}
    assert len(splits) == 5


def test_a_bad_fraction_is_refused() -> None:
    for fraction in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            split_rows(10, fraction, 0)


# ------------------------------------------------------------------------ metrics
@st.composite
def label_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    classes = draw(st.integers(2, 6))
    size = draw(st.integers(1, 60))
    labels = arrays(np.int64, size, elements=st.integers(0, classes - 1))
    return draw(labels), draw(labels), classes


@HYPOTHESIS
@given(label_pairs())
def test_classification_metrics_equal_scikit_learns(
    case: tuple[np.ndarray, np.ndarray, int],
) -> None:
    """Accuracy, macro F1 (over the classes in either array, zero_division=0) and the
    confusion matrix (rows true, columns predicted) are sklearn.metrics'."""
    true, predicted, classes = case
    assert metrics.accuracy(true, predicted) == pytest.approx(sk.accuracy_score(true, predicted))
    expected_f1 = sk.f1_score(true, predicted, average="macro", zero_division=0)
    assert metrics.f1_macro(true, predicted, classes) == pytest.approx(expected_f1, abs=1e-12)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(true, predicted, classes),
        sk.confusion_matrix(true, predicted, labels=list(range(classes))),
    )


@HYPOTHESIS
@given(label_pairs(), st.integers(0, 5))
def test_the_majority_baseline_is_scikit_learns_on_a_constant_guess(
    case: tuple[np.ndarray, np.ndarray, int], majority: int
) -> None:
    """classification_metrics puts beside the model's scores those of always guessing the
    majority class."""
    true, predicted, classes = case
    majority %= classes
    found = metrics.classification_metrics(true, predicted, classes, majority)
    guess = np.full_like(true, majority)
    assert found["baseline_accuracy"] == pytest.approx(sk.accuracy_score(true, guess))
    assert found["baseline_f1_macro"] == pytest.approx(
        sk.f1_score(true, guess, average="macro", zero_division=0), abs=1e-12
    )
    assert found["accuracy"] == metrics.accuracy(true, predicted)


values = st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False)


@st.composite
def value_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    size = draw(st.integers(1, 50))
    true = draw(arrays(np.float64, size, elements=values))
    predicted = draw(arrays(np.float64, size, elements=values))
    return true, predicted


@HYPOTHESIS
@given(value_pairs())
def test_regression_metrics_equal_scikit_learns(case: tuple[np.ndarray, np.ndarray]) -> None:
    """RMSE, MAE and R² are sklearn.metrics'; R² is NaN (not sklearn's forced 0 or 1) when
    the true values have no variance."""
    true, predicted = case
    assert metrics.rmse(true, predicted) == pytest.approx(
        math.sqrt(sk.mean_squared_error(true, predicted)), rel=1e-9, abs=1e-9
    )
    assert metrics.mae(true, predicted) == pytest.approx(
        sk.mean_absolute_error(true, predicted), rel=1e-9, abs=1e-9
    )
    total = float(np.sum((true - true.mean()) ** 2))
    if total == 0:
        assert math.isnan(metrics.r2(true, predicted))
    else:
        assume(total > 1e-6)
        assert metrics.r2(true, predicted) == pytest.approx(
            sk.r2_score(true, predicted), rel=1e-7, abs=1e-7
        )


@HYPOTHESIS
@given(value_pairs(), values)
def test_the_mean_baseline_is_scikit_learns_on_a_constant_guess(
    case: tuple[np.ndarray, np.ndarray], mean: float
) -> None:
    """regression_metrics puts beside the model's scores those of always predicting ``mean``."""
    true, predicted = case
    found = metrics.regression_metrics(true, predicted, mean)
    guess = np.full_like(true, mean)
    assert found["baseline_rmse"] == pytest.approx(
        math.sqrt(sk.mean_squared_error(true, guess)), rel=1e-9, abs=1e-9
    )
    assert found["baseline_mae"] == pytest.approx(
        sk.mean_absolute_error(true, guess), rel=1e-9, abs=1e-9
    )
    if np.ptp(true) > 1e-3:
        assert found["baseline_r2"] == pytest.approx(sk.r2_score(true, guess), rel=1e-7, abs=1e-7)


def test_empty_arrays_give_nan_accuracy() -> None:
    """No rows: accuracy and macro F1 are undefined (NaN), not an error."""
    empty = np.zeros(0, dtype=np.int64)
    assert math.isnan(metrics.accuracy(empty, empty))
    assert math.isnan(metrics.f1_macro(empty, empty, 3))
