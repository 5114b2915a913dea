"""Data: ``TensorDataset``, ``DataLoader``, the built-in digits, the toy sets, ``one_hot`` and
``train_val_split``. Reference values come from the definitions, written here in NumPy."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.data
from chainrule.data import (
    DataLoader,
    TensorDataset,
    load_digits,
    make_blobs,
    make_circles,
    make_elongated,
    make_encoder,
    make_moons,
    make_separable,
    make_spirals,
    make_xor,
    one_hot,
    train_val_split,
)


def _ids_dataset(n: int = 23) -> TensorDataset:
    """Sample i is (row [i, 10 i], label 1000 + i), so a batch can be traced back to its ids."""
    ids = np.arange(n)
    X = np.column_stack([ids, 10 * ids]).astype(np.float64)
    return TensorDataset(X, 1000 + ids)


def _epoch(loader: DataLoader) -> list[np.ndarray]:
    """The sample ids of each batch of one pass, checking that inputs and labels stay paired."""
    batches = []
    for inputs, labels in loader:
        X, y = np.asarray(inputs), np.asarray(labels)
        ids = X[:, 0].astype(np.int64)
        np.testing.assert_array_equal(X[:, 1], 10 * ids)
        np.testing.assert_array_equal(y, 1000 + ids)
        batches.append(ids)
    return batches


# ------------------------------------------------------------------------ TensorDataset
def test_tensor_dataset_indexes_every_array_and_accepts_tensors() -> None:
    X = np.arange(12.0).reshape(4, 3)
    y = np.array([3, 1, 4, 1])
    dataset = TensorDataset(cr.tensor(X), y)
    assert len(dataset) == 4
    row, label = dataset[2]
    np.testing.assert_array_equal(row, X[2])
    assert label == 4


def test_tensor_dataset_rejects_arrays_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="same length.*array 0: 4, array 1: 5"):
        TensorDataset(np.zeros((4, 2)), np.zeros(5))
    with pytest.raises(ValueError):
        TensorDataset()


def test_tensor_dataset_rejects_an_array_without_a_first_axis() -> None:
    with pytest.raises(ValueError, match="TensorDataset: array 1 is 0-d"):
        TensorDataset(np.zeros((4, 2)), np.float64(3.0))


# ------------------------------------------------------------------------ DataLoader
def test_loader_without_shuffle_keeps_the_order() -> None:
    batches = _epoch(DataLoader(_ids_dataset(10), batch_size=4))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize("batch_size", [1, 3, 7, 23, 50])
def test_every_sample_appears_exactly_once_per_epoch(batch_size: int) -> None:
    loader = DataLoader(_ids_dataset(23), batch_size=batch_size, shuffle=True, seed=1)
    for _ in range(3):
        batches = _epoch(loader)
        assert len(batches) == len(loader) == -(-23 // batch_size)
        assert all(len(b) == batch_size for b in batches[:-1])
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(23))


def test_shuffle_gives_a_different_order_every_epoch() -> None:
    loader = DataLoader(_ids_dataset(40), batch_size=8, shuffle=True, seed=0)
    orders = [np.concatenate(_epoch(loader)) for _ in range(4)]
    for first in range(4):
        for second in range(first + 1, 4):
            assert not np.array_equal(orders[first], orders[second])
    assert not np.array_equal(orders[0], np.arange(40))


def test_same_seed_gives_the_same_batches_and_another_seed_others() -> None:
    def three_epochs(seed: int) -> np.ndarray:
        loader = DataLoader(_ids_dataset(30), batch_size=4, shuffle=True, seed=seed)
        return np.concatenate([np.concatenate(_epoch(loader)) for _ in range(3)])

    np.testing.assert_array_equal(three_epochs(5), three_epochs(5))
    assert not np.array_equal(three_epochs(5), three_epochs(6))


def test_manual_seed_governs_a_loader_without_seed() -> None:
    loader = DataLoader(_ids_dataset(30), batch_size=4, shuffle=True)
    cr.manual_seed(11)
    first = [np.concatenate(_epoch(loader)) for _ in range(2)]
    cr.manual_seed(11)
    again = [np.concatenate(_epoch(loader)) for _ in range(2)]
    cr.manual_seed(12)
    other = np.concatenate(_epoch(loader))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])
    assert not np.array_equal(first[0], other)


def test_drop_last_drops_the_short_batch() -> None:
    loader = DataLoader(_ids_dataset(10), batch_size=3, drop_last=True, shuffle=True, seed=2)
    batches = _epoch(loader)
    assert len(loader) == len(batches) == 3
    assert all(len(b) == 3 for b in batches)
    assert len(set(np.concatenate(batches).tolist())) == 9
    kept = DataLoader(_ids_dataset(10), batch_size=3, drop_last=False)
    assert [len(b) for b in _epoch(kept)] == [3, 3, 3, 1]
    exact = DataLoader(_ids_dataset(9), batch_size=3, drop_last=True)
    assert len(exact) == len(_epoch(exact)) == 3


def test_full_batch_is_one_batch_of_everything() -> None:
    dataset = _ids_dataset(17)
    for shuffle in (False, True):
        loader = DataLoader(dataset, batch_size=len(dataset), shuffle=shuffle, seed=0)
        batches = list(loader)
        assert len(loader) == len(batches) == 1
        inputs, labels = batches[0]
        assert inputs.shape == (17, 2) and labels.shape == (17,)
        assert isinstance(inputs, cr.Tensor)
        np.testing.assert_array_equal(np.sort(np.asarray(labels)), 1000 + np.arange(17))


def test_batch_size_one_gives_single_samples() -> None:
    loader = DataLoader(_ids_dataset(6), batch_size=1, shuffle=True, seed=3)
    batches = list(loader)
    assert len(batches) == len(loader) == 6
    for inputs, labels in batches:
        assert inputs.shape == (1, 2) and labels.shape == (1,)
    assert sorted(int(np.asarray(labels)[0]) for _, labels in batches) == list(range(1000, 1006))


def test_loader_state_dict_continues_the_same_sequence() -> None:
    original = DataLoader(_ids_dataset(25), batch_size=4, shuffle=True, seed=7)
    _epoch(original)
    state = original.state_dict()
    expected = [np.concatenate(_epoch(original)) for _ in range(3)]
    resumed = DataLoader(_ids_dataset(25), batch_size=4, shuffle=True, seed=99)
    resumed.load_state_dict(state)
    for order in expected:
        np.testing.assert_array_equal(np.concatenate(_epoch(resumed)), order)


def test_loader_state_loads_into_a_loader_built_without_seed() -> None:
    """The saved generator state is the sequence: a loader that receives it must continue it,
    whatever it was constructed with."""
    original = DataLoader(_ids_dataset(25), batch_size=4, shuffle=True, seed=7)
    _epoch(original)
    state = original.state_dict()
    expected = np.concatenate(_epoch(original))
    resumed = DataLoader(_ids_dataset(25), batch_size=4, shuffle=True)
    resumed.load_state_dict(state)
    cr.manual_seed(0)
    np.testing.assert_array_equal(np.concatenate(_epoch(resumed)), expected)


def test_loader_works_on_any_indexable_dataset() -> None:
    samples = [(np.array([i, 10 * i], dtype=np.float64), 1000 + i) for i in range(7)]
    batches = _epoch(DataLoader(samples, batch_size=3, shuffle=True, seed=4))
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(7))


@pytest.mark.parametrize(
    ("batch_size", "error"),
    [(0, ValueError), (-3, ValueError), (2.5, TypeError), (1.0, TypeError), (True, TypeError)],
)
def test_loader_rejects_bad_batch_sizes(batch_size: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="DataLoader: batch_size must be"):
        DataLoader(_ids_dataset(5), batch_size=batch_size)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ digits
def test_load_digits_is_the_uci_test_set(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("load_digits must not use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8)
    assert labels.shape == (1797,)
    assert images.min() == 0 and images.max() == 16
    assert np.array_equal(images, np.round(images))
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(
        np.bincount(labels), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    )
    # The first sample of the UCI file (a zero), as published with scikit-learn's copy.
    first = [
        [0, 0, 5, 13, 9, 1, 0, 0],
        [0, 0, 13, 15, 10, 15, 5, 0],
        [0, 3, 15, 2, 0, 11, 8, 0],
        [0, 4, 12, 0, 0, 8, 8, 0],
        [0, 5, 8, 0, 0, 9, 8, 0],
        [0, 4, 11, 0, 1, 12, 7, 0],
        [0, 2, 14, 5, 10, 12, 0, 0],
        [0, 0, 6, 13, 10, 0, 0, 0],
    ]
    np.testing.assert_array_equal(images[0], first)
    assert labels[0] == 0


def test_load_digits_returns_fresh_arrays() -> None:
    images, labels = load_digits()
    images[:] = 0
    labels[:] = 0
    again, again_labels = load_digits()
    assert again.max() == 16 and again_labels.max() == 9


# ------------------------------------------------------------------------ toy sets
MakeFn = Callable[..., Any]
TOY_SETS = [
    (make_xor, 2, 2),
    (make_moons, 2, 2),
    (make_circles, 2, 2),
    (make_spirals, 2, 2),
    (make_blobs, 2, 3),
    (make_separable, 2, 2),
    (make_elongated, 2, 2),
]


@pytest.mark.parametrize(("make", "n_features", "n_classes"), TOY_SETS)
def test_toy_set_shapes_dtypes_and_seeds(make: MakeFn, n_features: int, n_classes: int) -> None:
    X, y = make(n_samples=120, seed=0)
    assert X.shape == (120, n_features) and X.dtype == np.float32
    assert y.shape == (120,) and y.dtype == np.int64
    assert set(np.unique(y).tolist()) == set(range(n_classes))
    assert np.all(np.isfinite(X))
    X_again, y_again = make(n_samples=120, seed=0)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    X_other, _ = make(n_samples=120, seed=1)
    assert not np.array_equal(X, X_other)


@pytest.mark.parametrize(
    ("make", "n_classes"),
    [(make_moons, 2), (make_circles, 2), (make_spirals, 2), (make_blobs, 3), (make_elongated, 2)],
)
@pytest.mark.parametrize("n_samples", [120, 121])
def test_toy_set_classes_are_balanced(make: MakeFn, n_classes: int, n_samples: int) -> None:
    _, y = make(n_samples=n_samples, seed=3)
    counts = np.bincount(y, minlength=n_classes)
    assert counts.sum() == n_samples
    assert counts.max() - counts.min() <= 1


def test_toy_sets_are_shuffled() -> None:
    _, y = make_moons(n_samples=200, seed=0)
    assert not np.array_equal(y, np.sort(y))


def test_xor_without_noise_is_the_truth_table() -> None:
    X, y = make_xor(4, noise=0, seed=0)
    rows = {(float(a), float(b), int(t)) for (a, b), t in zip(X, y)}
    assert rows == {(0.0, 0.0, 0), (0.0, 1.0, 1), (1.0, 0.0, 1), (1.0, 1.0, 0)}


def test_xor_labels_follow_the_nearest_corner() -> None:
    X, y = make_xor(400, noise=0.1, seed=2)
    corner = (X > 0.5).astype(np.int64)
    np.testing.assert_array_equal(y, corner[:, 0] ^ corner[:, 1])
    np.testing.assert_array_equal(np.bincount(y), [200, 200])


def test_moons_without_noise_lie_on_their_half_circles() -> None:
    X, y = make_moons(100, noise=0, seed=0)
    X = X.astype(np.float64)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1, atol=1e-6)
    assert np.all(upper[:, 1] >= -1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1, atol=1e-6)
    assert np.all(lower[:, 1] <= 0.5 + 1e-6)


def test_circles_without_noise_have_radius_one_and_factor() -> None:
    X, y = make_circles(100, noise=0, factor=0.3, seed=0)
    radius = np.hypot(X[:, 0].astype(np.float64), X[:, 1].astype(np.float64))
    np.testing.assert_allclose(radius[y == 0], 1, atol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.3, atol=1e-6)
    with pytest.raises(ValueError, match="factor"):
        make_circles(10, factor=1.5)


def test_spirals_with_more_classes() -> None:
    X, y = make_spirals(n_samples=301, n_classes=3, seed=0)
    assert X.shape == (301, 2)
    np.testing.assert_array_equal(np.bincount(y), [101, 100, 100])
    radius = np.hypot(X[:, 0].astype(np.float64), X[:, 1].astype(np.float64))
    assert radius.min() >= 0.05 - 1e-6 and radius.max() <= 1 + 1e-6


def test_blobs_around_given_centres() -> None:
    centres = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])
    X, y = make_blobs(n_samples=200, centers=centres, std=0.5, seed=1)
    assert X.shape == (200, 3)
    np.testing.assert_array_equal(np.bincount(y), [50, 50, 50, 50])
    distances = np.linalg.norm(X[:, None, :] - centres[None, :, :], axis=2)
    np.testing.assert_array_equal(distances.argmin(axis=1), y)
    for k in range(4):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centres[k], atol=0.3)


def _perceptron_separates(X: np.ndarray, y: np.ndarray, max_epochs: int = 1000) -> bool:
    """Rosenblatt's rule with a bias; True when an epoch passes without a mistake."""
    inputs = np.column_stack([X.astype(np.float64), np.ones(len(X))])
    targets = np.where(y == 1, 1.0, -1.0)
    weights = np.zeros(inputs.shape[1])
    for _ in range(max_epochs):
        mistakes = 0
        for row, target in zip(inputs, targets):
            if target * (row @ weights) <= 0:
                weights += target * row
                mistakes += 1
        if mistakes == 0:
            return bool(np.all(targets * (inputs @ weights) > 0))
    return False


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_separable_is_linearly_separable_with_the_margin(seed: int) -> None:
    margin = 0.3
    X, y = make_separable(n_samples=150, margin=margin, seed=seed)
    assert np.abs(X).max() <= 1
    assert _perceptron_separates(X, y)
    # Best line through the origin over a fine grid of directions: its margin is margin / 2
    # up to the grid's resolution (|x| <= sqrt 2).
    angles = np.linspace(0, 2 * np.pi, 20000, endpoint=False)
    normals = np.column_stack([np.cos(angles), np.sin(angles)])
    signed = np.where(y == 1, 1.0, -1.0)[:, None] * (X.astype(np.float64) @ normals.T)
    best = signed.min(axis=0).max()
    assert best >= margin / 2 - np.sqrt(2) * (2 * np.pi / 20000) - 1e-6


