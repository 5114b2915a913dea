"""The compiled loops (chainrule.engine.kernels) compute what the NumPy paths compute, to
rounding."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn, optim
from chainrule.engine import kernels as _kernels
from chainrule.train import Callback, fit

pytest.importorskip("numba")


@contextlib.contextmanager
def _compiled(fused: bool) -> Iterator[None]:
    """Run the block with the compiled loops, or (``fused=False``) with the NumPy paths only.

    A context manager rather than the monkeypatch fixture, which hypothesis tests cannot use."""
    saved = cr.get_kernels()
    cr.set_kernels("compiled" if fused else "numpy")
    try:
        yield
    finally:
        cr.set_kernels(saved)


def _steps(
    make: Any, shape: tuple[int, ...], dtype: Any, fused: bool, seed: int, steps: int = 15
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = cr.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    opt = make([p])
    with _compiled(fused):
        for _ in range(steps):
            p.grad = cr.tensor(rng.standard_normal(shape).astype(dtype))
            opt.step()
    return p.data


MAKERS = {
    "adam": lambda ps: optim.Adam(ps, lr=1e-2),
    "adam-l2": lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=0.1, betas=(0.8, 0.99)),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2, weight_decay=0.1, eps=1e-3),
}


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(MAKERS)),
    shape=st.lists(st.integers(1, 7), min_size=0, max_size=3).map(tuple),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_fused_step_equals_numpy_step(
    name: str, shape: tuple[int, ...], dtype: Any, seed: int
) -> None:
    fused = _steps(MAKERS[name], shape, dtype, True, seed)
    plain = _steps(MAKERS[name], shape, dtype, False, seed)
    assert fused.dtype == dtype
    tolerance = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(fused, plain, rtol=tolerance, atol=tolerance)


def test_kernel_is_used_for_contiguous_float_arrays_only() -> None:
    a = np.zeros((3, 4), np.float32)
    assert _kernels.kernel("adam", a, a, a, a) is not None
    assert _kernels.kernel("adam", a.T, a, a, a) is None  # not C-contiguous
    assert _kernels.kernel("adam", a, a.astype(np.float64), a, a) is None  # mixed dtypes
    assert _kernels.kernel("adam", a.astype(np.float16), *[a.astype(np.float16)] * 3) is None


def test_non_contiguous_parameter_takes_the_numpy_path() -> None:
    base = np.arange(12.0).reshape(3, 4)
    p = cr.tensor(base, requires_grad=True)
    p.data = np.asfortranarray(base)  # same values, not C-contiguous
    opt = optim.Adam([p], lr=0.1)
    p.grad = cr.tensor(np.ones((3, 4)))
    opt.step()
    # First Adam step: every weight moves by lr against the gradient's sign (m/sqrt(v) = 1).
    np.testing.assert_allclose(p.data, base - 0.1, rtol=0, atol=1e-7)


def test_nan_gradient_stays_nan() -> None:
    """The kernels are compiled without the no-NaN assumption: divergence stays visible."""
    p = cr.tensor(np.ones(5, np.float32), requires_grad=True)
    opt = optim.Adam([p])
    p.grad = cr.tensor(np.array([1, np.nan, 1, 1, 1], np.float32))
    opt.step()
    assert np.isnan(p.data[1]) and np.isfinite(p.data[[0, 2, 3, 4]]).all()


def test_column_major_weights_keep_the_fused_path_and_its_results() -> None:
    """Linear stores its weight column-major; its gradient, Adam's state and the kernel follow."""
    layer = nn.Linear(5, 3)
    assert layer.weight.data.flags.f_contiguous and not layer.weight.data.flags.c_contiguous
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    start = layer.weight.data.copy()
    results = []
    for fused in (True, False):
        layer.weight.data = np.asfortranarray(start)
        opt = optim.Adam([layer.weight], lr=1e-2)
        with _compiled(fused):
            for _ in range(5):
                opt.zero_grad()
                (layer(x) ** 2).sum().backward()
                grad = layer.weight.grad
                assert grad is not None and grad.data.flags.f_contiguous
                opt.step()
        m = opt.state[0]["exp_avg"]
        assert m.flags.f_contiguous
        if fused:  # the kernel accepted all four arrays, so the fused loop ran
            assert _kernels.kernel("adam", layer.weight.data, grad.data, m, m) is not None
        results.append(layer.weight.data.copy())
        # State restored from a state dict keeps the parameter's layout.
        restored = optim.Adam([layer.weight], lr=1e-2)
        restored.load_state_dict(opt.state_dict())
        assert restored.state[0]["exp_avg"].flags.f_contiguous
    np.testing.assert_allclose(results[0], results[1], rtol=2e-6, atol=2e-6)


