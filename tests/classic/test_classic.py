"""Classic classifiers: the perceptron rule and the nearest-mean classifier.

Every expected value comes from the mathematics: weight sequences worked out by hand, the
hinge-loss gradient, Novikoff's bound, the perpendicular bisector of two means, and the
geometry of ``make_elongated``. None is copied from a run of the code under test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule import nn, optim
from chainrule.classic import NearestMeanClassifier, NotFittedError, Perceptron
from chainrule.data import make_blobs, make_elongated, make_separable, make_xor

HYPOTHESIS = settings(max_examples=60, deadline=None, database=None, derandomize=True)

# Four points in the plane, separable by x1 = 1.5: class 1 on the left, class 0 on the right.
HAND_X = np.array([[1.0, 2.0], [2.0, 0.0], [1.0, 0.0], [3.0, 1.0]])
HAND_Y = np.array([1, 0, 1, 0])

# The perceptron on HAND_X, worked out by hand (lr = 1, samples in order, t = +1 for class 1).
# Each row: epoch, sample, then w1, w2, b after the update; z = w·x + b before it.
#   epoch 1: A (1,2)  z=0  mistake -> w=(1,2)   b=1
#            B (2,0)  z=3  t=-1 mistake -> w=(-1,2)  b=0
#            C (1,0)  z=-1 mistake -> w=(0,2)   b=1
#            D (3,1)  z=3  t=-1 mistake -> w=(-3,1)  b=0
#   epoch 2: A z=-1 mistake -> (-2,3) 1;  B z=-3 ok;  C z=-1 mistake -> (-1,3) 2;
#            D z=2 mistake -> (-4,2) 1
#   epoch 3: A z=1 ok;  B z=-7 ok;  C z=-3 mistake -> (-3,2) 2;  D z=-5 ok
#   epoch 4: A z=3 ok;  B z=-4 ok;  C z=-1 mistake -> (-2,2) 3;  D z=-1 ok
#   epoch 5: A z=5, B z=-1, C z=1, D z=-1: no mistake, so training stops.
HAND_UPDATES = [
    (1, 0, 1.0, 2.0, 1.0),
    (1, 1, -1.0, 2.0, 0.0),
    (1, 2, 0.0, 2.0, 1.0),
    (1, 3, -3.0, 1.0, 0.0),
    (2, 0, -2.0, 3.0, 1.0),
    (2, 2, -1.0, 3.0, 2.0),
    (2, 3, -4.0, 2.0, 1.0),
    (3, 2, -3.0, 2.0, 2.0),
    (4, 2, -2.0, 2.0, 3.0),
]


def _signs(y: np.ndarray, positive: Any) -> np.ndarray:
    return np.where(y == positive, 1.0, -1.0)


def _as_float64(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64)


# ------------------------------------------------------------------ perceptron: hand example
def test_perceptron_weight_sequence_equals_the_hand_computation() -> None:
    """Every update, its epoch and sample, and the stopping epoch match the table above."""
    clf = Perceptron().fit(HAND_X, HAND_Y, record=True)
    assert clf.history_ is not None
    got = [(u.epoch, u.sample, u.coef[0, 0], u.coef[0, 1], u.intercept[0]) for u in clf.history_]
    assert got == HAND_UPDATES
    np.testing.assert_array_equal(clf.coef_, [[-2.0, 2.0]])
    np.testing.assert_array_equal(clf.intercept_, [3.0])
    assert clf.converged_ is True
    assert clf.n_epochs_ == 5
    assert clf.n_updates_ == 9
    np.testing.assert_array_equal(clf.decision_function(HAND_X), [5.0, -1.0, 1.0, -1.0])
    np.testing.assert_array_equal(clf.predict(HAND_X), HAND_Y)


def test_perceptron_fit_epochs_gives_the_hand_weights_at_each_epoch_end() -> None:
    """fit_epochs yields epochs 1 to 5 of the table above, the weights after each epoch's last
    update, and stops where fit stops."""
    clf = Perceptron()
    ends = {epoch: (w1, w2, b) for epoch, _, w1, w2, b in HAND_UPDATES}
    ends[5] = ends[4]  # epoch 5 makes no mistake
    seen = []
    for epoch in clf.fit_epochs(HAND_X, HAND_Y):
        seen.append(epoch)
        assert (clf.coef_[0, 0], clf.coef_[0, 1], clf.intercept_[0]) == ends[epoch]
        assert clf.n_epochs_ == epoch
        assert clf.converged_ is (epoch == 5)
    assert seen == [1, 2, 3, 4, 5]
    assert clf.n_updates_ == 9
    np.testing.assert_array_equal(clf.predict(HAND_X), HAND_Y)


def test_perceptron_fit_epochs_is_lazy_and_stops_at_max_epochs() -> None:
    """On XOR (no line separates it) only the epochs asked for are run, up to max_epochs."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    clf = Perceptron(max_epochs=7)
    epochs = clf.fit_epochs(X, y)
    assert next(epochs) == 1 and clf.n_epochs_ == 1
    assert list(epochs) == [2, 3, 4, 5, 6, 7]
    assert clf.converged_ is False