def test_elongated_fools_the_nearest_mean_but_not_a_line() -> None:
    X, y = make_elongated(n_samples=400, seed=0)
    X = X.astype(np.float64)
    means = np.stack([X[y == 0].mean(axis=0), X[y == 1].mean(axis=0)])
    nearest = np.linalg.norm(X[:, None, :] - means[None], axis=2).argmin(axis=1)
    assert np.mean(nearest == y) < 0.8
    np.testing.assert_array_equal((X[:, 1] < 0).astype(np.int64), y)
    assert _perceptron_separates(X, y)


@pytest.mark.parametrize("n", [2, 4, 8])
def test_encoder_inputs_are_one_hot_and_equal_targets(n: int) -> None:
    X, y = make_encoder(n)
    np.testing.assert_array_equal(X, np.eye(n))
    np.testing.assert_array_equal(y, X)
    assert X.dtype == np.float32
    assert y is not X
    with pytest.raises(ValueError):
        make_encoder(1)


# ------------------------------------------------------------------------ utils
def test_one_hot_is_rows_of_the_identity() -> None:
    encoded = one_hot(np.array([2, 0, 1, 2]), 4)
    np.testing.assert_array_equal(encoded, np.eye(4)[[2, 0, 1, 2]])
    assert encoded.dtype == np.float32
    inferred = one_hot([1, 3])
    assert inferred.shape == (2, 4)
    np.testing.assert_array_equal(inferred, [[0, 1, 0, 0], [0, 0, 0, 1]])


