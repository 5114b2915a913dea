"""Every setting of the optimisers, schedules and clipping is checked, with a message that
names the class, the setting and what it got (issue 14).

Grouped by rule: the type of a number, finiteness, the range, the switches, the form of
``params``, param groups added later or restored by ``load_state_dict``, the shape of a
restored state, the schedules, and ``clip_grad_norm_``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.optim import lr_scheduler
from chainrule.optim.optimizer import check_setting

OPTIMISERS = [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam, optim.AdamW]


def _param(shape: tuple[int, ...] = (3,), dtype: Any = np.float64) -> nn.Parameter:
    return nn.Parameter(np.linspace(-1.0, 1.0, math.prod(shape)).reshape(shape).astype(dtype))


def _plain(name: str) -> Callable[[Any], dict[str, Any]]:
    def settings(value: Any) -> dict[str, Any]:
        return {name: value}

    return settings


def _beta(position: int) -> Callable[[Any], dict[str, Any]]:
    def settings(value: Any) -> dict[str, Any]:
        betas = [0.9, 0.999]
        betas[position] = value
        return {"betas": tuple(betas)}

    return settings


# (optimiser, setting as the message names it, settings that put the value there,
#  values out of range, values at the edge of the range that are accepted)
Settings = Callable[[Any], dict[str, Any]]
NUMBERS: list[tuple[type[optim.Optimizer], str, Settings, list[Any], list[Any]]] = []
for _cls in OPTIMISERS:
    NUMBERS.append((_cls, "lr", _plain("lr"), [-1e-3], [0, 10.0]))
    NUMBERS.append((_cls, "weight_decay", _plain("weight_decay"), [-0.1], [0, 5.0]))
NUMBERS += [
    # As PyTorch: momentum has no upper bound.
    (optim.SGD, "momentum", _plain("momentum"), [-0.5], [0, 0.99, 1.5]),
    (optim.SGD, "dampening", _plain("dampening"), [-0.1, 1.0, 2.0], [0, 0.5]),
    (optim.Adagrad, "lr_decay", _plain("lr_decay"), [-0.1], [0, 3.0]),
    (
        optim.Adagrad,
        "initial_accumulator_value",
        _plain("initial_accumulator_value"),
        [-0.1],
        [0, 0.1],
    ),
    (optim.Adagrad, "eps", _plain("eps"), [-1e-10], [0, 1e-3]),
    (optim.RMSprop, "alpha", _plain("alpha"), [-0.1, 1.01], [0, 1]),
    (optim.RMSprop, "eps", _plain("eps"), [-1e-8], [0, 1e-3]),
    (optim.RMSprop, "momentum", _plain("momentum"), [-0.9], [0, 0.9]),
]
for _cls in (optim.Adam, optim.AdamW):
    NUMBERS += [
        (_cls, "eps", _plain("eps"), [-1e-8], [0, 1e-3]),
        (_cls, "betas[0]", _beta(0), [-0.1, 1.0, 1.5], [0, 0.999]),
        (_cls, "betas[1]", _beta(1), [-0.1, 1.0], [0, 0.5]),
    ]
NUMBER_IDS = [f"{cls.__name__}-{label}" for cls, label, *_ in NUMBERS]
NUMBER_ARGS = [(cls, label, make) for cls, label, make, *_ in NUMBERS]

FLAGS = [(optim.SGD, "nesterov"), (optim.RMSprop, "centered")]
FLAGS += [(cls, "amsgrad") for cls in (optim.Adam, optim.AdamW)]


def _switched(name: str, value: Any) -> dict[str, Any]:
    """The switch ``name`` set to ``value``, with the momentum Nesterov needs."""
    return {name: value, "momentum": 0.9} if name == "nesterov" else {name: value}


def test_every_setting_of_every_optimiser_has_a_case() -> None:
    """A new setting (number or switch) without a case in these tables fails this test."""
    covered = {(cls, label.split("[")[0]) for cls, label, *_ in NUMBERS}
    covered |= set(FLAGS)
    for cls in OPTIMISERS:
        for name in cls([_param()]).defaults:
            assert (cls, name) in covered, (cls.__name__, name)


# --------------------------------------------------------------- a number's type
BAD_TYPES = ["0.1", True, False, None, [0.1], np.array(0.1), np.bool_(True), 0.1 + 0j]


@pytest.mark.parametrize("bad", BAD_TYPES, ids=repr)
@pytest.mark.parametrize(("cls", "label", "make"), NUMBER_ARGS, ids=NUMBER_IDS)
def test_a_setting_that_is_not_a_real_number_is_a_type_error(
    cls: type[optim.Optimizer], label: str, make: Callable[[Any], dict[str, Any]], bad: Any
) -> None:
    """Strings, bools, None, lists, arrays and complex numbers are refused by name."""
    got = "None" if bad is None else f"{type(bad).__name__} "
    expected = f"{cls.__name__}: {label} must be a real number, got {got}"
    with pytest.raises(TypeError, match="^" + re.escape(expected)):
        cls([_param()], **make(bad))


def test_the_type_error_names_the_class_the_setting_and_the_value() -> None:
    with pytest.raises(TypeError) as caught:
        optim.Adam([_param()], lr="0.1")  # type: ignore[arg-type]
    assert str(caught.value) == "Adam: lr must be a real number, got str '0.1'"


@pytest.mark.parametrize(
    "good", [1, np.float32(0.5), np.float64(0.5), np.int64(1)], ids=lambda v: type(v).__name__
)
def test_ints_and_numpy_real_scalars_are_accepted(good: Any) -> None:
    """A NumPy scalar lr (from a config or an array) steps exactly as the same Python float."""
    p, q = _param(), _param()
    numpy_settings: dict[str, Any] = {"betas": (np.float32(0.5), 0.9), "eps": np.float64(1e-8)}
    ours = optim.Adam([p], lr=good, **numpy_settings)
    plain = optim.Adam([q], lr=float(good), betas=(0.5, 0.9), eps=1e-8)
    for opt, w in ((ours, p), (plain, q)):
        w.grad = cr.tensor(np.array([1.0, -2.0, 0.5]))
        opt.step()
    np.testing.assert_array_equal(p.data, q.data)


# ---------------------------------------------------------------------- finiteness
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, np.float32(np.inf)], ids=str)
@pytest.mark.parametrize(("cls", "label", "make"), NUMBER_ARGS, ids=NUMBER_IDS)
def test_an_infinite_or_nan_setting_is_a_value_error(
    cls: type[optim.Optimizer], label: str, make: Callable[[Any], dict[str, Any]], bad: Any
) -> None:
    expected = f"{cls.__name__}: {label} must be finite, got {bad}"
    with pytest.raises(ValueError, match="^" + re.escape(expected) + "$"):
        cls([_param()], **make(bad))


def test_the_finiteness_message() -> None:
    with pytest.raises(ValueError) as caught:
        optim.Adam([_param()], lr=float("inf"))
    assert str(caught.value) == "Adam: lr must be finite, got inf"


# --------------------------------------------------------------------------- ranges
OUT_OF_RANGE = [(cls, label, make, bad) for cls, label, make, bads, _ in NUMBERS for bad in bads]
AT_THE_EDGE = [(cls, label, make, good) for cls, label, make, _, goods in NUMBERS for good in goods]


@pytest.mark.parametrize(
    ("cls", "label", "make", "bad"),
    OUT_OF_RANGE,
    ids=[f"{c.__name__}-{label}={bad}" for c, label, _, bad in OUT_OF_RANGE],
)
def test_a_setting_out_of_range_is_a_value_error_that_states_the_range(
    cls: type[optim.Optimizer], label: str, make: Callable[[Any], dict[str, Any]], bad: Any
) -> None:
    pattern = rf"^{cls.__name__}: {re.escape(label)} must be (>= \S+|in \S+, \S+), got {bad}$"
    with pytest.raises(ValueError, match=pattern):
        cls([_param()], **make(bad))


@pytest.mark.parametrize(
    ("cls", "label", "make", "good"),
    AT_THE_EDGE,
    ids=[f"{c.__name__}-{label}={good}" for c, label, _, good in AT_THE_EDGE],
)
def test_a_setting_at_the_edge_of_its_range_is_accepted(
    cls: type[optim.Optimizer], label: str, make: Callable[[Any], dict[str, Any]], good: Any
) -> None:
    p = _param()
    opt = cls([p], **make(good))
    p.grad = cr.tensor(np.ones(3))
    opt.step()


@pytest.mark.parametrize(
    ("cls", "settings", "message"),
    [
        (optim.Adam, {"betas": (1.0, 0.999)}, "Adam: betas[0] must be in [0, 1), got 1.0"),
        (optim.RMSprop, {"alpha": 1.5}, "RMSprop: alpha must be in [0, 1], got 1.5"),
        (optim.SGD, {"lr": -0.1}, "SGD: lr must be >= 0, got -0.1"),
        (optim.SGD, {"dampening": 1}, "SGD: dampening must be in [0, 1), got 1"),
    ],
    ids=["half-open", "closed", "lower-bound", "int"],
)
def test_range_messages(cls: type, settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        cls([_param()], **settings)
    assert str(caught.value) == message


@pytest.mark.parametrize("bad", [0.9, (0.9,), (0.9, 0.99, 0.999), "ab", None], ids=repr)
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW], ids=lambda c: c.__name__)
def test_betas_must_be_a_pair(cls: type, bad: Any) -> None:
    with pytest.raises(TypeError, match=f"^{cls.__name__}: betas must be a pair"):
        cls([_param()], betas=bad)


def test_betas_given_as_a_list_become_a_tuple() -> None:
    betas: Any = [0.8, 0.9]
    assert optim.Adam([_param()], betas=betas).param_groups[0]["betas"] == (0.8, 0.9)


def _as_numpy(value: Any) -> Any:
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, tuple):
        return tuple(np.float32(v) for v in value)
    return np.float32(value)


@pytest.mark.parametrize("cls", OPTIMISERS, ids=lambda c: c.__name__)
def test_numpy_scalars_are_stored_as_python_numbers(cls: type) -> None:
    """So that settings print plainly and a checkpoint's JSON header can hold them."""
    defaults = cls([_param()]).defaults
    numpy_settings = {name: _as_numpy(value) for name, value in defaults.items()}
    group = cls([_param()], **numpy_settings).param_groups[0]
    for name, value in group.items():
        if name != "params":
            assert not isinstance(value, np.generic), name
            assert all(not isinstance(v, np.generic) for v in np.atleast_1d(value).tolist())
            assert value == defaults[name] or np.allclose(value, defaults[name], rtol=1e-7)
    json.dumps(cls([_param()], **numpy_settings).state_dict()["param_groups"])