def test_perceptron_learning_rate_only_scales_the_weights() -> None:
    """From w = 0, w_k(lr) = lr·w_k(1) and t·z keeps its sign, so the same mistakes are made."""
    ones = Perceptron(lr=1.0).fit(HAND_X, HAND_Y, record=True)
    half = Perceptron(lr=0.5).fit(HAND_X, HAND_Y, record=True)
    assert ones.history_ is not None and half.history_ is not None
    assert [(u.epoch, u.sample) for u in half.history_] == [
        (u.epoch, u.sample) for u in ones.history_
    ]
    for a, b in zip(ones.history_, half.history_):
        np.testing.assert_array_equal(b.coef, 0.5 * a.coef)
        np.testing.assert_array_equal(b.intercept, 0.5 * a.intercept)
    assert half.n_epochs_ == ones.n_epochs_ == 5


def test_perceptron_max_epochs_cuts_the_hand_example_short() -> None:
    """The hand example needs 5 epochs; with 3 it stops unconverged after update 8."""
    clf = Perceptron(max_epochs=3).fit(HAND_X, HAND_Y)
    assert clf.converged_ is False
    assert clf.n_epochs_ == 3
    assert clf.n_updates_ == 8
    np.testing.assert_array_equal(clf.coef_, [[-3.0, 2.0]])
    np.testing.assert_array_equal(clf.intercept_, [2.0])


def test_perceptron_history_is_none_unless_recorded() -> None:
    """Without ``record=True`` no weights are kept."""
    assert Perceptron().fit(HAND_X, HAND_Y).history_ is None


def test_swapping_the_two_labels_negates_every_weight() -> None:
    """t → -t maps the run for w onto the run for -w: the mistake test t·z <= 0 is unchanged."""
    plain = Perceptron().fit(HAND_X, HAND_Y)
    swapped = Perceptron().fit(HAND_X, 1 - HAND_Y)
    np.testing.assert_array_equal(swapped.coef_, -plain.coef_)
    np.testing.assert_array_equal(swapped.intercept_, -plain.intercept_)
    np.testing.assert_array_equal(swapped.predict(HAND_X), 1 - HAND_Y)