def test_one_hot_rejects_bad_labels() -> None:
    with pytest.raises(ValueError, match="labels must be in"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="labels must be in"):
        one_hot([-1, 1], 3)
    with pytest.raises(TypeError, match="integers"):
        one_hot(np.array([0.0, 1.0]), 2)


def test_train_val_split_sizes_disjoint_and_paired() -> None:
    X = np.arange(50).reshape(25, 2)
    y = np.arange(25) * 3
    X_train, X_val, y_train, y_val = train_val_split(X, y, 0.2, seed=0)
    assert (len(X_train), len(X_val), len(y_train), len(y_val)) == (20, 5, 20, 5)
    train_ids, val_ids = X_train[:, 0] // 2, X_val[:, 0] // 2
    assert not set(train_ids.tolist()) & set(val_ids.tolist())
    np.testing.assert_array_equal(np.sort(np.concatenate([train_ids, val_ids])), np.arange(25))
    np.testing.assert_array_equal(y_train, train_ids * 3)
    np.testing.assert_array_equal(y_val, val_ids * 3)


def test_train_val_split_is_reproducible() -> None:
    X, y = np.arange(100.0)[:, None], np.arange(100)
    first = train_val_split(X, y, 0.3, seed=4)
    again = train_val_split(X, y, 0.3, seed=4)
    other = train_val_split(X, y, 0.3, seed=5)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert len(first[1]) == 30
    assert not np.array_equal(first[1], other[1])


