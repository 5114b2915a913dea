"""tree_to_network: the converted network computes what the tree computes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.classic import tree_to_network

tree_module = pytest.importorskip("sklearn.tree")


def _scores(network: nn.Module, X: np.ndarray) -> np.ndarray:
    with cr.no_grad():
        return np.asarray(network(X.astype(np.float64)).data)


def _data(seed: int, classes: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 3)).astype(np.float32)
    y = (np.floor(X[:, 0] * 1.5) + (X[:, 1] > 0.3) + (X[:, 2] > -0.5)).astype(int) % classes
    return X, y


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("classes", [2, 3, 5])
@pytest.mark.parametrize("depth", [1, 3, None])
def test_step_network_predicts_exactly_what_the_tree_predicts(
    seed: int, classes: int, depth: int | None
) -> None:
    X, y = _data(seed, classes)
    tree = tree_module.DecisionTreeClassifier(max_depth=depth, random_state=seed).fit(X, y)
    network = tree_to_network(tree)
    # Fresh points, plus points exactly on every threshold (ties go left, as in the tree).
    probe = np.random.default_rng(seed + 100).uniform(-2.5, 2.5, (500, 3)).astype(np.float32)
    split = tree.tree_.feature >= 0
    on_threshold = np.repeat(probe[:1], split.sum(), axis=0)
    on_threshold[np.arange(split.sum()), tree.tree_.feature[split]] = tree.tree_.threshold[split]
    probe = np.vstack([probe, on_threshold.astype(np.float32)])
    scores = _scores(network, probe)
    np.testing.assert_array_equal(tree.classes_[scores.argmax(axis=1)], tree.predict(probe))
    np.testing.assert_allclose(scores, tree.predict_proba(probe), rtol=0, atol=1e-12)


def test_layer_sizes_follow_the_tree() -> None:
    X, y = _data(0, 3)
    tree = tree_module.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    network = tree_to_network(tree)
    splits = int((tree.tree_.children_left != -1).sum())
    assert network[0].weight.shape == (splits, 3)
    assert network[2].weight.shape == (tree.get_n_leaves(), splits)
    assert network[4].weight.shape == (len(tree.classes_), tree.get_n_leaves())
    assert isinstance(network[1], nn.Step)


def test_a_hand_made_stump() -> None:
    """One split x0 <= 0.5: unit z = x0 - 0.5; leaves left (R = 0) and right (R = 1)."""
    X = np.array([[0.0], [0.2], [0.8], [1.0]], dtype=np.float32)
    tree = tree_module.DecisionTreeClassifier().fit(X, [0, 0, 1, 1])
    network = tree_to_network(tree)
    np.testing.assert_array_equal(network[0].weight.data, [[1.0]])
    assert network[0].bias.data[0] == pytest.approx(-tree.tree_.threshold[0])
    np.testing.assert_array_equal(network[2].weight.data, [[-1.0], [1.0]])
    np.testing.assert_array_equal(network[2].bias.data, [0.5, -0.5])


def test_sigmoid_network_approaches_the_tree_and_can_be_fine_tuned() -> None:
    X, y = _data(1, 2)
    tree = tree_module.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    agreement = []
    for steepness in (1.0, 10.0, 1000.0):
        soft = tree_to_network(tree, activation="sigmoid", steepness=steepness)
        agreement.append(np.mean(_scores(soft, X).argmax(axis=1) == tree.predict(X)))
    assert agreement[-1] == 1.0 and agreement[0] < agreement[-1]
    soft = tree_to_network(tree, activation="sigmoid", steepness=5.0)
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.Adam(soft.parameters(), lr=0.01)
    inputs = X.astype(np.float64)
    first = float(loss_fn(soft(inputs), y))
    for _ in range(50):
        opt.zero_grad()
        loss = loss_fn(soft(inputs), y)
        loss.backward()
        opt.step()
    assert all(np.abs(p.grad.data).sum() > 0 for p in soft.parameters())
    assert float(loss_fn(soft(inputs), y)) < first


def test_bad_input() -> None:
    with pytest.raises(TypeError, match="fitted DecisionTreeClassifier"):
        tree_to_network(object())
    stump = tree_module.DecisionTreeClassifier().fit(np.zeros((4, 1)), [1, 1, 1, 1])
    with pytest.raises(ValueError, match="no split"):
        tree_to_network(stump)
    X, y = _data(0, 2)
    tree = tree_module.DecisionTreeClassifier(max_depth=2).fit(X, y)
    with pytest.raises(ValueError, match="activation"):
        tree_to_network(tree, activation="relu")