# ----------------------------------------------------------- perceptron: separable and XOR
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("shuffle", [False, True])
def test_perceptron_converges_on_separable_data(seed: int, shuffle: bool) -> None:
    """Zero training errors, t·z > 0 for every sample, and no more than (R/γ)² updates.

    make_separable's classes lie in [-1, 1]² at least margin/2 from a line through the origin,
    so with the bias input 1, R² <= 1 + 1 + 1 = 3 and γ >= 0.15 for margin 0.3 (a little less
    after the cast to float32): Novikoff bounds the updates by 3 / 0.15² = 133, and since each
    epoch before the last makes an update, 200 epochs are enough.
    """
    X, y = make_separable(n_samples=100, margin=0.3, seed=seed)
    clf = Perceptron(max_epochs=200, shuffle=shuffle, seed=seed).fit(X, y)
    assert clf.converged_ is True
    assert clf.n_epochs_ < 200
    assert clf.score(X, y) == 1.0
    np.testing.assert_array_equal(clf.predict(X), y)
    t = _signs(y, clf.classes_[1])
    assert np.all(t * clf.decision_function(X) > 0)
    gamma = 0.15 - 1e-6
    assert clf.n_updates_ <= 3 / gamma**2


def test_perceptron_on_xor_never_converges() -> None:
    """No line separates XOR, so every epoch makes a mistake and all max_epochs are used."""
    X, y = make_xor(4, noise=0.0, seed=0)
    clf = Perceptron(max_epochs=25).fit(X, y)
    assert clf.converged_ is False
    assert clf.n_epochs_ == 25
    assert clf.n_updates_ >= 25
    # A line gets at most three of the four XOR corners right.
    assert clf.score(X, y) <= 0.75


def test_perceptron_on_noisy_xor_never_converges() -> None:
    """The same with 200 noisy points and shuffling."""
    X, y = make_xor(200, noise=0.1, seed=3)
    clf = Perceptron(max_epochs=15, shuffle=True, seed=0).fit(X, y)
    assert clf.converged_ is False
    assert clf.n_epochs_ == 15
    assert clf.score(X, y) < 1.0


# ------------------------------------------------------------------- perceptron: shuffling
def test_shuffle_uses_default_rng_of_the_seed() -> None:
    """From w = 0 the first visited sample is a mistake: it is the first index of the epoch's
    permutation drawn from numpy.random.default_rng(seed)."""
    X, y = make_separable(n_samples=30, seed=5)
    for seed in (0, 1, 2):
        clf = Perceptron(shuffle=True, seed=seed).fit(X, y, record=True)
        assert clf.history_ is not None
        assert clf.history_[0].sample == np.random.default_rng(seed).permutation(30)[0]


def test_shuffle_is_reproducible_for_a_seed() -> None:
    """Two fits with the same seed make the same updates; refitting restarts the generator."""
    X, y = make_separable(n_samples=50, seed=6)
    clf = Perceptron(shuffle=True, seed=11)
    first = clf.fit(X, y, record=True).history_
    second = clf.fit(X, y, record=True).history_
    assert first is not None and second is not None
    assert [(u.epoch, u.sample) for u in first] == [(u.epoch, u.sample) for u in second]
    np.testing.assert_array_equal(first[-1].coef, second[-1].coef)


def test_shuffle_without_seed_follows_manual_seed() -> None:
    """seed=None draws from the library's generator, which cr.manual_seed(n) resets to
    default_rng(n)."""
    X, y = make_separable(n_samples=30, seed=7)
    cr.manual_seed(21)
    first = Perceptron(shuffle=True).fit(X, y, record=True)
    cr.manual_seed(21)
    second = Perceptron(shuffle=True).fit(X, y, record=True)
    assert first.history_ is not None and second.history_ is not None
    assert first.history_[0].sample == np.random.default_rng(21).permutation(30)[0]
    assert [u.sample for u in first.history_] == [u.sample for u in second.history_]


