"""Optimisers, learning-rate schedules and gradient clipping.

Each optimiser's first steps are checked against its update equations written out here in
NumPy (float64), and, when torch is installed, against torch.optim over 20 steps.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import lr_scheduler

W0 = np.array([1.0, -2.0, 0.5])
GRADS = [
    np.array([1.0, -2.0, 0.5]),
    np.array([0.1, 0.0, -3.0]),
    np.array([0.05, 1.0, 0.0]),
]


# --------------------------------------------------------- reference update equations
def _ref_sgd(
    w: np.ndarray,
    grads: list[np.ndarray],
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> list[np.ndarray]:
    """b_1 = g_1, b_t = μ b_{t-1} + (1 - τ) g_t; d = g + μ b (Nesterov) or b; w -= lr d."""
    out, buffer = [], None
    for grad in grads:
        g = grad + weight_decay * w
        d = g
        if momentum:
            buffer = g.copy() if buffer is None else momentum * buffer + (1 - dampening) * g
            d = g + momentum * buffer if nesterov else buffer
        w = w - lr * d
        out.append(w)
    return out


def _ref_adagrad(
    w: np.ndarray,
    grads: list[np.ndarray],
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    initial_accumulator_value: float = 0.0,
    eps: float = 1e-10,
) -> list[np.ndarray]:
    """s += g²; w -= lr / (1 + (t - 1) lr_decay) · g / (sqrt(s) + eps)."""
    out = []
    s = np.full_like(w, initial_accumulator_value)
    for t, grad in enumerate(grads, start=1):
        g = grad + weight_decay * w
        s = s + g * g
        w = w - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        out.append(w)
    return out


def _ref_rmsprop(
    w: np.ndarray,
    grads: list[np.ndarray],
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> list[np.ndarray]:
    """v = α v + (1 - α) g²; centred: m = α m + (1 - α) g, denominator sqrt(v - m²) + eps."""
    out = []
    v = np.zeros_like(w)
    m = np.zeros_like(w)
    b = np.zeros_like(w)
    for grad in grads:
        g = grad + weight_decay * w
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            m = alpha * m + (1 - alpha) * g
            denominator = np.sqrt(v - m * m) + eps
        else:
            denominator = np.sqrt(v) + eps
        if momentum:
            b = momentum * b + g / denominator
            w = w - lr * b
        else:
            w = w - lr * g / denominator
        out.append(w)
    return out


def _ref_adam(
    w: np.ndarray,
    grads: list[np.ndarray],
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled: bool = False,
) -> list[np.ndarray]:
    """m, v moving averages; w -= lr/(1 - β1^t) · m / (sqrt(v̂)/sqrt(1 - β2^t) + eps)."""
    beta1, beta2 = betas
    out = []
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    v_max = np.zeros_like(w)
    for t, grad in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * weight_decay)
            g = grad
        else:
            g = grad + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = np.maximum(v_max, v)
        v_used = v_max if amsgrad else v
        denominator = np.sqrt(v_used) / math.sqrt(1 - beta2**t) + eps
        w = w - lr / (1 - beta1**t) * m / denominator
        out.append(w)
    return out


def _ref_adamw(w: np.ndarray, grads: list[np.ndarray], **kwargs: Any) -> list[np.ndarray]:
    kwargs.setdefault("weight_decay", 1e-2)
    return _ref_adam(w, grads, decoupled=True, **kwargs)


# (id, optimiser class, settings, reference, torch class name)
CASES: list[tuple[str, type, dict[str, Any], Callable[..., list[np.ndarray]], str]] = [
    ("sgd", optim.SGD, {"lr": 0.1}, _ref_sgd, "SGD"),
    ("sgd_momentum", optim.SGD, {"lr": 0.1, "momentum": 0.9}, _ref_sgd, "SGD"),
    (
        "sgd_dampening",
        optim.SGD,
        {"lr": 0.1, "momentum": 0.8, "dampening": 0.3},
        _ref_sgd,
        "SGD",
    ),
    ("sgd_nesterov", optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}, _ref_sgd, "SGD"),
    (
        "sgd_weight_decay",
        optim.SGD,
        {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.2},
        _ref_sgd,
        "SGD",
    ),
    (
        "sgd_nesterov_weight_decay",
        optim.SGD,
        {"lr": 0.05, "momentum": 0.7, "nesterov": True, "weight_decay": 0.1},
        _ref_sgd,
        "SGD",
    ),
    ("adagrad", optim.Adagrad, {"lr": 0.1}, _ref_adagrad, "Adagrad"),
    (
        "adagrad_all",
        optim.Adagrad,
        {"lr": 0.1, "lr_decay": 0.2, "weight_decay": 0.1, "initial_accumulator_value": 0.3},
        _ref_adagrad,
        "Adagrad",
    ),
    ("rmsprop", optim.RMSprop, {"lr": 0.01}, _ref_rmsprop, "RMSprop"),
    ("rmsprop_centered", optim.RMSprop, {"lr": 0.01, "centered": True}, _ref_rmsprop, "RMSprop"),
    ("rmsprop_momentum", optim.RMSprop, {"lr": 0.01, "momentum": 0.9}, _ref_rmsprop, "RMSprop"),
    (
        "rmsprop_all",
        optim.RMSprop,
        {"lr": 0.01, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.1},
        _ref_rmsprop,
        "RMSprop",
    ),
    ("adam", optim.Adam, {"lr": 0.1}, _ref_adam, "Adam"),
    ("adam_amsgrad", optim.Adam, {"lr": 0.1, "amsgrad": True}, _ref_adam, "Adam"),
    (
        "adam_weight_decay",
        optim.Adam,
        {"lr": 0.1, "betas": (0.8, 0.99), "weight_decay": 0.1},
        _ref_adam,
        "Adam",
    ),
    ("adamw", optim.AdamW, {"lr": 0.1}, _ref_adamw, "AdamW"),
    (
        "adamw_amsgrad",
        optim.AdamW,
        {"lr": 0.1, "weight_decay": 0.3, "amsgrad": True},
        _ref_adamw,
        "AdamW",
    ),
]
CASE_IDS = [case[0] for case in CASES]
CASE_ARGS = [case[1:] for case in CASES]


def _param(values: np.ndarray = W0) -> nn.Parameter:
    return nn.Parameter(np.array(values, dtype=np.float64))


def _run(opt: optim.Optimizer, p: cr.Tensor, grads: list[np.ndarray]) -> list[np.ndarray]:
    """Set each fixed gradient and step; return the parameter after every step."""
    out = []
    for g in grads:
        p.grad = cr.tensor(g.copy())
        opt.step()
        out.append(p.data.copy())
    return out


# ------------------------------------------------------------- first steps by hand
@pytest.mark.parametrize(("cls", "settings", "reference", "_torch"), CASE_ARGS, ids=CASE_IDS)
def test_first_three_steps_follow_the_update_equations(
    cls: type, settings: dict[str, Any], reference: Callable[..., Any], _torch: str
) -> None:
    """Three steps with fixed gradients equal the equations computed in NumPy float64."""
    p = _param()
    got = _run(cls([p], **settings), p, GRADS)
    expected = reference(W0.copy(), GRADS, **settings)
    for step, (a, b) in enumerate(zip(got, expected), start=1):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=f"step {step}")


def test_sgd_momentum_steps_by_hand() -> None:
    """w0 = 1, g = 1, lr 0.1, μ 0.9: b = 1, 1.9, 2.71 so w = 0.9, 0.71, 0.439."""
    p = _param(np.array([1.0]))
    got = _run(optim.SGD([p], lr=0.1, momentum=0.9), p, [np.ones(1)] * 3)
    np.testing.assert_allclose(np.concatenate(got), [0.9, 0.71, 0.439], rtol=1e-14)


def test_sgd_nesterov_steps_by_hand() -> None:
    """Nesterov, d = g + μ b: d = 1.9, 2.71, 3.439 so w = 0.81, 0.539, 0.1951."""
    p = _param(np.array([1.0]))
    got = _run(optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, [np.ones(1)] * 3)
    np.testing.assert_allclose(np.concatenate(got), [0.81, 0.539, 0.1951], rtol=1e-14)


def test_adam_steps_by_hand() -> None:
    """With a constant gradient g the bias-corrected m̂ = g and v̂ = g², so each step moves
    lr · g / (|g| + eps): three steps of 0.1 · 0.5 / (0.5 + 1e-8)."""
    p = _param(np.array([1.0]))
    got = _run(optim.Adam([p], lr=0.1), p, [np.full(1, 0.5)] * 3)
    step = 0.1 * 0.5 / (0.5 + 1e-8)
    np.testing.assert_allclose(
        np.concatenate(got), [1 - step, 1 - 2 * step, 1 - 3 * step], rtol=1e-12
    )


def test_adagrad_steps_by_hand() -> None:
    """g = 1, lr 0.1: s = 1, 2, 3 so w = 1 - 0.1 (1 + 1/√2 + 1/√3) after three steps."""
    p = _param(np.array([1.0]))
    got = _run(optim.Adagrad([p], lr=0.1), p, [np.ones(1)] * 3)
    expected = [1 - 0.1, 1 - 0.1 - 0.1 / math.sqrt(2), 1 - 0.1 - 0.1 / math.sqrt(2) - 0.1 / 3**0.5]
    np.testing.assert_allclose(np.concatenate(got), expected, rtol=1e-9)


def test_adamw_decays_the_weight_before_the_step() -> None:
    """A zero gradient with AdamW leaves only the decay: w ← w (1 - lr·wd) each step
    (m = v = 0 so the Adam part is 0 / (0 + eps) = 0)."""
    p = _param(np.array([2.0, -4.0]))
    got = _run(optim.AdamW([p], lr=0.1, weight_decay=0.5), p, [np.zeros(2)] * 3)
    np.testing.assert_allclose(got[-1], np.array([2.0, -4.0]) * 0.95**3, rtol=1e-14)


def test_sgd_momentum_equals_the_lecture_form() -> None:
    """Δw(n) = -η g(n) + α Δw(n-1), Δw(0) = 0, equals SGD(lr=η, momentum=α) for constant η."""
    eta, alpha = 0.05, 0.8
    grads = [np.random.default_rng(n).standard_normal(4) for n in range(12)]
    p = _param(np.zeros(4))
    got = _run(optim.SGD([p], lr=eta, momentum=alpha), p, grads)
    w = np.zeros(4)
    delta = np.zeros(4)
    for n, g in enumerate(grads):
        delta = -eta * g + alpha * delta
        w = w + delta
        np.testing.assert_allclose(got[n], w, rtol=1e-12, atol=1e-15, err_msg=f"step {n + 1}")


# -------------------------------------------------------------------- in place, state
@pytest.mark.parametrize(("cls", "settings", "_reference", "_torch"), CASE_ARGS, ids=CASE_IDS)
def test_steps_update_in_place_and_reuse_state_arrays(
    cls: type, settings: dict[str, Any], _reference: Any, _torch: str
) -> None:
    """p.data stays the same array object, and so does every state array across steps."""
    p = _param()
    data = p.data
    opt = cls([p], **settings)
    p.grad = cr.tensor(GRADS[0].copy())
    opt.step()
    assert p.data is data
    assert not np.array_equal(data, W0)
    state = opt.state_dict()["state"]
    assert state, "the optimiser keeps some state"
    arrays = {key: value for key, value in opt.state[0].items() if isinstance(value, np.ndarray)}
    for g in GRADS[1:]:
        p.grad = cr.tensor(g.copy())
        opt.step()
        assert p.data is data
        now = {k: v for k, v in opt.state[0].items() if isinstance(v, np.ndarray)}
        assert now.keys() == arrays.keys()
        for key in arrays:
            assert now[key] is arrays[key], f"state {key!r} was replaced by a new array"


@pytest.mark.parametrize(("cls", "settings", "_reference", "_torch"), CASE_ARGS, ids=CASE_IDS)
def test_step_stays_outside_the_graph(
    cls: type, settings: dict[str, Any], _reference: Any, _torch: str
) -> None:
    """After a step the parameter is still a leaf that requires grad, with float64 data."""
    p = _param()
    _run(cls([p], **settings), p, GRADS[:1])
    assert p.is_leaf and p.requires_grad and p.dtype == np.float64


@pytest.mark.parametrize(("cls", "settings", "reference", "_torch"), CASE_ARGS, ids=CASE_IDS)
def test_float32_parameters_stay_float32(
    cls: type, settings: dict[str, Any], reference: Callable[..., Any], _torch: str
) -> None:
    """A float32 parameter keeps its dtype and array, and follows the float64 equations closely."""
    p = nn.Parameter(W0.astype(np.float32))
    data = p.data
    got = _run(cls([p], **settings), p, [g.astype(np.float32) for g in GRADS])
    assert p.dtype == np.float32 and p.data is data
    expected = reference(W0.copy(), GRADS, **settings)
    np.testing.assert_allclose(got[-1], expected[-1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("cls", "settings", "_reference", "_torch"), CASE_ARGS, ids=CASE_IDS)
def test_state_dict_round_trip_continues_identically(
    cls: type, settings: dict[str, Any], _reference: Any, _torch: str
) -> None:
    """Save after 3 steps, load into a fresh optimiser on a copy; the next 3 steps match bits."""
    p = _param()
    opt = cls([p], **settings)
    _run(opt, p, GRADS)
    saved = opt.state_dict()
    snapshot = copy.deepcopy(saved)
    q = _param(p.data.copy())
    fresh = cls([q], lr=123.0)  # a different lr, which the loaded settings replace
    fresh.load_state_dict(saved)
    more = [g[::-1].copy() for g in GRADS]
    first = _run(opt, p, more)
    second = _run(fresh, q, more)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    # The saved dict is a copy: stepping on did not change it.
    for index, entry in snapshot["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(saved["state"][index][key], value)


def test_load_state_dict_refuses_another_parameter_layout() -> None:
    """A state saved for one parameter cannot be loaded for two."""
    p = _param()
    opt = optim.Adam([p])
    _run(opt, p, GRADS[:1])
    other = optim.Adam([_param(), _param()])
    with pytest.raises(ValueError):
        other.load_state_dict(opt.state_dict())


def test_parameters_without_grad_are_skipped() -> None:
    """A parameter whose grad is None is not moved (and weight decay does not touch it)."""
    a, b = _param(), _param()
    opt = optim.SGD([a, b], lr=0.1, weight_decay=0.5)
    a.grad = cr.tensor(np.ones(3))
    opt.step()
    np.testing.assert_array_equal(b.data, W0)
    np.testing.assert_allclose(a.data, W0 - 0.1 * (1 + 0.5 * W0), rtol=1e-15)


def test_zero_grad() -> None:
    """zero_grad sets grads to None, or with set_to_none=False fills them with zeros."""
    p = _param()
    opt = optim.SGD([p], lr=0.1)
    p.grad = cr.tensor(np.ones(3))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.data, np.zeros(3))
    opt.zero_grad()
    assert p.grad is None


def test_param_groups_have_their_own_settings() -> None:
    """Two groups: the second's lr overrides the default, the first's does not."""
    a, b = _param(), _param()
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    for p in (a, b):
        p.grad = cr.tensor(np.ones(3))
    opt.step()
    np.testing.assert_allclose(a.data, W0 - 0.1, rtol=1e-15)
    np.testing.assert_allclose(b.data, W0 - 1.0, rtol=1e-15)


def test_optimiser_trains_a_model_from_its_parameter_generator() -> None:
    """optim.SGD(model.parameters()) sees all parameters: one step moves each by -lr·grad."""
    model = nn.Linear(2, 1, dtype=np.float64)
    before = [p.data.copy() for p in model.parameters()]
    opt = optim.SGD(model.parameters(), lr=0.5)
    x = np.array([[1.0, 2.0]])
    model(x).sum().backward()
    opt.step()
    np.testing.assert_allclose(model.weight.data, before[0] - 0.5 * x, rtol=1e-15)
    np.testing.assert_allclose(model.bias.data, before[1] - 0.5, rtol=1e-15)


# ------------------------------------------------------------------------- defaults
DEFAULTS = [
    (
        optim.SGD,
        {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False},
    ),
    (
        optim.Adagrad,
        {
            "lr": 1e-2,
            "lr_decay": 0.0,
            "weight_decay": 0.0,
            "initial_accumulator_value": 0.0,
            "eps": 1e-10,
        },
    ),
    (
        optim.RMSprop,
        {
            "lr": 1e-2,
            "alpha": 0.99,
            "eps": 1e-8,
            "weight_decay": 0.0,
            "momentum": 0.0,
            "centered": False,
        },
    ),
    (
        optim.Adam,
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False},
    ),
    (
        optim.AdamW,
        {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False},
    ),
]


@pytest.mark.parametrize(("cls", "defaults"), DEFAULTS, ids=lambda v: getattr(v, "__name__", ""))
def test_defaults_are_pytorchs(cls: type, defaults: dict[str, Any]) -> None:
    """The hyper-parameter names and defaults of PyTorch's documentation."""
    group = cls([_param()]).param_groups[0]
    for key, value in defaults.items():
        assert group[key] == value, key


