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

from ..engine.kernels import flat, get_kernels, import_numba

__all__ = [
    "adam",
    "bce_logits",
    "bias_add",
    "colsum",
    "labels_in_range",
    "log_softmax_pick",
    "loops_ready",
    "matmul",
    "sgd",
    "shift_rows",
    "softmax_grad",
    "tanh_backward",
    "wait_for_loops",
]

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
    """The loader thread: compile the float32 loops, retrying a start that raced with IPython,
    and hand them out; then the float64 ones. On failure the twins stay in use, without a
    traceback on the user's screen."""
    global _loops, load_failure
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            _loops = _compile_loops()
            _ready.add("f")
            break
        except RuntimeError as error:
            if "changed size during iteration" in str(error) and attempt < _ATTEMPTS:
                continue
            load_failure = f"{type(error).__name__}: {error}"
        except Exception as error:  # any failure leaves the exact twins in use
            load_failure = f"{type(error).__name__}: {error}"
        _loops = {}
        return
    try:
        loops = _loops
        assert loops is not None
        _warm(loops, np.float64)
        _ready.add("d")
    except Exception:  # float64 keeps its twins: the same numbers, slower
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

    def adam(params: Any, grads: Any, ms: Any, vs: Any, s: Any) -> None:
        # The element formula of the engine's adam kernel, over every parameter. Written
        # again rather than shared: the engine compiles its kernel with fast-math (fused
        # multiply-adds), which no NumPy twin could reproduce to the bit.
        step_size, beta1, keep1, beta2, keep2 = s[0], s[1], s[2], s[3], s[4]
        eps, inv_sqrt_bias_correction2, weight_decay = s[5], s[6], s[7]
        shrink, flush_below, zero = s[8], s[9], s[10]
        for k in range(len(params)):
            p, g, m, v = params[k], grads[k], ms[k], vs[k]
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
                p[i] = p[i] * shrink - step_size * mi / (
                    np.sqrt(vi) * inv_sqrt_bias_correction2 + eps
                )

    def labels_in_range(labels: Any, classes: int) -> bool:
        for i in range(labels.size):
            if labels[i] < 0 or labels[i] >= classes:
                return False
        return True

    def shift_rows(z: Any, shifted: Any) -> None:
        # z - its row's maximum, NaN kept as NumPy's max keeps it (a row with a NaN is NaN)
        rows, classes = z.shape
        for i in range(rows):
            top = z[i, 0]
            for j in range(1, classes):
                value = z[i, j]
                if value > top or value != value:
                    top = value
                    if value != value:
                        break
            for j in range(classes):
                shifted[i, j] = z[i, j] - top

    def log_softmax_pick(
        shifted: Any, log_sums: Any, labels: Any, log_probs: Any, losses: Any
    ) -> None:
        # log softmax = (z - max) - log Σ e^(z - max), and minus it at each row's label
        rows, classes = shifted.shape
        for i in range(rows):
            log_sum = log_sums[i, 0]
            for j in range(classes):
                log_probs[i, j] = shifted[i, j] - log_sum
            losses[i] = -log_probs[i, labels[i]]

    def softmax_grad(p: Any, labels: Any, one: Any, scale: Any, grad: Any) -> None:
        # (softmax - onehot)·scale: p - 1 at the label, then the product
        rows, classes = p.shape
        factor, unit = scale[0], one[0]
        for i in range(rows):
            label = labels[i]
            for j in range(classes):
                value = p[i, j]
                if j == label:
                    value = value - unit
                grad[i, j] = value * factor

    def bce_logits(z: Any, t: Any, e: Any, log1p_e: Any, c: Any, grad: Any) -> float:
        # Per element, with e = exp(-|z|) and log1p(e) given (NumPy's vectorised ones):
        # softplus(z) - z·t, summed first to last in float64; and the gradient
        # scale·(sigmoid(z) - t), the sigmoid as 1/(1 + e) or e/(1 + e) by the sign of z
        scale, one, zero = c[0], c[1], c[2]
        total = 0.0
        for i in range(z.size):
            zi, ei, ti = z[i], e[i], t[i]
            softplus = (zi if zi > 0 else zero) + log1p_e[i]
            total += softplus - zi * ti
            top = one if zi >= 0 else ei
            grad[i] = scale * (top / (one + ei) - ti)
        return total

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
        "adam": jit(adam),
        "bce_logits": jit(bce_logits),
        "labels_in_range": jit(labels_in_range),
        "log_softmax_pick": jit(log_softmax_pick),
        "shift_rows": jit(shift_rows),
        "softmax_grad": jit(softmax_grad),
        "outer": jit(outer),
        "bias_add": jit(bias_add),
        "colsum": jit(colsum),
        "tanh_backward": jit(tanh_backward),
    }
    # Compile (or load from the cache) for float32 now, in this thread, and only then hand
    # them out: a step never compiles a loop itself. float64 follows (``_build``); the loops
    # over a tuple of parameters are compiled per tuple length when first asked for
    # (``_tuple_loop``). Cold (nothing cached), float32 takes about 2 s here, float64 2 s.
    _warm(loops, np.float32)
    loops["labels_in_range"](np.zeros(2, np.int64), 2)
    return loops