# ------------------------------------------------------------------------- switches
@pytest.mark.parametrize("bad", [1, 0, "False", None, 1.0], ids=repr)
@pytest.mark.parametrize(("cls", "name"), FLAGS, ids=[f"{c.__name__}-{n}" for c, n in FLAGS])
def test_a_switch_must_be_a_bool(cls: type, name: str, bad: Any) -> None:
    got = "None" if bad is None else f"{type(bad).__name__} {bad!r}"
    expected = f"{cls.__name__}: {name} must be True or False, got {got}"
    with pytest.raises(TypeError, match="^" + re.escape(expected)):
        cls([_param()], **_switched(name, bad))


@pytest.mark.parametrize(("cls", "name"), FLAGS, ids=[f"{c.__name__}-{n}" for c, n in FLAGS])
def test_a_numpy_bool_switch_is_accepted(cls: type, name: str) -> None:
    assert cls([_param()], **_switched(name, np.bool_(True))).param_groups[0][name] is True


@pytest.mark.parametrize(
    "settings",
    [
        {"nesterov": True},
        {"nesterov": True, "momentum": 0.0},
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
    ],
    ids=["no-momentum", "zero-momentum", "dampening"],
)
def test_nesterov_needs_momentum_and_no_dampening(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="^SGD: Nesterov momentum needs momentum > 0"):
        optim.SGD([_param()], **settings)