@pytest.mark.parametrize("cls", [c for c, _ in DEFAULTS], ids=lambda c: c.__name__)
def test_defaults_match_torch(cls: type) -> None:
    """Every setting we share with torch.optim has torch's default value."""
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.optim, cls.__name__)([torch.zeros(1, requires_grad=True)])
    ours = cls([_param()]).param_groups[0]
    for key, value in ours.items():
        if key not in ("params", "initial_lr"):
            assert key in theirs.param_groups[0], key
            assert theirs.param_groups[0][key] == value, key


# ----------------------------------------------------------------------- validation
INVALID = [
    (optim.SGD, {"lr": -0.1}),
    (optim.SGD, {"lr": 0.1, "momentum": -0.5}),
    (optim.SGD, {"lr": 0.1, "weight_decay": -1.0}),
    (optim.SGD, {"lr": 0.1, "nesterov": True}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}),
    (optim.Adagrad, {"lr": -0.1}),
    (optim.Adagrad, {"lr_decay": -0.1}),
    (optim.Adagrad, {"weight_decay": -0.1}),
    (optim.Adagrad, {"initial_accumulator_value": -0.1}),
    (optim.Adagrad, {"eps": -1e-10}),
    (optim.RMSprop, {"lr": -0.1}),
    (optim.RMSprop, {"alpha": -0.1}),
    (optim.RMSprop, {"eps": -1e-8}),
    (optim.RMSprop, {"momentum": -0.9}),
    (optim.RMSprop, {"weight_decay": -0.1}),
    (optim.Adam, {"lr": -1e-3}),
    (optim.Adam, {"betas": (1.0, 0.999)}),
    (optim.Adam, {"betas": (0.9, -0.1)}),
    (optim.Adam, {"eps": -1e-8}),
    (optim.Adam, {"weight_decay": -0.1}),
    (optim.AdamW, {"lr": -1e-3}),
    (optim.AdamW, {"betas": (0.9, 1.5)}),
    (optim.AdamW, {"weight_decay": -0.1}),
]