def test_train_val_split_errors() -> None:
    with pytest.raises(ValueError, match="X has 4 samples but y has 3"):
        train_val_split(np.zeros((4, 2)), np.zeros(3), 0.5)
    for fraction in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="val_fraction"):
            train_val_split(np.zeros((10, 2)), np.zeros(10), fraction)
    with pytest.raises(ValueError, match="too few"):
        train_val_split(np.zeros((1, 2)), np.zeros(1), 0.5)


# ------------------------------------------------------------------------ review fixes
def test_unshuffled_batches_are_read_only_views_of_the_dataset() -> None:
    """Without shuffling a batch is a view of the user's arrays: writing into it must be an
    error rather than a silent change of the dataset."""
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    for inputs, labels in loader:
        for batch in (inputs, labels):
            assert not batch.data.flags.writeable
            assert np.shares_memory(batch.data, X) or np.shares_memory(batch.data, y)
            with pytest.raises(ValueError, match="read-only"):
                batch.data[0] = -1
    np.testing.assert_array_equal(X, np.arange(20.0).reshape(10, 2))
    np.testing.assert_array_equal(y, np.arange(10))
    # The user's own arrays stay writeable.
    assert X.flags.writeable and y.flags.writeable
    X[0, 0] = 5.0


def test_shuffled_batches_are_fresh_writeable_copies() -> None:
    X = np.arange(20.0).reshape(10, 2)
    loader = DataLoader(TensorDataset(X), batch_size=4, shuffle=True, seed=0)
    for (inputs,) in loader:
        assert inputs.data.flags.writeable
        assert not np.shares_memory(inputs.data, X)


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("batch_size", [1, 3, 7, 10, 64])
def test_a_small_data_set_gathered_per_epoch_gives_the_batches_of_per_batch_gathers(
    monkeypatch: pytest.MonkeyPatch, batch_size: int, drop_last: bool
) -> None:
    """A shuffling loader copies a small data set once per epoch in the epoch's order and
    slices it: the batches are those of one gather per batch, epoch after epoch, and fresh
    copies of the user's arrays."""
    from chainrule.data import loader as loader_module

    X = np.arange(60.0).reshape(20, 3)
    y = np.arange(20) % 3

    def epochs(limit: int) -> list[list[tuple[np.ndarray, ...]]]:
        monkeypatch.setattr(loader_module, "EPOCH_GATHER_BYTES", limit)
        loader = DataLoader(
            TensorDataset(X, y), batch_size=batch_size, shuffle=True, seed=3, drop_last=drop_last
        )
        return [[tuple(t.data for t in batch) for batch in loader] for _ in range(3)]

    whole, per_batch = epochs(2**20), epochs(0)
    assert [len(epoch) for epoch in whole] == [len(epoch) for epoch in per_batch]
    for epoch, reference in zip(whole, per_batch):
        for batch, expected in zip(epoch, reference):
            for array, expected_array in zip(batch, expected):
                np.testing.assert_array_equal(array, expected_array)
                assert array.flags.writeable
                assert not np.shares_memory(array, X) and not np.shares_memory(array, y)


