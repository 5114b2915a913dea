"""The compiled step's fused loops, and their NumPy twins that give the same bits.

Each loop does in one pass what NumPy does in several calls on a small array (a bias added to
every row, g·(1 - h²) and its column sums, a loss's arithmetic). They are plain arithmetic
compiled without fast-math (no reassociation, no fused multiply-add), so every element is
rounded exactly as NumPy rounds it; the column sums add the rows in order, as NumPy's
``add.reduce(axis=0)`` does on a row-major array (the NumPy twin of a one-column sum adds in
order too). So a plan gives the same numbers whether its loops are compiled yet or not.

Numba starts in a background thread the first time a plan asks for a loop (about 0.5 s:
importing Numba and loading the cached loops); until it is ready the NumPy twins run, so a
compiled step's first call never waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.kernels import get_kernels, import_numba

__all__ = ["bias_add", "colsum", "loops_ready", "matmul", "sgd", "tanh_backward", "wait_for_loops"]

_loops: dict[str, Callable[..., Any]] | None = None
_loading: threading.Thread | None = None
_lock = threading.Lock()
_ONES = {np.dtype(t).char: np.ones(1, t) for t in (np.float32, np.float64)}


# Numba's first start walks builtins.__dict__ once; IPython adds and removes builtins at every
# cell boundary, so in Jupyter that walk can meet "dictionary changed size during iteration".
# Numba runs the walk again on the next try, so the loader simply tries again.
_ATTEMPTS = 5
# Why the loops could not be built, when they could not (the NumPy twins then run: same
# numbers, slower); None otherwise.
load_failure: str | None = None


def _build() -> None:
    """The loader thread: compile the loops, retrying a start that raced with IPython; on
    failure the twins stay in use, without a traceback on the user's screen."""
    global _loops, load_failure
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            _loops = _compile_loops()
            return
        except RuntimeError as error:
            if "changed size during iteration" in str(error) and attempt < _ATTEMPTS:
                continue
            load_failure = f"{type(error).__name__}: {error}"
        except Exception as error:  # any failure leaves the exact twins in use
            load_failure = f"{type(error).__name__}: {error}"
        _loops = {}
        return


def _compile_loops() -> dict[str, Callable[..., Any]]:
    numba = import_numba()
    if numba is None:  # pragma: no cover
        return {}
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")

    def bias_add(out: Any, bias: Any) -> None:
        rows, columns = out.shape
        for i in range(rows):
            for j in range(columns):
                out[i, j] += bias[j]

    def colsum(g: Any, out: Any) -> None:
        rows, columns = g.shape
        for j in range(columns):
            out[j] = 0
        for i in range(rows):
            for j in range(columns):
                out[j] += g[i, j]

    def tanh_backward(g: Any, h: Any, delta: Any, sums: Any, with_sums: bool, ones: Any) -> None:
        # δ = g·(1 - h²), rounded as NumPy rounds each of the three operations; with the
        # column sums of δ (the bias's gradient) in the same pass
        rows, columns = g.shape
        one = ones[0]  # 1 in the arrays' dtype: a literal 1 would make float32 into float64
        if with_sums:
            for j in range(columns):
                sums[j] = 0
        for i in range(rows):
            for j in range(columns):
                square = h[i, j] * h[i, j]
                value = g[i, j] * (one - square)
                delta[i, j] = value
                if with_sums:
                    sums[j] += value

    def outer(g: Any, w: Any, out: Any) -> None:
        # g (rows, 1) @ w (1, columns): one product per element, no sum
        rows, columns = out.shape
        for i in range(rows):
            for j in range(columns):
                out[i, j] = g[i, 0] * w[0, j]

    def sgd(params: Any, grads: Any, lr: Any) -> None:
        # w ← w - lr·g for every parameter: the product rounded, then the difference, as
        # SGD.step's two NumPy calls round them
        step = lr[0]
        for k in range(len(params)):
            p, g = params[k], grads[k]
            for i in range(p.size):
                p[i] -= step * g[i]

    from . import dense

    loops: dict[str, Callable[..., Any]] = {
        **dense.define_loops(jit),
        "sgd": jit(sgd),
        "outer": jit(outer),
        "bias_add": jit(bias_add),
        "colsum": jit(colsum),
        "tanh_backward": jit(tanh_backward),
    }
    # Compile (or load from the cache) for float32 and float64 now, in this thread, and only
    # then hand them out: a step never compiles a loop itself.
    for dtype in (np.float32, np.float64):
        a, b = np.zeros((2, 2), dtype), np.zeros(2, dtype)
        loops["bias_add"](a, b)
        loops["colsum"](a, b)
        loops["sgd"]((b, b.copy()), (b, b), np.ones(1, dtype))
        loops["outer"](a[:, :1], a[:1], a.copy())
        loops["tanh_backward"](a, a, a.copy(), b, True, np.ones(1, dtype))
        dense.warm_up(loops, dtype)
    return loops