@pytest.mark.parametrize(("cls", "settings"), INVALID, ids=lambda v: str(v))
def test_invalid_settings_raise_value_error(cls: type, settings: dict[str, Any]) -> None:
    """Out-of-range hyper-parameters are refused when the optimiser is built."""
    with pytest.raises(ValueError):
        cls([_param()], **settings)


def test_bad_parameter_lists_are_refused() -> None:
    """No parameters, a non-tensor, or a tensor that does not require grad."""
    with pytest.raises(ValueError):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD([np.ones(3)], lr=0.1)
    with pytest.raises(ValueError):
        optim.SGD([cr.tensor(np.ones(3))], lr=0.1)


# ----------------------------------------------------------------------- against torch
def _quadratic(w: Any, v: Any, lib: Any) -> Any:
    """0.5 Σ a (w - c)² + Σ (v - d)² with fixed a > 0: a small, badly scaled quadratic."""
    a = np.array([[1.0, 10.0], [0.1, 3.0]])
    c = np.array([[0.5, -1.0], [2.0, 0.0]])
    d = np.array([1.0, -1.0, 0.25])
    if lib == "torch":
        import torch

        a, c, d = torch.tensor(a), torch.tensor(c), torch.tensor(d)
    return 0.5 * (a * (w - c) ** 2).sum() + ((v - d) ** 2).sum()