# ----------------------------------------------------------------- the params given
@pytest.mark.parametrize("cls", OPTIMISERS, ids=lambda c: c.__name__)
def test_a_model_instead_of_its_parameters_says_what_to_pass(cls: type) -> None:
    model = nn.Linear(2, 1, dtype=np.float64)
    with pytest.raises(TypeError, match=r"pass model\.parameters\(\), not the model"):
        cls(model)
    with pytest.raises(TypeError, match=r"pass model\.parameters\(\), not the model"):
        cls([{"params": model}])


@pytest.mark.parametrize("cls", OPTIMISERS, ids=lambda c: c.__name__)
def test_a_single_tensor_must_be_put_in_a_list(cls: type) -> None:
    with pytest.raises(TypeError, match=r"single Tensor; pass a list such as \[p\]"):
        cls(_param((2, 3)))


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        ({"weight": None}, r"params is a dict; pass an iterable of Tensors"),
        (0.1, r"params must be an iterable of Tensors .* got float 0\.1"),
        (None, r"params must be an iterable of Tensors .* got None"),
        ("weights", r"params must be an iterable .* got str 'weights'"),
    ],
    ids=["dict", "float", "None", "str"],
)
@pytest.mark.parametrize("cls", OPTIMISERS, ids=lambda c: c.__name__)
def test_params_of_the_wrong_kind_are_a_type_error(cls: type, params: Any, pattern: str) -> None:
    with pytest.raises(TypeError, match=pattern):
        cls(params)