def _start() -> None:
    global _loading
    with _lock:
        if _loading is None:
            _loading = threading.Thread(target=_build, name="chainrule-compile", daemon=True)
            _loading.start()


def _loop(name: str) -> Callable[..., Any] | None:
    """The compiled loop, or None while Numba is loading (or when NumPy's loops are chosen,
    in which case Numba is never started)."""
    if get_kernels() == "numpy":
        return None
    if _loops is None:
        _start()
        return None
    return _loops.get(name)


def dense_loop(name: str) -> Callable[..., Any] | None:
    """The small-layer loop ``name`` (``dense``), or None while it is not compiled."""
    return _loop(name)


def loops_ready() -> bool:
    return _loops is not None


def wait_for_loops(timeout: float | None = None) -> bool:
    """Start the loops and wait until they are compiled (for benchmarks and tests)."""
    _start()
    assert _loading is not None
    _loading.join(timeout)
    return _loops is not None


def bias_add(out: np.ndarray, bias: np.ndarray) -> None:
    """out += bias on every row."""
    loop = _loop("bias_add")
    if loop is None:
        np.add(out, bias, out=out)
    else:
        loop(out, bias)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a @ b; a product over one term (NumPy's matmul is slow there) as a loop."""
    if a.shape[1] == 1 and a.flags.c_contiguous and b.flags.c_contiguous:
        loop = _loop("outer")
        if loop is not None:
            loop(a, b, out)
            return out
    return np.matmul(a, b, out=out)


def sgd(params: tuple[np.ndarray, ...], grads: tuple[np.ndarray, ...], lr: np.ndarray) -> bool:
    """w ← w - lr[0]·g over 1-D views of every parameter in one loop (``lr`` in their dtype);
    False (nothing done) while the loop is not compiled, so that the caller runs the
    optimiser's own step."""
    loop = _loop("sgd")
    if loop is None:
        return False
    loop(params, grads, lr)
    return True


def colsum(g: np.ndarray, out: np.ndarray) -> None:
    """out = the column sums of g, the rows added in order."""
    loop = _loop("colsum")
    if loop is not None:
        loop(g, out)
    elif g.shape[1] == 1:  # NumPy sums one contiguous column pairwise; the loop in order
        out[0] = np.cumsum(g[:, 0], dtype=g.dtype)[-1]
    else:
        np.add.reduce(g, axis=0, out=out)


def tanh_backward(
    g: np.ndarray, h: np.ndarray, delta: np.ndarray, sums: np.ndarray | None, scratch: np.ndarray
) -> None:
    """delta = g·(1 - h²), and sums = its column sums when given."""
    loop = _loop("tanh_backward")
    if loop is not None:
        ones = _ONES[g.dtype.char]
        loop(g, h, delta, delta[0] if sums is None else sums, sums is not None, ones)
        return
    np.multiply(h, h, out=scratch)
    np.subtract(1, scratch, out=scratch)
    np.multiply(g, scratch, out=delta)
    if sums is not None:
        colsum(delta, sums)