def _warm(loops: dict[str, Callable[..., Any]], dtype: Any) -> None:
    """Compile (or load from Numba's cache) every loop for arrays of ``dtype``."""
    from . import dense

    a, b = np.zeros((2, 2), dtype), np.zeros(2, dtype)
    loops["bias_add"](a, b)
    loops["colsum"](a, b)
    loops["outer"](a[:, :1], a[:1], a.copy())
    loops["tanh_backward"](a, a, a.copy(), b, True, np.ones(1, dtype))
    loops["bce_logits"](b, b, b, b, np.ones(3, dtype), b.copy())
    labels = np.zeros(2, np.intp)
    loops["log_softmax_pick"](a, a[:, :1], labels, a.copy(), b.copy())
    loops["shift_rows"](a, a.copy())
    loops["softmax_grad"](a, labels, np.ones(1, dtype), np.ones(1, dtype), a.copy())
    dense.warm_up(loops, dtype)


# The dtypes ("f", "d") whose loops are compiled, and the (loop, parameter count, dtype) of the
# loops over tuples of parameters that are.
_ready: set[str] = set()
_tuples_ready: set[tuple[str, int, str]] = set()
_tuples_pending: set[tuple[str, int, str]] = set()


def _warm_tuple(loops: dict[str, Callable[..., Any]], name: str, count: int, dtype: Any) -> None:
    """Compile the loop ``name`` over ``count`` parameters of ``dtype`` (or load it)."""
    arrays = tuple(np.zeros(2, dtype) for _ in range(count))
    if name == "sgd":
        loops["sgd"](arrays, arrays, np.zeros(1, dtype))
    else:
        loops["adam"](arrays, arrays, arrays, arrays, np.zeros(11, dtype))
    _tuples_ready.add((name, count, np.dtype(dtype).char))


def _compile_tuple(name: str, count: int, dtype: Any) -> None:
    try:
        assert _loops is not None
        _warm_tuple(_loops, name, count, dtype)
    except Exception:  # the twin stays in use: the same numbers, slower
        return


def _tuple_loop(name: str, count: int, dtype: np.dtype[Any]) -> Callable[..., Any] | None:
    """The loop ``name`` over ``count`` parameters once it is compiled for that many; None
    until then (it compiles in a thread of its own), so a step never waits for a compile."""
    loop = _loop(name, dtype)
    if loop is None:
        return None
    key = (name, count, dtype.char)
    if key in _tuples_ready:
        return loop
    with _lock:
        if key not in _tuples_pending:
            _tuples_pending.add(key)
            threading.Thread(
                target=_compile_tuple,
                args=(name, count, dtype),
                name="chainrule-compile",
                daemon=True,
            ).start()
    return None