def test_a_set_of_parameters_is_refused_because_its_order_changes() -> None:
    with pytest.raises(TypeError, match="is a set, whose order changes"):
        optim.SGD({_param(), _param()}, lr=0.1)


def test_a_generator_of_arrays_says_to_pass_the_parameters() -> None:
    model = nn.Linear(2, 1, dtype=np.float64)
    with pytest.raises(TypeError, match=r"parameter 0 is a ndarray, not a Tensor \(pass the"):
        optim.SGD((p.data for p in model.parameters()), lr=0.1)


def test_named_parameters_say_to_pass_parameters() -> None:
    model = nn.Linear(2, 1, dtype=np.float64)
    with pytest.raises(TypeError, match=r"not model\.named_parameters\(\)"):
        optim.SGD(model.named_parameters(), lr=0.1)


@pytest.mark.parametrize(
    ("params", "error", "pattern"),
    [
        ([{"params": [_param()]}, _param()], TypeError, "mixes param-group dicts and Tensors"),
        ([_param(), {"params": [_param()]}], TypeError, "mixes param-group dicts and Tensors"),
        ([{"lr": 0.1}], ValueError, r"needs a 'params' entry, got the keys \['lr'\]"),
        ([{"params": {"w": _param()}}], TypeError, "the group's 'params' is a dict"),
        ([{"params": 3}], TypeError, "the group's 'params' must be an iterable"),
    ],
    ids=["group-then-tensor", "tensor-then-group", "no-params", "params-dict", "params-int"],
)
def test_param_groups_of_the_wrong_form(params: Any, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        optim.Adam(params)


def test_add_param_group_needs_a_dict() -> None:
    opt = optim.SGD([_param()], lr=0.1)
    with pytest.raises(TypeError, match="a param group must be a dict"):
        opt.add_param_group([_param()])  # type: ignore[arg-type]


# ----------------------------------------------- groups added later or restored
@pytest.mark.parametrize("cls", OPTIMISERS, ids=lambda c: c.__name__)
def test_groups_given_to_the_constructor_are_checked(cls: type) -> None:
    with pytest.raises(TypeError, match=f"^{cls.__name__}: lr must be a real number"):
        cls([{"params": [_param()]}, {"params": [_param()], "lr": "0.1"}])


@pytest.mark.parametrize("cls", OPTIMISERS, ids=lambda c: c.__name__)
def test_a_group_added_later_is_checked_and_nothing_changes_when_refused(cls: type) -> None:
    opt = cls([_param()])
    with pytest.raises(ValueError, match=f"^{cls.__name__}: lr must be finite, got inf"):
        opt.add_param_group({"params": [_param()], "lr": math.inf})
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        opt.add_param_group({"params": [_param()], "weight_decay": -1.0})
    assert len(opt.param_groups) == 1 and len(opt.state) == 1


def _stepped(cls: type, p: nn.Parameter, **settings: Any) -> optim.Optimizer:
    opt: optim.Optimizer = cls([p], **settings)
    p.grad = cr.tensor(np.ones(p.shape, dtype=p.dtype))
    opt.step()
    return opt


@pytest.mark.parametrize("bad", [math.inf, math.nan, -1.0, "0.1"], ids=repr)
@pytest.mark.parametrize("cls", OPTIMISERS, ids=lambda c: c.__name__)
def test_a_restored_group_with_a_bad_lr_is_refused_and_nothing_changes(cls: type, bad: Any) -> None:
    saved = _stepped(cls, _param(), lr=0.5).state_dict()
    saved["param_groups"][0]["lr"] = bad
    opt = _stepped(cls, _param(), lr=0.25)
    before = opt.state_dict()
    with pytest.raises((TypeError, ValueError), match=f"^{cls.__name__}: lr must be"):
        opt.load_state_dict(saved)
    assert opt.param_groups[0]["lr"] == 0.25
    assert opt.state_dict()["state"].keys() == before["state"].keys()
    for key, value in before["state"][0].items():
        np.testing.assert_array_equal(opt.state[0][key], value)


def test_a_restored_group_with_a_bad_setting_of_its_own_is_refused() -> None:
    saved = _stepped(optim.Adam, _param()).state_dict()
    saved["param_groups"][0]["betas"] = (0.9, 1.0)
    with pytest.raises(ValueError, match=r"Adam: betas\[1\] must be in \[0, 1\)"):
        optim.Adam([_param()]).load_state_dict(saved)


def test_a_restored_initial_lr_is_checked() -> None:
    saved = _stepped(optim.SGD, _param(), lr=0.5).state_dict()
    saved["param_groups"][0]["initial_lr"] = math.inf
    with pytest.raises(ValueError, match="SGD: initial_lr must be finite"):
        optim.SGD([_param()], lr=0.5).load_state_dict(saved)


def test_editing_a_group_by_hand_is_not_checked() -> None:
    """Schedules and users set param_groups[i]['lr'] directly; the step takes what is there."""
    p = _param()
    opt = optim.SGD([p], lr=0.1)
    opt.param_groups[0]["lr"] = np.float32(2.0)
    p.grad = cr.tensor(np.ones(3))
    opt.step()
    np.testing.assert_allclose(p.data, _param().data - 2.0)


# ---------------------------------------------- the shape of a restored state
STATEFUL = [
    (optim.SGD, {"momentum": 0.9}),
    (optim.Adagrad, {}),
    (optim.RMSprop, {"momentum": 0.9, "centered": True}),
    (optim.Adam, {"amsgrad": True}),
    (optim.AdamW, {}),
]
STATEFUL_IDS = [cls.__name__ for cls, _ in STATEFUL]


@pytest.mark.parametrize(("cls", "settings"), STATEFUL, ids=STATEFUL_IDS)
def test_state_of_another_shape_names_the_parameter_and_both_shapes(
    cls: type, settings: dict[str, Any]
) -> None:
    """A (1,) state broadcasts against a (3,) parameter: it must fail here, not in step()."""
    saved = _stepped(cls, _param((1,)), **settings).state_dict()
    saved["param_groups"][0]["params"] = [0, 1]
    saved["state"] = {1: saved["state"][0]}
    opt = cls([_param((3,)), _param((3,))], **settings)
    pattern = r"of parameter 1 is a float64 array of shape \(1,\), the parameter a float64 array"
    with pytest.raises(ValueError, match=pattern + r" of shape \(3,\)"):
        opt.load_state_dict(saved)


@pytest.mark.parametrize(("cls", "settings"), STATEFUL, ids=STATEFUL_IDS)
def test_state_of_another_dtype_is_refused(cls: type, settings: dict[str, Any]) -> None:
    saved = _stepped(cls, _param(), **settings).state_dict()
    for entry in saved["state"].values():
        for key, value in entry.items():
            if isinstance(value, np.ndarray):
                entry[key] = value.astype(np.float32)
    opt = cls([_param()], **settings)
    pattern = r"of parameter 0 is a float32 array of shape \(3,\), the parameter a float64"
    with pytest.raises(ValueError, match=pattern):
        opt.load_state_dict(saved)


@pytest.mark.parametrize("cls", OPTIMISERS, ids=lambda c: c.__name__)
def test_another_number_of_groups_is_refused(cls: type) -> None:
    saved = _stepped(cls, _param()).state_dict()
    opt = cls([{"params": [_param()]}, {"params": [_param()]}])
    with pytest.raises(ValueError, match=r"groups of sizes \[1\], this optimiser \[1, 1\]"):
        opt.load_state_dict(saved)


@pytest.mark.parametrize(
    ("edit", "error", "pattern"),
    [
        (lambda s: s["state"].update({5: s["state"][0]}), ValueError, "state for parameter 5"),
        (lambda s: s["state"].update({-1: s["state"][0]}), ValueError, "parameter -1"),
        (lambda s: s["state"].update({"w": {}}), ValueError, "state key 'w' is not a param"),
        (lambda s: s["state"].update({0: [1]}), TypeError, "state of parameter 0 must be"),
        (lambda s: s["state"][0].update(step=-1), ValueError, "'step' of parameter 0 must be"),
        (lambda s: s["state"][0].update(step=2.0), TypeError, "'step' of parameter 0 must be"),
        (
            lambda s: s["state"][0].update(exp_avg=[0.0, 0.0, 0.0]),
            ValueError,
            "state 'exp_avg' of parameter 0 is a list, not an array",
        ),
        (lambda s: s.pop("state"), ValueError, "the state dict has no 'state'"),
        (lambda s: s.update(param_groups={}), TypeError, "'param_groups' must be a list"),
        (lambda s: s.update(state=[]), TypeError, "'state' must be a dict"),
    ],
    ids=[
        "index-too-large",
        "index-negative",
        "index-not-a-number",
        "entry-not-a-dict",
        "negative-step",
        "float-step",
        "list-instead-of-array",
        "no-state",
        "groups-not-a-list",
        "state-not-a-dict",
    ],
)
def test_a_malformed_state_dict_is_refused(
    edit: Callable[[dict[str, Any]], Any], error: type, pattern: str
) -> None:
    saved = _stepped(optim.Adam, _param()).state_dict()
    edit(saved)
    with pytest.raises(error, match=pattern):
        optim.Adam([_param()]).load_state_dict(saved)


def test_state_indices_written_as_strings_are_read() -> None:
    """A checkpoint's JSON keeps the parameter indices as strings."""
    p = _param()
    opt = _stepped(optim.Adam, p)
    saved = opt.state_dict()
    saved["state"] = {str(k): v for k, v in saved["state"].items()}
    fresh = optim.Adam([_param()])
    fresh.load_state_dict(saved)
    np.testing.assert_array_equal(fresh.state[0]["exp_avg"], opt.state[0]["exp_avg"])


def test_a_float32_state_loads_into_float32_parameters() -> None:
    saved = _stepped(optim.Adam, _param(dtype=np.float32)).state_dict()
    fresh = optim.Adam([_param(dtype=np.float32)])
    fresh.load_state_dict(saved)
    assert fresh.state[0]["exp_avg"].dtype == np.float32


# ------------------------------------------------------------------------- schedules
def _opt() -> optim.Optimizer:
    return optim.SGD([_param()], lr=0.1)


SCHEDULES: list[tuple[str, str, Callable[[optim.Optimizer, Any], Any], list[Any], list[Any]]]
SCHEDULES = [
    (
        "StepLR",
        "step_size",
        lambda o, v: lr_scheduler.StepLR(o, step_size=v),
        ["2", True, 2.0, None],
        [0, -1],
    ),
    ("StepLR", "gamma", lambda o, v: lr_scheduler.StepLR(o, 2, gamma=v), ["0.1", True], [0, -0.5]),
    ("ExponentialLR", "gamma", lambda o, v: lr_scheduler.ExponentialLR(o, v), ["0.9"], [0, -1]),
    (
        "CosineAnnealingLR",
        "T_max",
        lambda o, v: lr_scheduler.CosineAnnealingLR(o, v),
        ["10", 10.0, math.inf],
        [0, -3],
    ),
    (
        "CosineAnnealingLR",
        "eta_min",
        lambda o, v: lr_scheduler.CosineAnnealingLR(o, 10, eta_min=v),
        ["0", None],
        [-0.01],
    ),
    ("InverseTimeLR", "k", lambda o, v: lr_scheduler.InverseTimeLR(o, v), ["0.5", True], [-0.1]),
    (
        "StepLR",
        "last_epoch",
        lambda o, v: lr_scheduler.StepLR(o, 2, last_epoch=v),
        ["0", 1.5, None],
        [-2],
    ),
    (
        "ExponentialLR",
        "last_epoch",
        lambda o, v: lr_scheduler.ExponentialLR(o, 0.9, last_epoch=v),
        [0.0],
        [-5],
    ),
    (
        "CosineAnnealingLR",
        "last_epoch",
        lambda o, v: lr_scheduler.CosineAnnealingLR(o, 10, last_epoch=v),
        ["-1"],
        [-2],
    ),
    (
        "InverseTimeLR",
        "last_epoch",
        lambda o, v: lr_scheduler.InverseTimeLR(o, 0.5, last_epoch=v),
        [False],
        [-2],
    ),
]
SCHEDULE_TYPES = [(o, n, make, bad) for o, n, make, bads, _ in SCHEDULES for bad in bads]
SCHEDULE_RANGES = [(o, n, make, bad) for o, n, make, _, bads in SCHEDULES for bad in bads]
REAL_SCHEDULE_SETTINGS = [
    (o, n, make) for o, n, make, *_ in SCHEDULES if n in ("gamma", "eta_min", "k")
]


@pytest.mark.parametrize(
    ("owner", "name", "make", "bad"),
    SCHEDULE_TYPES,
    ids=[f"{o}-{n}={b!r}" for o, n, _, b in SCHEDULE_TYPES],
)
def test_a_schedule_setting_of_the_wrong_type_is_a_type_error(
    owner: str, name: str, make: Callable[..., Any], bad: Any
) -> None:
    """Periods and last_epoch are integers (2.0 too is refused); the rest real numbers."""
    opt = _opt()
    with pytest.raises(TypeError, match=rf"^{owner}: {name} must be (a real number|an integer)"):
        make(opt, bad)
    assert "initial_lr" not in opt.param_groups[0]


@pytest.mark.parametrize(
    ("owner", "name", "make", "bad"),
    SCHEDULE_RANGES,
    ids=[f"{o}-{n}={b!r}" for o, n, _, b in SCHEDULE_RANGES],
)
def test_a_schedule_setting_out_of_range_is_a_value_error(
    owner: str, name: str, make: Callable[..., Any], bad: Any
) -> None:
    opt = _opt()
    with pytest.raises(ValueError, match=rf"^{owner}: {name} must be (>|>=) \S+, got {bad}$"):
        make(opt, bad)
    assert opt.param_groups[0]["lr"] == 0.1 and "initial_lr" not in opt.param_groups[0]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan], ids=str)