def test_without_shuffle_the_seed_changes_nothing() -> None:
    """The order is 0..n-1 every epoch, whatever the seed."""
    a = Perceptron(seed=1).fit(HAND_X, HAND_Y)
    b = Perceptron(seed=2).fit(HAND_X, HAND_Y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


# ------------------------------------------------------ perceptron as gradient descent
def _hinge_sgd_step(
    w: np.ndarray, b: float, x: np.ndarray, t: float, lr: float
) -> tuple[np.ndarray, float]:
    """One SGD step on max(0, -t·z), z = w·x + b, by chainrule's autodiff and optimiser."""
    layer = nn.Linear(len(w), 1, dtype=np.float64)
    layer.weight.data[...] = w[None, :]
    layer.bias.data[...] = b
    sgd = optim.SGD(layer.parameters(), lr=lr)
    sgd.zero_grad()
    loss = nn.HingeLoss(margin=0.0, reduction="sum")(layer(x[None, :]), np.array([[t]]))
    loss.backward()
    sgd.step()
    return layer.weight.data[0].copy(), float(layer.bias.data[0])


def test_hinge_sgd_step_on_a_mistake_is_the_perceptron_update() -> None:
    """w = (0.5, -1), b = 0.25, x = (2, 1), t = -1: z = 0.25, t·z < 0, a mistake.

    ∂/∂w max(0, -t z) = -t x, so w - lr·(-t x) = w + lr t x = (0.5 - 1, -1 - 0.5) for lr = 0.5,
    and b + lr t = 0.25 - 0.5.
    """
    w, b = _hinge_sgd_step(np.array([0.5, -1.0]), 0.25, np.array([2.0, 1.0]), -1.0, lr=0.5)
    np.testing.assert_array_equal(w, [-0.5, -1.5])
    assert b == -0.25


def test_hinge_sgd_step_on_a_correct_sample_changes_nothing() -> None:
    """The same point with t = +1: t·z = 0.25 > 0, the loss is flat there, the gradient 0."""
    w, b = _hinge_sgd_step(np.array([0.5, -1.0]), 0.25, np.array([2.0, 1.0]), 1.0, lr=0.5)
    np.testing.assert_array_equal(w, [0.5, -1.0])
    assert b == 0.25


@pytest.mark.parametrize(
    ("X", "y", "lr", "seed", "tolerance"),
    [
        (HAND_X, HAND_Y, 1.0, None, 0.0),
        (HAND_X, HAND_Y, 0.5, None, 0.0),
        (HAND_X, HAND_Y, 1.0, 4, 0.0),
        (*make_separable(n_samples=25, margin=0.3, seed=4), 0.25, None, 1e-12),
        (*make_separable(n_samples=25, margin=0.3, seed=5), 0.25, 8, 1e-12),
    ],
    ids=["hand-lr1", "hand-lr0.5", "hand-shuffled", "separable-lr0.25", "separable-shuffled"],
)
def test_perceptron_run_is_sgd_on_the_hinge_loss(
    X: np.ndarray, y: np.ndarray, lr: float, seed: int | None, tolerance: float
) -> None:
    """Replaying the fit sample by sample with one hinge-loss SGD step each: every recorded
    update is exactly the SGD step on that sample, and every other sample's step is zero.

    The replay visits the samples in order, or with a seed in the order
    numpy.random.default_rng(seed).permutation(n), drawn afresh for each epoch.
    """
    X = _as_float64(X)
    shuffle = seed is not None
    clf = Perceptron(lr=lr, shuffle=shuffle, seed=seed).fit(X, y, record=True)
    assert clf.history_ is not None and clf.converged_
    t = _signs(y, clf.classes_[1])
    rng = np.random.default_rng(seed)
    w, b = np.zeros(X.shape[1]), 0.0
    pending = list(clf.history_)
    for epoch in range(1, clf.n_epochs_ + 1):
        order = rng.permutation(len(X)) if shuffle else range(len(X))
        for i in order:
            new_w, new_b = _hinge_sgd_step(w, b, X[i], t[i], lr)
            if pending and (pending[0].epoch, pending[0].sample) == (epoch, i):
                update = pending.pop(0)
                np.testing.assert_allclose(new_w, update.coef[0], rtol=0, atol=tolerance)
                np.testing.assert_allclose(new_b, update.intercept[0], rtol=0, atol=tolerance)
            else:
                np.testing.assert_array_equal(new_w, w)
                assert new_b == b
            w, b = new_w, new_b
    assert pending == []
    # The last epoch of the replay made no update: the run really had converged.
    np.testing.assert_allclose(w, clf.coef_[0], rtol=0, atol=tolerance)


# --------------------------------------------------------------- perceptron: multiclass
BLOB_CENTRES = np.array([[-5.0, 0.0], [5.0, 0.0], [0.0, 6.0]])


@pytest.mark.parametrize("seed", [0, 1])
def test_one_vs_rest_on_three_separable_blobs(seed: int) -> None:
    """Blobs of std 0.5 five or more std from any line that splits one centre from the other
    two: each one-vs-rest perceptron converges, so on every training sample only its own
    class scores above 0, and the argmax is always right."""
    X, y = make_blobs(300, centers=BLOB_CENTRES, std=0.5, seed=seed)
    clf = Perceptron(max_epochs=500).fit(X, y)
    assert clf.converged_ is True
    assert clf.coef_.shape == (3, 2)
    assert clf.intercept_.shape == (3,)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    scores = clf.decision_function(X)
    assert scores.shape == (300, 3)
    for k in range(3):
        np.testing.assert_array_equal(scores[:, k] > 0, y == k)
    np.testing.assert_array_equal(clf.predict(X), np.argmax(scores, axis=1))
    assert clf.score(X, y) == 1.0


def test_one_vs_rest_columns_are_the_binary_perceptrons() -> None:
    """Column k is the binary perceptron of class k against the rest (same order, same run),
    and the total number of updates is the sum of theirs."""
    X, y = make_blobs(90, centers=BLOB_CENTRES, std=0.5, seed=2)
    multi = Perceptron(max_epochs=500).fit(X, y)
    total = 0
    for k in range(3):
        binary = Perceptron(max_epochs=500).fit(X, (y == k).astype(int))
        np.testing.assert_array_equal(multi.coef_[k], binary.coef_[0])
        np.testing.assert_array_equal(multi.intercept_[k], binary.intercept_[0])
        total += binary.n_updates_
    assert multi.n_updates_ == total


def test_one_vs_rest_with_string_labels() -> None:
    """Labels come back as given; classes_ is sorted."""
    X, y = make_blobs(150, centers=BLOB_CENTRES, std=0.5, seed=3)
    names = np.array(["red", "green", "blue"])[y]
    clf = Perceptron(max_epochs=500).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["blue", "green", "red"])
    np.testing.assert_array_equal(clf.predict(X), names)