@pytest.mark.parametrize("margin", [-0.1, 1.0, 1.5, 3.0, float("nan"), float("inf")])
def test_separable_rejects_a_margin_outside_zero_to_one(margin: float) -> None:
    with pytest.raises(ValueError, match="margin") as caught:
        make_separable(20, margin=margin)
    assert str(margin) in str(caught.value)


def test_separable_loop_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Even a generator that never draws a point outside the margin ends in an error."""
    from chainrule.data import toy

    class Stuck:
        def uniform(self, low: float, high: float, size: Any = None) -> Any:
            return np.zeros(size) if size is not None else 0.0

    monkeypatch.setattr(toy, "_generator", lambda seed, where: Stuck())
    with pytest.raises(RuntimeError, match="make_separable"):
        make_separable(10, margin=0.5, seed=0)


def test_separable_accepts_margins_just_below_one() -> None:
    X, y = make_separable(50, margin=0.99, seed=0)
    assert X.shape == (50, 2) and set(y.tolist()) == {0, 1}
    X, _ = make_separable(50, margin=0.0, seed=0)
    assert X.shape == (50, 2)


ALL_TOY_SETS = [make for make, _, _ in TOY_SETS]


@pytest.mark.parametrize("make", ALL_TOY_SETS)
def test_toy_sets_without_seed_follow_manual_seed(make: MakeFn) -> None:
    cr.manual_seed(5)
    X, y = make()
    after = cr.randn(2).data.copy()
    cr.manual_seed(5)
    X_again, y_again = make()
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    np.testing.assert_array_equal(cr.randn(2).data, after)
    cr.manual_seed(6)
    X_other, _ = make()
    assert not np.array_equal(X, X_other)


@pytest.mark.parametrize("make", ALL_TOY_SETS)
def test_toy_sets_with_a_seed_ignore_the_library_generator(make: MakeFn) -> None:
    cr.manual_seed(1)
    X, y = make(seed=3)
    untouched = cr.randn(2).data.copy()
    cr.manual_seed(2)
    X_again, y_again = make(seed=3)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    cr.manual_seed(1)
    np.testing.assert_array_equal(cr.randn(2).data, untouched)


def test_toy_sets_with_a_seed_draw_from_default_rng_of_that_seed() -> None:
    """The values for a given seed are fixed: the permutation is the generator's last draw."""
    X, y = make_xor(8, noise=0.0, seed=2)
    rng = np.random.default_rng(2)
    rng.standard_normal((8, 2))
    order = rng.permutation(8)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])[np.repeat(np.arange(4), 2)]
    np.testing.assert_array_equal(X, corners[order])
    np.testing.assert_array_equal(y, np.array([0, 1, 1, 0])[np.repeat(np.arange(4), 2)][order])