@pytest.mark.parametrize(
    ("owner", "name", "make"),
    REAL_SCHEDULE_SETTINGS,
    ids=[f"{o}-{n}" for o, n, _ in REAL_SCHEDULE_SETTINGS],
)
def test_an_infinite_schedule_setting_is_a_value_error(
    owner: str, name: str, make: Callable[..., Any], bad: Any
) -> None:
    with pytest.raises(ValueError, match=rf"^{owner}: {name} must be finite, got {bad}$"):
        make(_opt(), bad)


def test_numpy_scalars_are_accepted_by_the_schedules() -> None:
    three: Any = np.int64(3)
    half: Any = np.float32(0.5)
    step = lr_scheduler.StepLR(_opt(), step_size=three, gamma=half)
    cosine = lr_scheduler.CosineAnnealingLR(_opt(), T_max=three, eta_min=half / 10)
    assert type(step.step_size) is int and type(step.gamma) is float
    assert type(cosine.T_max) is int and type(cosine.eta_min) is float


def test_a_schedule_needs_an_optimizer() -> None:
    with pytest.raises(TypeError, match="^StepLR: optimizer must be an Optimizer, got list"):
        lr_scheduler.StepLR([_param()], step_size=2)  # type: ignore[arg-type]


def test_resuming_a_schedule_without_initial_lr_says_why() -> None:
    opt = _opt()
    with pytest.raises(ValueError, match=r"last_epoch=3 needs 'initial_lr' in param group 0"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)
    lr_scheduler.StepLR(opt, step_size=2)
    resumed = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5, last_epoch=3)
    assert resumed.get_last_lr() == [pytest.approx(0.1 * 0.5**2)]