@pytest.mark.parametrize(("cls", "settings", "_reference", "torch_name"), CASE_ARGS, ids=CASE_IDS)
def test_twenty_steps_match_torch(
    cls: type, settings: dict[str, Any], _reference: Any, torch_name: str
) -> None:
    """Same start, same settings: parameters equal torch.optim's after each of 20 steps."""
    torch = pytest.importorskip("torch")
    w0 = np.array([[0.3, -0.7], [1.2, 0.4]])
    v0 = np.array([0.0, 0.5, -2.0])
    ours = [_param(w0), _param(v0)]
    theirs = [torch.tensor(w0, requires_grad=True), torch.tensor(v0, requires_grad=True)]
    opt = cls(ours, **settings)
    reference = getattr(torch.optim, torch_name)(theirs, **settings)
    for step in range(20):
        opt.zero_grad()
        _quadratic(*ours, "cr").backward()
        opt.step()
        reference.zero_grad()
        _quadratic(*theirs, "torch").backward()
        reference.step()
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(
                a.data, b.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=f"step {step + 1}"
            )


# ------------------------------------------------------------------------ schedules
def _lrs(make: Callable[[optim.Optimizer], Any], epochs: int, lr: float = 0.5) -> list[float]:
    """The learning rate at epoch 0 (after construction) and after each scheduler.step()."""
    opt = optim.SGD([_param()], lr=lr)
    scheduler = make(opt)
    rates = [opt.param_groups[0]["lr"]]
    for _ in range(epochs):
        opt.step()
        scheduler.step()
        rates.append(opt.param_groups[0]["lr"])
        assert scheduler.get_last_lr() == [rates[-1]]
    return rates


