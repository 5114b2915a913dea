"""Small read-only vectors shared by every call with the same length: ones for the bias
gradient of a layer, row numbers for picking each sample's label."""

from __future__ import annotations

from typing import Any

import numpy as np

# Small read-only vectors (ones for bias gradients, row numbers for label indexing) shared by
# every call with the same batch size, instead of made again at each step.
_CONSTANTS: dict[tuple[str, int, np.dtype[Any]], np.ndarray] = {}


def _constant(kind: str, length: int, dtype: Any) -> np.ndarray:
    """``np.ones`` (kind "ones") or ``np.arange`` (kind "rows") of ``length``, cached."""
    key = (kind, length, np.dtype(dtype))
    array = _CONSTANTS.get(key)
    if array is None:
        if len(_CONSTANTS) > 128:
            _CONSTANTS.clear()
        array = np.ones(length, dtype) if kind == "ones" else np.arange(length, dtype=dtype)
        array.flags.writeable = False
        _CONSTANTS[key] = array
    return array