# ------------------------------------------------------------------------- clipping
def _with_grad(values: list[float]) -> nn.Parameter:
    p = _param((len(values),))
    p.grad = cr.tensor(np.array(values))
    return p


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"max_norm": "1.0"}, TypeError, "max_norm must be a real number, got str '1.0'"),
        ({"max_norm": True}, TypeError, "max_norm must be a real number, got bool True"),
        ({"max_norm": None}, TypeError, "max_norm must be a real number, got None"),
        ({"max_norm": math.inf}, ValueError, "max_norm must be finite, got inf"),
        ({"max_norm": math.nan}, ValueError, "max_norm must be finite, got nan"),
        ({"max_norm": -1.0}, ValueError, "max_norm must be >= 0, got -1.0"),
        (
            {"max_norm": 1.0, "norm_type": "inf"},
            TypeError,
            "norm_type must be a real number, got str 'inf'",
        ),
        ({"max_norm": 1.0, "norm_type": 0}, ValueError, "norm_type must be > 0, got 0"),
        ({"max_norm": 1.0, "norm_type": -2.0}, ValueError, "norm_type must be > 0, got -2.0"),
        ({"max_norm": 1.0, "norm_type": math.nan}, ValueError, "norm_type must be > 0, got nan"),
        ({"max_norm": 1.0, "norm_type": -math.inf}, ValueError, "norm_type must be > 0, got -inf"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else "",
)
def test_clip_settings_are_checked(settings: dict[str, Any], error: type, message: str) -> None:
    p = _with_grad([3.0, 4.0])
    with pytest.raises(error) as caught:
        optim.clip_grad_norm_([p], **settings)
    assert str(caught.value) == "clip_grad_norm_: " + message
    assert p.grad is not None
    np.testing.assert_array_equal(p.grad.data, [3.0, 4.0])