# -------------------------------------------------------------- perceptron: label types
@pytest.mark.parametrize(
    "labels",
    [(0, 1), (-1, 1), (2, 7), ("no", "yes"), (False, True), (0.5, 1.5)],
    ids=["0-1", "minus1-1", "2-7", "strings", "bools", "floats"],
)
def test_binary_labels_may_be_any_two_values(labels: tuple[Any, Any]) -> None:
    """t = +1 for the larger label, classes_[1], so every encoding gives the hand weights."""
    low, high = labels
    y = np.array([high if label == 1 else low for label in HAND_Y])
    clf = Perceptron().fit(HAND_X, y)
    np.testing.assert_array_equal(clf.classes_, [low, high])
    np.testing.assert_array_equal(clf.coef_, [[-2.0, 2.0]])
    np.testing.assert_array_equal(clf.intercept_, [3.0])
    predicted = clf.predict(HAND_X)
    np.testing.assert_array_equal(predicted, y)
    assert predicted.dtype == y.dtype
    assert clf.score(HAND_X, y) == 1.0


def test_binary_shapes_follow_scikit_learn() -> None:
    """Two classes: coef_ (1, n_features), intercept_ (1,), decision_function (n_samples,)."""
    clf = Perceptron().fit(HAND_X.tolist(), HAND_Y.tolist())
    assert clf.coef_.shape == (1, 2)
    assert clf.intercept_.shape == (1,)
    assert clf.decision_function(HAND_X).shape == (4,)
    assert clf.n_features_in_ == 2


