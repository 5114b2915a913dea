"""A seeded split of a table's rows, stratified by class for classification."""

from __future__ import annotations

import numpy as np


def split_rows(
    rows: int, fraction: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the rows kept and of the ``fraction`` taken out, each in increasing order.

    With ``labels`` (class indices) the split is stratified: each class gives the same fraction
    (rounded), and keeps at least one row where it has any; where every class's share rounds
    to nothing, the largest class gives one row. The order comes from
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
    groups, counts = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        groups.append(members[rng.permutation(len(members))])
        counts.append(min(round(len(members) * fraction), len(members) - 1))
    if fraction > 0 and sum(counts) == 0:  # small classes all rounded to 0: take one row
        largest = int(np.argmax([len(members) for members in groups]))
        counts[largest] = 1 if len(groups[largest]) > 1 else 0
    kept = [members[taken:] for members, taken in zip(groups, counts)]
    out = [members[:taken] for members, taken in zip(groups, counts)]
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(out))