def test_clip_accepts_an_infinite_norm_type_and_numpy_scalars() -> None:
    p = _with_grad([3.0, -4.0])
    one: Any = np.float32(1.0)
    assert optim.clip_grad_norm_([p], one, norm_type=np.float64(np.inf)) == 4.0


def test_clip_accepts_a_single_tensor() -> None:
    """As PyTorch; iterating a Tensor would walk its rows, which have no gradient."""
    p = _with_grad([3.0, 4.0])
    assert optim.clip_grad_norm_(p, max_norm=1.0) == pytest.approx(5.0)
    assert p.grad is not None
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-5)


def test_clip_refuses_a_model_and_non_tensors() -> None:
    model = nn.Linear(2, 1, dtype=np.float64)
    with pytest.raises(TypeError, match=r"^clip_grad_norm_: params is a Linear model; pass mod"):
        optim.clip_grad_norm_(model, max_norm=1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"parameter 0 is a ndarray, not a Tensor \(pass the"):
        optim.clip_grad_norm_([np.ones(2)], max_norm=1.0)  # type: ignore[list-item]


# ----------------------------------------------------------------------- the helper
@pytest.mark.parametrize(
    ("bounds", "value", "message"),
    [
        ({"above": 0, "below": 1}, 1, "in (0, 1)"),
        ({"above": 0, "at_most": 1}, 2, "in (0, 1]"),
        ({"at_most": 1}, 2, "<= 1"),
        ({"below": 0.5}, 2, "< 0.5"),
        ({"at_least": 1e-3}, 0, ">= 0.001"),
    ],
    ids=str,
)
def test_check_setting_states_every_kind_of_range(
    bounds: dict[str, Any], value: float, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        check_setting("Owner", "x", value, **bounds)
    assert str(caught.value) == f"Owner: x must be {message}, got {value}"


def test_check_setting_refuses_a_float_where_an_integer_is_wanted() -> None:
    with pytest.raises(TypeError, match="^Owner: n must be an integer, got float 2.0$"):
        check_setting("Owner", "n", 2.0, integer=True)
    check_setting("Owner", "n", np.int32(2), integer=True, at_least=1)


def test_sgd_settings_after_momentum_are_keyword_only() -> None:
    w = cr.tensor([0.0], requires_grad=True)
    with pytest.raises(TypeError):
        optim.SGD([w], 0.1, 0.9, True)  # type: ignore[misc]
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="lr must be finite"):
        optim.SGD([w], lr=float("nan"))