def test_a_score_of_zero_predicts_the_first_class() -> None:
    """predict says classes_[1] only for z > 0, as as_linear's rule for the nearest mean."""
    clf = Perceptron().fit(HAND_X, HAND_Y)
    # w = (-2, 2), b = 3: z = 0 at (1.5, 0).
    assert clf.decision_function([[1.5, 0.0]])[0] == 0.0
    assert clf.predict([[1.5, 0.0]])[0] == 0


# ------------------------------------------------------------------------- nearest mean
def test_nearest_mean_means_and_predictions_by_hand() -> None:
    """Three classes: means (0, 1), (4, 1), (2, 5); each query goes to the nearest one."""
    X = np.array([[0, 0], [0, 2], [4, 0], [4, 2], [1, 5], [3, 5]], dtype=float)
    y = np.array([0, 0, 1, 1, 2, 2])
    clf = NearestMeanClassifier().fit(X, y)
    np.testing.assert_array_equal(clf.means_, [[0.0, 1.0], [4.0, 1.0], [2.0, 5.0]])
    queries = np.array([[-1.0, 0.0], [5.0, 1.0], [2.0, 9.0], [1.0, 1.0], [2.0, 3.5]])
    # squared distances to (0,1), (4,1), (2,5): [2, 26, 34], [26, 1, 25], [68, 68, 16],
    # [1, 9, 17], [10.25, 10.25, 2.25]
    np.testing.assert_array_equal(clf.predict(queries), [0, 1, 2, 0, 2])
    assert clf.score(queries, [0, 1, 2, 1, 2]) == 0.8


def test_nearest_mean_ties_go_to_the_first_class() -> None:
    """(2, 1) is exactly halfway between (0, 1) and (4, 1)."""
    X = np.array([[0, 0], [0, 2], [4, 0], [4, 2]], dtype=float)
    clf = NearestMeanClassifier().fit(X, ["left", "left", "right", "right"])
    assert clf.predict([[2.0, 1.0]])[0] == "left"
    w, b = clf.as_linear()
    assert float(w @ np.array([2.0, 1.0]) + b) == 0.0


def test_as_linear_by_hand() -> None:
    """Means (0, 1) and (4, 1): w = 2 (4, 0) = (8, 0), b = 1 - 17 = -16 (the line x1 = 2)."""
    X = np.array([[0, 0], [0, 2], [4, 0], [4, 2]], dtype=float)
    w, b = NearestMeanClassifier().fit(X, [3, 3, 9, 9]).as_linear()
    np.testing.assert_array_equal(w, [8.0, 0.0])
    assert b == -16.0
    assert isinstance(b, float)


@pytest.mark.parametrize("seed", range(6))
def test_as_linear_predicts_what_predict_does_on_random_data(seed: int) -> None:
    """w·x + b > 0 ⟺ |x - μ_1|² < |x - μ_0|², on random data in 1 to 5 dimensions."""
    rng = np.random.default_rng(seed)
    n_features = 1 + seed % 5
    X_train = rng.normal(size=(40, n_features)) * rng.uniform(0.5, 3, n_features)
    y_train = rng.integers(0, 2, 40)
    y_train[:2] = [0, 1]
    clf = NearestMeanClassifier().fit(X_train, y_train)
    w, b = clf.as_linear()
    X = rng.normal(size=(2000, n_features)) * 3
    linear = clf.classes_[(X @ w + b > 0).astype(int)]
    np.testing.assert_array_equal(linear, clf.predict(X))


_finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


