"""Compiled loops: one pass over an array where NumPy makes several.

An Adam step written with NumPy ufuncs reads and writes the parameter's arrays about twelve
times; as one compiled loop it reads each element once. On B1 (235,146 float32 parameters) that
is about 290 µs against 55 µs per step. ReLU's forward and backward are one pass each instead of
NumPy's maximum (slowed by its NaN handling) and a mask times the gradient (``docs/performance.md``
has the figures). The loops are compiled by Numba on first use (and cached on disk); where Numba
is missing, or the arrays are not contiguous in one layout, or ``cr.set_kernels("numpy")`` was
called, the callers take their NumPy path, which computes the same values (the optimisers' up to
float32 rounding).

Numba is started only by runs long enough to repay its start: the first compiled loop a
process runs costs about 0.8 s (Numba's import, its type system, the cached loops; 2 cores of an
AMD EPYC), and the loops save about 30 ns per parameter update on a small network (85 µs a step
on a 2,900-parameter one, mostly the calls NumPy makes and the loops do not). ``fit`` counts a
run's updates (steps x parameters) and runs ``small_run`` ones (below 2e7, the break-even) on
NumPy's loops: a 100-epoch run on the 344-row penguins table takes 1.0 s instead of 1.5 s,
while one epoch of the Fashion-MNIST network (1.1e8 updates) keeps the compiled loops.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

_KERNELS: dict[str, Callable[..., None]] | None = None
_SUPPORTED = (np.dtype(np.float32), np.dtype(np.float64))
_CHOICES = ("compiled", "numpy")
_chosen: Literal["compiled", "numpy"] = "compiled"

# Below this size NumPy's ReLU is as cheap as the compiled loop.
_LEAST_SIZE = {"relu_forward": 2048, "bias_relu": 2048, "relu_backward": 2048}
# Parameter updates (steps x parameters) below which a run does not repay Numba's start.
SMALL_RUN_UPDATES = 2e7
_small_run = False


def set_kernels(kind: Literal["compiled", "numpy"]) -> None:
    """Run the fused loops compiled by Numba (``"compiled"``, the default) or NumPy's
    equivalent expressions (``"numpy"``): the same values, to float32 rounding; the NumPy path
    is there to compare with, to profile, and for machines where Numba cannot compile."""
    global _chosen
    if kind not in _CHOICES:
        raise ValueError(
            f"set_kernels: kind must be one of {', '.join(map(repr, _CHOICES))}, got {kind!r}"
        )
    _chosen = kind


def get_kernels() -> Literal["compiled", "numpy"]:
    """Which loops run: ``"compiled"`` or ``"numpy"`` (see ``set_kernels``)."""
    return _chosen


@contextmanager
def small_run(updates: float) -> Iterator[None]:
    """Within: NumPy's loops if a run of ``updates`` parameter updates is too short to repay
    Numba's start (see the module's docstring); the same values to float32 rounding."""
    global _small_run
    before = _small_run
    _small_run = before or updates < SMALL_RUN_UPDATES
    try:
        yield
    finally:
        _small_run = before


def import_numba() -> Any:
    """Numba, imported the way every compiled loop of chainrule wants it; None when it cannot
    be imported (a dependency; this is the safety net)."""
    # Numba colours its error messages with colorama, which writes a reset code at exit when
    # stdout looks like a terminal (under mpirun it does): chainrule's output stays plain.
    os.environ.setdefault("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", "1")
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return None
    return numba


def _compile() -> dict[str, Callable[..., None]]:
    """Build the kernels with Numba; an empty dict when Numba cannot be used."""
    numba = import_numba()
    if numba is None:  # pragma: no cover
        return {}

    # No 'nnan'/'ninf': a NaN gradient must stay NaN so that divergence is seen, not optimised
    # away. error_model="numpy" lets the loop vectorise (no ZeroDivisionError checks).
    jit = numba.njit(
        fastmath={"nsz", "arcp", "contract", "afn", "reassoc"},
        error_model="numpy",
        nogil=True,
        cache=True,
    )

    def adam(p: Any, g: Any, m: Any, v: Any, settings: Any) -> None:
        # The settings arrive as an array of the parameters' dtype (see ``adam_settings``), so
        # a float32 loop stays float32, and one array is cheaper to pass than eleven scalars.
        step_size, beta1, keep1, beta2, keep2 = (
            settings[0],
            settings[1],
            settings[2],
            settings[3],
            settings[4],
        )
        eps, inv_sqrt_bias_correction2, weight_decay = settings[5], settings[6], settings[7]
        shrink, flush_below, zero = settings[8], settings[9], settings[10]
        for i in range(p.size):
            gi = g[i]
            if weight_decay != zero:
                gi += weight_decay * p[i]
            mi = beta1 * m[i] + keep1 * gi
            vi = beta2 * v[i] + keep2 * gi * gi
            if abs(mi) < flush_below:
                mi = zero
            if vi < flush_below:
                vi = zero
            m[i] = mi
            v[i] = vi
            p[i] = p[i] * shrink - step_size * mi / (np.sqrt(vi) * inv_sqrt_bias_correction2 + eps)

    def relu_forward(x: Any, out: Any) -> None:
        # max(x, 0), NaN kept; NumPy's maximum spends 3-4x longer on its NaN bookkeeping.
        for i in range(x.size):
            value = x[i]
            out[i] = value if value > 0 or value != value else 0.0

    def bias_relu(out: Any, bias: Any) -> None:
        # out ← max(out + bias, 0) in place, row by row, NaN kept: a linear layer's bias and its
        # ReLU in the one pass over the product that both would otherwise make separately.
        rows, columns = out.shape
        for i in range(rows):
            for j in range(columns):
                value = out[i, j] + bias[j]
                out[i, j] = value if value > 0 or value != value else 0.0

    def relu_backward(g: Any, out: Any, result: Any) -> None:
        # g where the unit was active (out > 0), else 0: one pass, no boolean temporary.
        for i in range(g.size):
            result[i] = g[i] if out[i] > 0 else 0.0

    def softmax_cross_entropy(z: Any, labels: Any, probabilities: Any, losses: Any) -> None:
        # Per row: the stable softmax (kept for the backward pass) and -log softmax at the label,
        # in one sweep instead of NumPy's nine calls on a small (batch, classes) array.
        rows, classes = z.shape
        for i in range(rows):
            top = z[i, 0]
            for j in range(1, classes):
                if z[i, j] > top:
                    top = z[i, j]
            total = 0.0
            for j in range(classes):
                e = np.exp(z[i, j] - top)
                probabilities[i, j] = e
                total += e
            for j in range(classes):
                probabilities[i, j] = probabilities[i, j] / total
            losses[i] = np.log(total) - (z[i, labels[i]] - top)

    return {
        "adam": jit(adam),
        "softmax_cross_entropy": jit(softmax_cross_entropy),
        "relu_forward": jit(relu_forward),
        "bias_relu": jit(bias_relu),
        "relu_backward": jit(relu_backward),
    }


def kernel(name: str, *arrays: np.ndarray) -> Callable[..., None] | None:
    """The compiled kernel ``name`` if it can run on ``arrays`` (same float dtype, all
    row-major or all column-major; not too small), else None and the caller takes its NumPy
    path."""
    global _KERNELS
    dtype = arrays[0].dtype
    if _chosen == "numpy" or _small_run or dtype not in _SUPPORTED:
        return None
    if arrays[0].size < _LEAST_SIZE.get(name, 0):
        return None
    # All in one memory layout (row- or column-major), so that flat views pair the same elements.
    row_major = arrays[0].flags.c_contiguous
    for array in arrays:
        flags = array.flags
        if array.dtype != dtype or not (flags.c_contiguous if row_major else flags.f_contiguous):
            return None
    if _KERNELS is None:
        _KERNELS = _compile()
    return _KERNELS.get(name)


def adam_settings(
    dtype: np.dtype[Any],
    step_size: float,
    beta1: float,
    beta2: float,
    eps: float,
    inv_sqrt_bias_correction2: float,
    weight_decay: float,
    shrink: float,
    flush_below: float,
) -> np.ndarray:
    """The ``adam`` kernel's scalar settings, in its order and dtype."""
    values = (step_size, beta1, 1 - beta1, beta2, 1 - beta2, eps, inv_sqrt_bias_correction2)
    return np.array(values + (weight_decay, shrink, flush_below, 0.0), dtype=dtype)


def flat(array: np.ndarray) -> np.ndarray:
    """A 1-D view of a contiguous array in its memory order (the kernels loop over one axis)."""
    return array.reshape(-1, order="A")
