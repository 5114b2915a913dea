"""The default floating-point dtype: float32 unless the user asks for float64."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_default_dtype: np.dtype = np.dtype(np.float32)


def set_default_dtype(dtype: DTypeLike) -> None:
    """Set the dtype that Python numbers and lists become (float32 or float64)."""
    global _default_dtype
    resolved: np.dtype = np.dtype(dtype)
    if resolved not in _FLOAT_DTYPES:
        raise TypeError(f"set_default_dtype: only float32 and float64 are allowed, got {resolved}")
    _default_dtype = resolved


def get_default_dtype() -> np.dtype:
    """Return the dtype that Python numbers and lists become."""
    return _default_dtype


def is_float(dtype: np.dtype) -> bool:
    """True for floating-point dtypes, the only ones that can carry gradients."""
    return dtype.kind == "f"