@HYPOTHESIS
@given(
    X=hnp.arrays(
        np.float64,
        st.tuples(st.integers(2, 12), st.integers(1, 4)),
        elements=_finite,
    ),
    data=st.data(),
)
def test_as_linear_agrees_with_predict_property(X: np.ndarray, data: st.DataObject) -> None:
    """For any data and query points, the two rules agree wherever w·x + b is not within
    rounding of 0 (there the two float computations of the same number may differ)."""
    y = data.draw(hnp.arrays(np.int64, len(X), elements=st.integers(0, 1)))
    y[:2] = [0, 1]
    clf = NearestMeanClassifier().fit(X, y)
    w, b = clf.as_linear()
    queries = np.concatenate(
        [X, data.draw(hnp.arrays(np.float64, (5, X.shape[1]), elements=_finite))]
    )
    z = queries @ w + b
    scale = 1 + (queries**2).sum(axis=1) + (clf.means_**2).sum()
    clear = np.abs(z) > 1e-9 * scale
    linear = clf.classes_[(z > 0).astype(int)]
    np.testing.assert_array_equal(linear[clear], clf.predict(queries)[clear])


# -------------------------------------------------- nearest mean versus the perceptron
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_elongated_classes_fool_the_nearest_mean_but_not_the_perceptron(seed: int) -> None:
    """make_elongated(length 10, gap 1): class 0 has x1 ~ U(-10, 6), x2 ≈ +0.5; class 1 has
    x1 ~ U(-6, 10), x2 ≈ -0.5. The means are about (-2, 0.5) and (2, -0.5), so the nearest-mean
    boundary is 8 x1 - 2 x2 = 0, i.e. x1 = x2 / 4 ≈ ±0.125: it misclassifies the class-0 points
    with x1 > 0.125 and the class-1 points with x1 < -0.125, each (6 - 0.125) / 16 ≈ 37 % of its
    class. The line x2 = 0 separates the classes with a gap of 0.4, so the perceptron converges.
    """
    X, y = make_elongated(400, length=10.0, gap=1.0, seed=seed)
    nearest = NearestMeanClassifier().fit(X, y)
    error = 1 - nearest.score(X, y)
    assert 0.30 <= error <= 0.44
    perceptron = Perceptron(max_epochs=1000).fit(X, y)
    assert perceptron.converged_ is True
    assert perceptron.score(X, y) == 1.0


# ------------------------------------------------------------------------------ errors
CLASSIFIERS = [Perceptron, NearestMeanClassifier]


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_predict_before_fit_says_fit_first(make: Any) -> None:
    """NotFittedError is a ValueError and an AttributeError, and names fit."""
    with pytest.raises(NotFittedError, match=r"not fitted yet: call fit"):
        make().predict(HAND_X)
    with pytest.raises(ValueError, match="fit"):
        make().score(HAND_X, HAND_Y)
    with pytest.raises(AttributeError, match="fit"):
        make().predict(HAND_X)


def test_decision_function_and_as_linear_before_fit() -> None:
    with pytest.raises(NotFittedError, match="Perceptron is not fitted"):
        Perceptron().decision_function(HAND_X)
    with pytest.raises(NotFittedError, match="NearestMeanClassifier is not fitted"):
        NearestMeanClassifier().as_linear()


@pytest.mark.parametrize("make", CLASSIFIERS)
def test_feature_count_mismatch_names_both_counts(make: Any) -> None:
    clf = make().fit(HAND_X, HAND_Y)
    with pytest.raises(ValueError, match="X has 3 features, but the model was fitted with 2"):
        clf.predict(np.zeros((2, 3)))