def test_step_lr() -> None:
    """lr_t = lr_0 · γ^floor(t / step_size)."""
    rates = _lrs(lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 10)
    np.testing.assert_allclose(rates, [0.5 * 0.5 ** (t // 3) for t in range(11)], rtol=1e-15)
    assert rates[:4] == [0.5, 0.5, 0.5, 0.25]


def test_exponential_lr() -> None:
    """lr_t = lr_0 · γ^t."""
    rates = _lrs(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), 10)
    np.testing.assert_allclose(rates, [0.5 * 0.9**t for t in range(11)], rtol=1e-14)


def test_cosine_annealing_lr() -> None:
    """lr_t = η_min + (lr_0 - η_min)(1 + cos(π t / T_max)) / 2: lr_0 at 0, the midpoint at
    T_max / 2, η_min at T_max."""
    rates = _lrs(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01), 10)
    expected = [0.01 + 0.49 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose(rates, expected, rtol=1e-14)
    assert rates[0] == pytest.approx(0.5)
    assert rates[5] == pytest.approx(0.255)
    assert rates[10] == pytest.approx(0.01)


def test_inverse_time_lr() -> None:
    """lr_t = lr_0 / (1 + k t)."""
    rates = _lrs(lambda o: lr_scheduler.InverseTimeLR(o, k=0.5), 10)
    np.testing.assert_allclose(rates, [0.5 / (1 + 0.5 * t) for t in range(11)], rtol=1e-15)
    assert rates[2] == pytest.approx(0.25)


def test_schedule_scales_each_group_from_its_own_lr() -> None:
    """Two groups with lr 1 and 0.1 both halve every epoch."""
    opt = optim.SGD([{"params": [_param()]}, {"params": [_param()], "lr": 0.1}], lr=1.0)
    scheduler = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        scheduler.step()
    np.testing.assert_allclose(scheduler.get_last_lr(), [0.125, 0.0125], rtol=1e-15)


def test_schedule_changes_the_steps_taken() -> None:
    """With g = 1 and StepLR(step_size=2, γ=0.1) from lr 1: w = w0 - (1 + 1 + 0.1 + 0.1)."""
    p = _param(np.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    scheduler = lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(4):
        p.grad = cr.tensor(np.ones(1))
        opt.step()
        scheduler.step()
    np.testing.assert_allclose(p.data, [-2.2], rtol=1e-14)


def test_scheduler_state_dict_round_trip() -> None:
    """A scheduler restored from state_dict continues the same sequence."""
    opt = optim.SGD([_param()], lr=0.5)
    scheduler = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        scheduler.step()
    saved = scheduler.state_dict()
    other_opt = optim.SGD([_param()], lr=0.5)
    other = lr_scheduler.StepLR(other_opt, step_size=2, gamma=0.5)
    other.load_state_dict(saved)
    for _ in range(4):
        scheduler.step()
        other.step()
        assert other.get_last_lr() == scheduler.get_last_lr()


@pytest.mark.parametrize(
    "make",
    [
        lambda o: lr_scheduler.StepLR(o, step_size=0),
        lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0),
        lambda o: lr_scheduler.InverseTimeLR(o, k=-0.1),
    ],
    ids=["step_size", "T_max", "k"],
)
def test_invalid_schedules_are_refused(make: Callable[[optim.Optimizer], Any]) -> None:
    """Zero step size or period, or a negative decay rate: ValueError."""
    with pytest.raises(ValueError):
        make(optim.SGD([_param()], lr=0.1))


def test_schedules_match_torch() -> None:
    """StepLR, ExponentialLR, CosineAnnealingLR and InverseTimeLR (torch's LambdaLR) agree."""
    torch = pytest.importorskip("torch")
    pairs = [
        (
            lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5),
        ),
        (
            lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
        ),
        (
            lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.01),
        ),
        (
            lambda o: lr_scheduler.InverseTimeLR(o, k=0.3),
            lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda t: 1 / (1 + 0.3 * t)),
        ),
    ]
    for ours, theirs in pairs:
        expected_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
        scheduler = theirs(expected_opt)
        expected = [expected_opt.param_groups[0]["lr"]]
        for _ in range(8):
            expected_opt.step()
            scheduler.step()
            expected.append(expected_opt.param_groups[0]["lr"])
        np.testing.assert_allclose(_lrs(ours, 8), expected, rtol=1e-12)