def test_mixed_layouts_are_refused_by_the_kernel() -> None:
    c = np.zeros((3, 4), np.float32)
    f = np.asfortranarray(c)
    assert _kernels.kernel("adam", f, f, f, f) is not None
    assert _kernels.kernel("adam", f, c, f, f) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_relu_kernels_equal_the_definition(dtype: Any, order: str) -> None:
    """Large enough arrays go through the compiled ReLU; the values are max(x, 0) exactly, NaN
    kept, and the gradient is g where x > 0 (0 at 0 and below, 0 where x is NaN)."""
    x = np.random.default_rng(0).standard_normal((64, 80)).astype(dtype)
    x[0, :4] = [0.0, -np.inf, np.inf, np.nan]
    x = np.asarray(x, order=order)
    g = np.asarray(np.random.default_rng(1).standard_normal((64, 80)).astype(dtype), order=order)
    assert x.size >= _kernels._LEAST_SIZE["relu_forward"]
    assert _kernels.kernel("relu_forward", x) is not None
    t = cr.tensor(x, requires_grad=True)
    out = cr.relu(t)
    expected = np.where(x > 0, x, 0).astype(dtype)
    expected[0, 3] = np.nan
    np.testing.assert_array_equal(out.data, expected)
    out.backward(g)
    np.testing.assert_array_equal(t.grad.data, np.where(x > 0, g, 0))


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 9),
    classes=st.integers(2, 7),
    scale=st.sampled_from([1.0, 30.0, 1e4]),
    reduction=st.sampled_from(["mean", "sum", "none"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_fused_cross_entropy_equals_the_numpy_path(
    rows: int, classes: int, scale: float, reduction: str, dtype: Any, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((rows, classes)) * scale).astype(dtype)
    labels = rng.integers(0, classes, rows)
    g = rng.standard_normal(rows if reduction == "none" else ()).astype(dtype)
    results = []
    for fused in (True, False):
        with _compiled(fused):
            logits = cr.tensor(z, requires_grad=True)
            loss = nn.functional.cross_entropy(logits, labels, reduction=reduction)
            loss.backward(g)
        results.append((loss.data, logits.grad.data))
    assert _kernels.kernel("softmax_cross_entropy", z) is not None  # the first run was fused
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for fused, plain in zip(*results):
        assert fused.dtype == dtype
        np.testing.assert_allclose(fused, plain, rtol=tolerance, atol=tolerance * scale)


def test_the_switch_is_a_function_with_two_choices() -> None:
    assert cr.get_kernels() == "compiled"
    array = np.ones(4096, dtype=np.float32)
    try:
        cr.set_kernels("numpy")
        assert cr.get_kernels() == "numpy"
        assert _kernels.kernel("relu_forward", array, array) is None
    finally:
        cr.set_kernels("compiled")
    assert _kernels.kernel("relu_forward", array, array) is not None
    with pytest.raises(ValueError, match="set_kernels: kind must be one of 'compiled', 'numpy'"):
        cr.set_kernels("fast")  # type: ignore[arg-type]


def test_a_short_run_keeps_numpy_loops_and_a_long_one_compiles() -> None:
    """``fit`` judges its run's length (steps x parameters) against Numba's start: a small
    network for a few steps never starts the compiled loops, a long run uses them."""
    seen: list[bool] = []

    class Watch(Callback):
        def on_batch_end(self, state: Any) -> None:
            seen.append(_kernels._small_run)

    def run(width: int, epochs: int) -> None:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((64, 8)).astype(np.float32)
        y = rng.integers(0, 3, 64)
        model = nn.mlp(8, [width], 3, "relu")
        optimizer = optim.Adam(model.parameters(), lr=1e-3)
        fit(model, nn.CrossEntropyLoss(), optimizer, (X, y), epochs=epochs,
                     batch_size=32, callbacks=[Watch()], progress=False)  # fmt: skip

    run(width=16, epochs=2)  # 4 steps x 195 parameters
    assert seen and all(seen)
    seen.clear()
    run(width=4096, epochs=100)  # 200 steps x 49,155 parameters = 9.8e6: still short
    assert all(seen)
    seen.clear()
    run(width=4096, epochs=250)  # 500 steps: 2.5e7 updates
    assert seen and not any(seen)
    assert not _kernels._small_run  # restored after the fit


def test_small_run_refuses_kernels_inside_and_restores_after() -> None:
    x = np.ones(4096, dtype=np.float32)
    assert _kernels.kernel("relu_forward", x) is not None
    with _kernels.small_run(10):
        assert _kernels.kernel("relu_forward", x) is None
        with _kernels.small_run(1e12):  # a long run inside a short one stays short
            assert _kernels.kernel("relu_forward", x) is None
    assert _kernels.kernel("relu_forward", x) is not None
