"""A fitted decision tree as a network with two hidden layers that computes the same function.

Layer 1 has one unit per split node j (feature f_j, threshold θ_j): z = x_{f_j} - θ_j, and the
unit is 1 when the sample goes right (x_{f_j} > θ_j), 0 when it goes left, as scikit-learn's
trees do. Layer 2 has one unit per leaf: the AND of the conditions on the leaf's path,
z = Σ_{right turns} h_j - Σ_{left turns} h_j - (R - ½) for a path with R right turns, which is
½ when every condition holds and at most -½ otherwise. The output layer maps each leaf to its
class distribution, so exactly one leaf is active and the scores are the tree's probabilities.

With step units the network predicts exactly what the tree predicts. Replacing each step by a
sigmoid of steepness k (weights and biases scaled by k) makes it differentiable, so it can be
fine-tuned by backpropagation; as k grows it approaches the tree.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.layers import Linear, Sequential, Sigmoid, Step

__all__ = ["tree_to_network"]


def _paths(tree: Any) -> list[list[tuple[int, bool]]]:
    """For each leaf (in node order), the (split node, went right) pairs on its path."""
    left, right = tree.children_left, tree.children_right
    stack: list[tuple[int, list[tuple[int, bool]]]] = [(0, [])]
    leaves: list[tuple[int, list[tuple[int, bool]]]] = []
    while stack:
        node, path = stack.pop()
        if left[node] == right[node]:  # scikit-learn marks a leaf by children -1, -1
            leaves.append((node, path))
            continue
        stack.append((int(right[node]), path + [(node, True)]))
        stack.append((int(left[node]), path + [(node, False)]))
    return [path for _, path in sorted(leaves, key=lambda item: item[0])]


def tree_to_network(
    tree: Any, activation: str = "step", steepness: float = 10.0, dtype: Any = np.float64
) -> Sequential:
    """The network equivalent to a fitted ``sklearn.tree.DecisionTreeClassifier``.

    Parameters
    ----------
    tree
        A fitted DecisionTreeClassifier (single output) with at least one split.
    activation
        ``"step"``: units 1[z > 0]; predicts exactly what the tree predicts (argmax of the
        output, which equals the tree's ``predict_proba``). ``"sigmoid"``: σ(k·z) with
        k = ``steepness``, differentiable, for fine-tuning by gradient descent.
    dtype
        Of the parameters; float64 keeps the thresholds exactly as the tree has them.

    Notes
    -----
    The output has one score per class in the order of ``tree.classes_``. scikit-learn
    compares features in float32; for inputs that are float32 numbers (as all data a tree was
    fitted on is, after its own conversion) the step network's comparisons are exact.
    """
    structure = getattr(tree, "tree_", None)
    if structure is None:
        raise TypeError(
            f"tree_to_network: expected a fitted DecisionTreeClassifier, got {type(tree).__name__}"
        )
    if getattr(tree, "n_outputs_", 1) != 1:
        raise ValueError("tree_to_network: trees with several outputs are not supported")
    if activation not in ("step", "sigmoid"):
        raise ValueError(
            f"tree_to_network: activation must be 'step' or 'sigmoid', got {activation!r}"
        )
    if not steepness > 0:
        raise ValueError(f"tree_to_network: steepness must be positive, got {steepness}")
    splits = [n for n in range(structure.node_count) if structure.children_left[n] != -1]
    if not splits:
        raise ValueError(
            "tree_to_network: the tree has no split (a single leaf); nothing to convert"
        )
    column = {node: position for position, node in enumerate(splits)}
    paths = _paths(structure)
    n_features, n_classes = int(tree.n_features_in_), len(tree.classes_)
    scale = 1.0 if activation == "step" else float(steepness)

    tests = np.zeros((len(splits), n_features))
    tests[np.arange(len(splits)), structure.feature[splits]] = 1.0
    test_bias = -structure.threshold[splits].astype(np.float64)

    leaves = np.zeros((len(paths), len(splits)))
    leaf_bias = np.zeros(len(paths))
    for row, path in enumerate(paths):
        for node, went_right in path:
            leaves[row, column[node]] = 1.0 if went_right else -1.0
        leaf_bias[row] = 0.5 - sum(went_right for _, went_right in path)

    leaf_nodes = [n for n in range(structure.node_count) if structure.children_left[n] == -1]
    values = structure.value[leaf_nodes][:, 0, :].astype(np.float64)
    distributions = values / values.sum(axis=1, keepdims=True)

    unit = Step if activation == "step" else Sigmoid
    layers = [
        Linear(n_features, len(splits)),
        unit(),
        Linear(len(splits), len(paths)),
        unit(),
        Linear(len(paths), n_classes),
    ]
    for layer, weight, bias in (
        (layers[0], tests * scale, test_bias * scale),
        (layers[2], leaves * scale, leaf_bias * scale),
        (layers[4], distributions.T, np.zeros(n_classes)),
    ):
        assert isinstance(layer, Linear) and layer.bias is not None
        layer.weight.data = np.asarray(weight, dtype=dtype)
        layer.bias.data = np.asarray(bias, dtype=dtype)
    return Sequential(*layers)