# ------------------------------------------------------------------------- clipping
def _with_grads(*grads: np.ndarray) -> list[nn.Parameter]:
    params = []
    for g in grads:
        p = _param(np.zeros_like(g))
        p.grad = cr.tensor(g.copy())
        params.append(p)
    return params


def test_clip_returns_the_norm_and_clips_to_max_norm() -> None:
    """Grads [3, 4] and [12] have norm 13; clipping to 6.5 halves them, keeping direction."""
    params = _with_grads(np.array([3.0, 4.0]), np.array([12.0]))
    arrays = [p.grad.data for p in params]
    norm = optim.clip_grad_norm_(params, max_norm=6.5)
    assert norm == pytest.approx(13.0, rel=1e-15)
    np.testing.assert_allclose(params[0].grad.data, [1.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(params[1].grad.data, [6.0], rtol=1e-6)
    after = math.sqrt(sum(float((p.grad.data**2).sum()) for p in params))
    assert after == pytest.approx(6.5, rel=1e-6)
    assert after <= 6.5
    assert all(p.grad.data is a for p, a in zip(params, arrays)), "clipped in place"


def test_clip_keeps_the_direction_exactly() -> None:
    """Every element is scaled by the same factor."""
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    params = _with_grads(*grads)
    optim.clip_grad_norm_(params, max_norm=0.1)
    ratios = np.concatenate([(p.grad.data / g).ravel() for p, g in zip(params, grads)])
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-14)
    assert 0 < ratios[0] < 1


def test_clip_leaves_small_gradients_alone() -> None:
    """A norm below max_norm: the gradients are bit-for-bit unchanged, the norm is returned."""
    params = _with_grads(np.array([3.0, 4.0]), np.array([12.0]))
    norm = optim.clip_grad_norm_(params, max_norm=20.0)
    assert norm == pytest.approx(13.0, rel=1e-15)
    np.testing.assert_array_equal(params[0].grad.data, [3.0, 4.0])
    np.testing.assert_array_equal(params[1].grad.data, [12.0])


def test_clip_with_the_max_norm() -> None:
    """norm_type=inf uses the largest |g|: 12, scaled down to 3."""
    params = _with_grads(np.array([3.0, -4.0]), np.array([-12.0]))
    norm = optim.clip_grad_norm_(params, max_norm=3.0, norm_type=math.inf)
    assert norm == 12.0
    np.testing.assert_allclose(params[1].grad.data, [-3.0], rtol=1e-6)
    np.testing.assert_allclose(params[0].grad.data, [0.75, -1.0], rtol=1e-6)


def test_clip_ignores_parameters_without_grad() -> None:
    """Parameters whose grad is None are skipped; with no gradient at all the norm is 0."""
    params = _with_grads(np.array([3.0, 4.0]))
    params.append(_param())
    assert optim.clip_grad_norm_(params, max_norm=1.0) == pytest.approx(5.0)
    assert params[1].grad is None
    assert optim.clip_grad_norm_([_param()], max_norm=1.0) == 0.0


def test_clip_accepts_a_parameter_generator() -> None:
    """model.parameters() is walked once, clipping every gradient."""
    model = nn.Linear(3, 2, dtype=np.float64)
    model(np.full((4, 3), 100.0)).sum().backward()
    norm = optim.clip_grad_norm_(model.parameters(), max_norm=1.0)
    assert norm > 1.0
    after = math.sqrt(sum(float((p.grad.data**2).sum()) for p in model.parameters()))
    assert after == pytest.approx(1.0, rel=1e-6)


def test_clip_matches_torch() -> None:
    """Returned norm and clipped gradients equal torch.nn.utils.clip_grad_norm_'s."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    for max_norm in (0.5, 100.0):
        params = _with_grads(*grads)
        theirs = []
        for g in grads:
            t = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
            t.grad = torch.tensor(g.copy())
            theirs.append(t)
        norm = optim.clip_grad_norm_(params, max_norm)
        expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
        assert norm == pytest.approx(float(expected), rel=1e-14)
        for p, t in zip(params, theirs):
            np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-14)