def test_train_val_split_without_seed_follows_manual_seed() -> None:
    X, y = np.arange(100.0)[:, None], np.arange(100)
    cr.manual_seed(5)
    first = train_val_split(X, y, 0.3)
    cr.manual_seed(5)
    again = train_val_split(X, y, 0.3)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    cr.manual_seed(1)
    seeded = train_val_split(X, y, 0.3, seed=5)
    order = np.random.default_rng(5).permutation(100)
    np.testing.assert_array_equal(seeded[1][:, 0], order[:30])


# ------------------------------------------------------------------------ bad arguments
# Each case: the call, the exception, and what the message must say (the function and the
# argument, and what was expected). Every case was a crash deep inside NumPy, a message that
# named neither, or a silently accepted value before these checks (all but "loader-empty").
# The calls go through ``Any`` (``loose``): the wrong types are the point.
loose: Any = chainrule.data
BAD_ARGUMENTS: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("moons-no-samples", lambda: loose.make_moons(n_samples=0), ValueError,
     r"make_moons: n_samples must be at least 2 \(one per class\), got 0"),
    ("moons-negative-samples", lambda: loose.make_moons(n_samples=-5), ValueError,
     r"make_moons: n_samples must be at least 2 \(one per class\), got -5"),
    ("moons-float-samples", lambda: loose.make_moons(n_samples=10.0), TypeError,
     "make_moons: n_samples must be an integer"),
    ("moons-negative-noise", lambda: loose.make_moons(noise=-1), ValueError,
     "make_moons: noise must be >= 0, got -1"),
    ("moons-nan-noise", lambda: loose.make_moons(noise=float("nan")), ValueError,
     "make_moons: noise must be a finite number"),
    ("xor-too-few", lambda: loose.make_xor(3), ValueError,
     r"make_xor: n_samples must be at least 4 \(one per corner\)"),
    ("xor-text-noise", lambda: loose.make_xor(noise="0.1"), TypeError,
     "make_xor: noise must be a number"),
    ("circles-negative-noise", lambda: loose.make_circles(noise=-0.5), ValueError,
     "make_circles: noise must be >= 0"),
    ("circles-text-factor", lambda: loose.make_circles(factor="0.5"), TypeError,
     "make_circles: factor must be a number"),
    ("spirals-no-classes", lambda: loose.make_spirals(n_classes=0), ValueError,
     "make_spirals: n_classes must be at least 1, got 0"),
    ("spirals-float-classes", lambda: loose.make_spirals(n_classes=2.5), TypeError,
     "make_spirals: n_classes must be an integer"),
    ("spirals-infinite-turns", lambda: loose.make_spirals(turns=float("inf")), ValueError,
     "make_spirals: turns must be a finite number"),
    ("spirals-negative-noise", lambda: loose.make_spirals(noise=-0.2), ValueError,
     "make_spirals: noise must be >= 0"),
    ("blobs-no-centers", lambda: loose.make_blobs(centers=0), ValueError,
     "make_blobs: centers must be at least 1, got 0"),
    ("blobs-negative-centers", lambda: loose.make_blobs(centers=-2), ValueError,
     "make_blobs: centers must be at least 1"),
    ("blobs-float-centers", lambda: loose.make_blobs(centers=2.5), TypeError,
     "make_blobs: centers must be a number of centres"),
    ("blobs-bool-centers", lambda: loose.make_blobs(centers=True), TypeError,
     "make_blobs: centers must be a number of centres"),
    ("blobs-1d-centers", lambda: loose.make_blobs(centers=[0.0, 5.0]), ValueError,
     r"make_blobs: centers must be an array of shape \(n_centers, n_features\).*\(2,\)"),
    ("blobs-empty-centers", lambda: loose.make_blobs(centers=np.zeros((0, 2))), ValueError,
     r"make_blobs: centers must be an array.*\(0, 2\)"),
    ("blobs-nan-centers", lambda: loose.make_blobs(centers=[[0.0, np.nan]]), ValueError,
     "make_blobs: centers must be finite"),
    ("blobs-text-centers", lambda: loose.make_blobs(centers=[["a", "b"]]), TypeError,
     "make_blobs: centers must be"),
    ("blobs-conflicting-features",
     lambda: loose.make_blobs(centers=[[0.0, 0.0], [1.0, 1.0]], n_features=3), ValueError,
     "make_blobs: n_features is 3 but the given centers have 2 features"),
    ("blobs-no-features", lambda: loose.make_blobs(n_features=0), ValueError,
     "make_blobs: n_features must be at least 1"),
    ("blobs-fewer-samples-than-centres",
     lambda: loose.make_blobs(n_samples=2, centers=3), ValueError,
     r"make_blobs: n_samples must be at least 3 \(one per centre\)"),
    ("blobs-negative-std", lambda: loose.make_blobs(std=-1.0), ValueError,
     "make_blobs: std must be >= 0"),
    ("blobs-empty-box", lambda: loose.make_blobs(box=(5.0, -5.0)), ValueError,
     "make_blobs: box must be .* low < high"),
    ("blobs-box-not-a-pair", lambda: loose.make_blobs(box=(1.0, 2.0, 3.0)), TypeError,
     r"make_blobs: box must be a pair \(low, high\)"),
    ("separable-no-samples", lambda: loose.make_separable(n_samples=0), ValueError,
     "make_separable: n_samples must be at least 1, got 0"),
    ("separable-text-margin", lambda: loose.make_separable(margin="0.3"), TypeError,
     "make_separable: margin must be a number"),
    ("elongated-negative-length", lambda: loose.make_elongated(length=-10.0), ValueError,
     "make_elongated: length must be > 0, got -10"),
    ("elongated-no-gap", lambda: loose.make_elongated(gap=0.0), ValueError,
     "make_elongated: gap must be > 0"),
    ("elongated-one-sample", lambda: loose.make_elongated(n_samples=1), ValueError,
     "make_elongated: n_samples must be at least 2"),
    ("encoder-float", lambda: loose.make_encoder(2.5), TypeError,
     "make_encoder: n must be an integer"),
    ("encoder-bool", lambda: loose.make_encoder(True), TypeError,
     "make_encoder: n must be an integer"),
    ("loader-text-shuffle",
     lambda: loose.DataLoader(_ids_dataset(5), shuffle="no"), TypeError,
     "DataLoader: shuffle must be True or False, got 'no'"),
    ("loader-int-drop-last",
     lambda: loose.DataLoader(_ids_dataset(5), drop_last=1), TypeError,
     "DataLoader: drop_last must be True or False"),
    ("loader-not-a-dataset", lambda: loose.DataLoader(5), TypeError,
     "DataLoader: dataset must have a length and integer indexing"),
    ("loader-empty", lambda: loose.DataLoader([]), ValueError, "DataLoader: the dataset is empty"),
    ("one-hot-negative-classes", lambda: loose.one_hot([0, 1], num_classes=-1), ValueError,
     "one_hot: num_classes must be at least 1, got -1"),
    ("one-hot-zero-classes", lambda: loose.one_hot([0], num_classes=0), ValueError,
     "one_hot: num_classes must be at least 1, got 0"),
    ("one-hot-float-classes", lambda: loose.one_hot([0, 1], num_classes=2.0), TypeError,
     "one_hot: num_classes must be an integer"),
    ("one-hot-empty-without-classes",
     lambda: loose.one_hot(np.array([], dtype=np.int64)), ValueError,
     "one_hot: num_classes must be given when y is empty"),
    ("one-hot-negative-label-without-classes", lambda: loose.one_hot([-1, 2]), ValueError,
     "one_hot: labels must be non-negative, got -1"),
    ("split-text-fraction",
     lambda: loose.train_val_split(np.zeros((10, 2)), np.zeros(10), "0.2"), TypeError,
     "train_val_split: val_fraction must be a number"),
    ("split-nan-fraction",
     lambda: loose.train_val_split(np.zeros((10, 2)), np.zeros(10), float("nan")), ValueError,
     "train_val_split: val_fraction must be a finite number"),
    ("split-scalar-X", lambda: loose.train_val_split(np.float64(1.0), np.zeros(1)), ValueError,
     "train_val_split: X must have a first axis of samples"),
    ("split-scalar-y", lambda: loose.train_val_split(np.zeros((3, 2)), 1), ValueError,
     "train_val_split: y must have a first axis of samples"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [pytest.param(call, error, message, id=name) for name, call, error, message in BAD_ARGUMENTS],
)
def test_bad_arguments_name_the_function_and_the_argument(
    call: Callable[[], object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: loose.make_moons(10, noise=0, seed=0),
        lambda: loose.make_xor(4, noise=0.0, seed=0),
        lambda: loose.make_circles(10, noise=0, factor=0.99, seed=0),
        lambda: loose.make_spirals(3, n_classes=3, turns=-1.0, seed=0),
        lambda: loose.make_spirals(5, n_classes=1, turns=0, seed=0),
        lambda: loose.make_blobs(1, centers=1, std=0, seed=0),
        lambda: loose.make_blobs(4, centers=2, n_features=5, seed=0),
        lambda: loose.make_blobs(4, centers=np.int64(2), box=[0, 1], seed=0),
        lambda: loose.make_separable(1, margin=0, seed=0),
        lambda: loose.make_elongated(2, length=0.5, gap=1e-3, seed=0),
        lambda: loose.make_encoder(np.int64(3)),
    ],
)
def test_edge_arguments_are_accepted(call: Callable[[], object]) -> None:
    call()


def test_blobs_with_a_count_draw_their_centres_from_the_box() -> None:
    """With std 0 every sample is its centre, which lies in the box, in n_features dims."""
    X, y = make_blobs(60, centers=4, std=0.0, n_features=3, box=(2.0, 3.0), seed=0)
    assert X.shape == (60, 3)
    assert X.min() >= 2 and X.max() <= 3
    for k in range(4):
        assert len(np.unique(X[y == k], axis=0)) == 1


def test_blobs_with_given_centres_take_their_width() -> None:
    centres = [[0.0, 0.0, 0.0, 0.0], [10.0, 10.0, 10.0, 10.0]]
    X, _ = make_blobs(10, centers=centres, std=0.1, seed=0)
    assert X.shape == (10, 4)
    X_stated, _ = make_blobs(10, centers=centres, std=0.1, n_features=4, seed=0)
    np.testing.assert_array_equal(X, X_stated)


def test_one_hot_with_num_classes_for_an_empty_batch() -> None:
    encoded = one_hot(np.array([], dtype=np.int64), 3)
    assert encoded.shape == (0, 3)
