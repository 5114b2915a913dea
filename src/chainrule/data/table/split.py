"""A seeded split of a table's rows, stratified by class for classification."""

from __future__ import annotations

import numpy as np


def split_rows(
    rows: int, fraction: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the rows kept and of the ``fraction`` taken out, each in increasing order.

    With ``labels`` (class indices) the split is stratified: each class gives the same fraction
    (rounded), and keeps at least one row where it has any. The order comes from
    ``np.random.default_rng(seed)`` alone, so a split is the same on every machine.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"a split fraction must lie in [0, 1), not {fraction}")
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(rows)
        taken = round(rows * fraction)
        if fraction > 0 and rows > 1:
            taken = min(max(taken, 1), rows - 1)
        return np.sort(order[taken:]), np.sort(order[:taken])
    kept, out = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        taken = min(round(len(members) * fraction), len(members) - 1)
        kept.append(members[taken:])
        out.append(members[:taken])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(out))