@pytest.mark.parametrize("make", CLASSIFIERS)
@pytest.mark.parametrize(
    ("X", "y", "error", "message"),
    [
        (np.zeros(4), [0, 1, 0, 1], ValueError, r"X must be 2-D .* shape \(4,\).*reshape"),
        (np.zeros((2, 2, 2)), [0, 1], ValueError, "X must be 2-D"),
        (np.zeros((0, 2)), [], ValueError, "no samples"),
        (np.zeros((4, 0)), [0, 1, 0, 1], ValueError, "no features"),
        (HAND_X, [0, 1, 0], ValueError, "X has 4 samples but y has 3 labels"),
        (HAND_X, [1, 1, 1, 1], ValueError, r"at least two classes, got only \[1\]"),
        (HAND_X, [[0], [1], [0], [1]], ValueError, r"y must be 1-D .*ravel"),
        (HAND_X, [0.0, 1.0, np.nan, 1.0], ValueError, "non-finite labels"),
        ([[0.0, 1.0], [np.nan, 2.0]], [0, 1], ValueError, r"X contains 1 non-finite"),
        ([[0.0, np.inf], [-np.inf, 2.0]], [0, 1], ValueError, r"X contains 2 non-finite"),
        ([["a", "b"], ["c", "d"]], [0, 1], TypeError, "real numbers"),
        ([[1 + 1j, 0], [0, 1]], [0, 1], TypeError, "real numbers"),
    ],
    ids=[
        "1-D",
        "3-D",
        "no-samples",
        "no-features",
        "length",
        "one-class",
        "column-y",
        "nan-label",
        "nan-X",
        "inf-X",
        "string-X",
        "complex-X",
    ],
)
def test_fit_rejects_bad_input(make: Any, X: Any, y: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make().fit(X, y)


def test_predict_checks_its_input_too() -> None:
    clf = Perceptron().fit(HAND_X, HAND_Y)
    with pytest.raises(ValueError, match="non-finite"):
        clf.predict([[np.nan, 0.0]])
    with pytest.raises(ValueError, match="2-D"):
        clf.predict([1.0, 2.0])


@pytest.mark.parametrize(
    ("settings_", "error", "message"),
    [
        ({"lr": 0.0}, ValueError, "lr must be positive"),
        ({"lr": -1.0}, ValueError, "lr must be positive"),
        ({"lr": float("nan")}, ValueError, "lr must be positive and finite"),
        ({"lr": float("inf")}, ValueError, "lr must be positive and finite"),
        ({"lr": "1"}, TypeError, "lr must be a number"),
        ({"max_epochs": 0}, ValueError, "max_epochs must be at least 1"),
        ({"max_epochs": 2.5}, TypeError, "max_epochs must be an integer"),
        ({"shuffle": "yes"}, TypeError, "shuffle must be True or False"),
        ({"seed": -1}, ValueError, "seed must be non-negative"),
        ({"seed": 1.5}, TypeError, "seed must be an integer or None"),
    ],
)
def test_perceptron_rejects_bad_settings_at_fit(
    settings_: dict[str, Any], error: type, message: str
) -> None:
    """Settings are stored by the constructor (scikit-learn's convention) and checked by fit."""
    clf = Perceptron(**settings_)
    with pytest.raises(error, match=message):
        clf.fit(HAND_X, HAND_Y)


def test_as_linear_refuses_more_than_two_classes() -> None:
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    clf = NearestMeanClassifier().fit(X, [0, 1, 2])
    with pytest.raises(ValueError, match=r"exactly two classes.*fitted on 3"):
        clf.as_linear()


def test_score_rejects_labels_of_the_wrong_shape() -> None:
    clf = Perceptron().fit(HAND_X, HAND_Y)
    with pytest.raises(ValueError, match="y has shape"):
        clf.score(HAND_X, HAND_Y[:3])


# ----------------------------------------------------------------------- package surface
def test_classic_is_available_after_import_chainrule() -> None:
    assert cr.classic.Perceptron is Perceptron
    assert cr.classic.NearestMeanClassifier is NearestMeanClassifier


def test_reprs_show_the_settings() -> None:
    assert repr(Perceptron(lr=0.5, seed=3)) == (
        "Perceptron(lr=0.5, max_epochs=100, shuffle=False, seed=3)"
    )
    assert repr(NearestMeanClassifier()) == "NearestMeanClassifier()"