def _start() -> None:
    global _loading
    with _lock:
        if _loading is None:
            _loading = threading.Thread(target=_build, name="chainrule-compile", daemon=True)
            _loading.start()


def _loop(name: str, dtype: np.dtype[Any] | None = None) -> Callable[..., Any] | None:
    """The compiled loop for arrays of ``dtype``, or None while Numba is loading or compiling
    it (or when NumPy's loops are chosen, in which case Numba is never started)."""
    if get_kernels() == "numpy":
        return None
    if _loops is None:
        _start()
        return None
    if dtype is not None and dtype.char not in _ready:
        return None
    return _loops.get(name)


def dense_loop(name: str, dtype: np.dtype[Any]) -> Callable[..., Any] | None:
    """The small-layer loop ``name`` (``dense``), or None while it is not compiled."""
    return _loop(name, dtype)


def loops_ready() -> bool:
    """Whether the loader has finished (the loops compiled, or given up)."""
    return _loops is not None and (_loading is None or not _loading.is_alive())


def wait_for_loops(timeout: float | None = None) -> bool:
    """Start the loops and wait until they are compiled (for benchmarks and tests)."""
    _start()
    assert _loading is not None
    _loading.join(timeout)
    return _loops is not None


def bias_add(out: np.ndarray, bias: np.ndarray) -> None:
    """out += bias on every row."""
    loop = _loop("bias_add", out.dtype)
    if loop is None:
        np.add(out, bias, out=out)
    else:
        loop(out, bias)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a @ b; a product over one term (NumPy's matmul is slow there) as a loop."""
    if a.shape[1] == 1 and a.flags.c_contiguous and b.flags.c_contiguous:
        loop = _loop("outer", a.dtype)
        if loop is not None:
            loop(a, b, out)
            return out
    return np.matmul(a, b, out=out)


def sgd(params: tuple[np.ndarray, ...], grads: tuple[np.ndarray, ...], lr: np.ndarray) -> bool:
    """w ← w - lr[0]·g over 1-D views of every parameter in one loop (``lr`` in their dtype);
    False (nothing done) while the loop is not compiled, so that the caller runs the
    optimiser's own step."""
    loop = _tuple_loop("sgd", len(params), params[0].dtype)
    if loop is None:
        return False
    loop(params, grads, lr)
    return True


def adam(
    params: tuple[np.ndarray, ...],
    grads: tuple[np.ndarray, ...],
    ms: tuple[np.ndarray, ...],
    vs: tuple[np.ndarray, ...],
    s: np.ndarray,
) -> None:
    """Adam's update (the engine kernel's formula and ``adam_settings``' ``s``) of every
    parameter, with its gradient and moments, all 1-D views of one dtype; the NumPy twin does
    the same operations in the same order until the loop is compiled."""
    loop = _tuple_loop("adam", len(params), params[0].dtype)
    if loop is not None:
        loop(params, grads, ms, vs, s)
        return
    step_size, beta1, keep1, beta2, keep2, eps, inv_sqrt_bias_correction2 = s[:7]
    weight_decay, shrink, flush_below = s[7], s[8], s[9]
    for p, g, m, v in zip(params, grads, ms, vs):
        if weight_decay != 0:
            g = g + weight_decay * p
        scratch = np.multiply(g, keep1)
        np.multiply(beta1, m, out=m)
        np.add(m, scratch, out=m)
        np.multiply(keep2, g, out=scratch)
        np.multiply(scratch, g, out=scratch)
        np.multiply(beta2, v, out=v)
        np.add(v, scratch, out=v)
        np.copyto(m, 0, where=np.abs(m) < flush_below)
        np.copyto(v, 0, where=v < flush_below)
        np.sqrt(v, out=scratch)
        np.multiply(scratch, inv_sqrt_bias_correction2, out=scratch)
        np.add(scratch, eps, out=scratch)
        np.divide(np.multiply(step_size, m), scratch, out=scratch)
        np.multiply(p, shrink, out=p)
        np.subtract(p, scratch, out=p)


def bce_logits(
    z: np.ndarray,
    t: np.ndarray,
    e: np.ndarray,
    log1p_e: np.ndarray,
    c: np.ndarray,
    grad: np.ndarray,
    scratch: np.ndarray,
) -> float:
    """The sum of softplus(z) - z·t (added first to last, in float64) given e = exp(-|z|) and
    log1p(e); grad = c[0]·(sigmoid(z) - t). ``c`` is (scale, 1, 0) in the arrays' dtype; all
    contiguous arrays of one shape."""
    loop = _loop("bce_logits", z.dtype)
    if loop is not None:
        return float(loop(flat(z), flat(t), flat(e), flat(log1p_e), c, flat(grad)))
    np.maximum(z, c[2], out=scratch)
    np.add(scratch, log1p_e, out=scratch)
    np.subtract(scratch, np.multiply(z, t), out=scratch)
    total = float(np.cumsum(scratch, dtype=np.float64)[-1]) if scratch.size else 0.0
    np.add(c[1], e, out=scratch)
    top = np.where(z >= 0, c[1], e)
    np.divide(top, scratch, out=scratch)
    np.subtract(scratch, t, out=scratch)
    np.multiply(c[0], scratch, out=grad)
    return total


def labels_in_range(labels: np.ndarray, classes: int) -> bool:
    """Every label in [0, classes)."""
    loop = _loop("labels_in_range")
    if loop is not None and labels.dtype == np.int64 and labels.ndim == 1:
        return bool(loop(labels, classes))
    return bool(labels.min(initial=0) >= 0 and labels.max(initial=0) < classes)


def shift_rows(z: np.ndarray, shifted: np.ndarray, top: np.ndarray) -> None:
    """shifted = z - the maximum of its row (``top``: scratch of shape (rows, 1))."""
    loop = _loop("shift_rows", z.dtype)
    if loop is not None:
        loop(z, shifted)
        return
    np.max(z, axis=-1, keepdims=True, out=top)
    np.subtract(z, top, out=shifted)


def log_softmax_pick(
    shifted: np.ndarray,
    log_sums: np.ndarray,
    labels: np.ndarray,
    log_probs: np.ndarray,
    losses: np.ndarray,
) -> None:
    """log_probs = shifted - log_sums (one per row), losses = -log_probs at the labels."""
    loop = _loop("log_softmax_pick", shifted.dtype)
    if loop is not None:
        loop(shifted, log_sums, labels, log_probs, losses)
        return
    np.subtract(shifted, log_sums, out=log_probs)
    np.negative(log_probs[np.arange(len(labels)), labels], out=losses)


def softmax_grad(
    p: np.ndarray, labels: np.ndarray, one: np.ndarray, scale: np.ndarray, grad: np.ndarray
) -> None:
    """grad = (p - onehot(labels))·scale[0], 1 at the label subtracted before the product."""
    loop = _loop("softmax_grad", p.dtype)
    if loop is not None:
        loop(p, labels, one, scale, grad)
        return
    np.copyto(grad, p)
    grad[np.arange(len(labels)), labels] -= one[0]
    np.multiply(grad, scale[0], out=grad)


def colsum(g: np.ndarray, out: np.ndarray) -> None:
    """out = the column sums of g, the rows added in order."""
    loop = _loop("colsum", g.dtype)
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
    loop = _loop("tanh_backward", g.dtype)
    if loop is not None:
        ones = _ONES[g.dtype.char]
        loop(g, h, delta, delta[0] if sums is None else sums, sums is not None, ones)
        return
    np.multiply(h, h, out=scratch)
    np.subtract(1, scratch, out=scratch)
    np.multiply(g, scratch, out=delta)
    if sums is not None:
        colsum(delta, sums)
