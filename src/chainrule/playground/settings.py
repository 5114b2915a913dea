"""The playground's configuration: what the page may ask for, checked key by key.

Every setting arrives from a browser page (and from the URL a user pasted), so each is checked
for its type and range here, and a bad one is refused with a message naming the key; nothing the
page sends reaches the library unchecked.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = [
    "ACTIVATIONS",
    "CLASSIFICATION_SETS",
    "DATASETS",
    "FEATURES",
    "LOSSES",
    "MAX_LAYERS",
    "MAX_NEURONS",
    "MAX_POINTS",
    "OPTIMIZERS",
    "REGRESSION_SETS",
    "Settings",
    "SettingsError",
]

CLASSIFICATION_SETS = (
    "circle",
    "xor",
    "gauss",
    "spiral",
    "moons",
    "blobs",
    "separable",
    "elongated",
)
REGRESSION_SETS = ("plane", "gauss-regression")
DATASETS = (*CLASSIFICATION_SETS, *REGRESSION_SETS, "own")
MODELS = ("mlp", "perceptron", "nearest-mean")
FEATURES = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
ACTIVATIONS = ("tanh", "relu", "sigmoid", "leaky_relu", "identity", "step", "sign")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
LOSSES = ("cross-entropy", "bce", "squared", "hinge")
INITS = ("xavier", "he", "normal")
REGULARISERS = ("none", "l1", "l2", "elastic")

MAX_LAYERS = 8
MAX_NEURONS = 16
MAX_POINTS = 2000
MAX_CLASSES = 6


class SettingsError(ValueError):
    """A setting the playground cannot use; the message names the key and the allowed values."""


@dataclass(frozen=True)
class Settings:
    """One tab's configuration (the keys of docs/playground.md, in the page's spelling)."""

    model: str = "mlp"
    dataset: str = "circle"
    classes: int = 2
    points: int = 500
    noise: float = 0.0
    trainRatio: float = 50.0  # noqa: N815 - the page's and the URL's key
    batch: int = 10
    features: tuple[str, ...] = ("x1", "x2")
    hidden: tuple[int, ...] = (4, 2)
    activations: tuple[str, ...] = ("tanh", "tanh")
    lr: float = 0.03
    optimizer: str = "sgd"
    loss: str = "cross-entropy"
    init: str = "xavier"
    reg: str = "none"
    regRate: float = 0.0  # noqa: N815
    maxNorm: float = 0.0  # noqa: N815
    seed: int = 1

    def to_mapping(self) -> dict[str, Any]:
        """The settings as JSON-ready data (lists for tuples)."""
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @property
    def problem(self) -> str:
        """'regression' for the regression data sets, else 'classification' (own data may be
        either: the session decides from its points)."""
        return "regression" if self.dataset in REGRESSION_SETS else "classification"

    @property
    def known_classes(self) -> int:
        """The number of classes the generated data set has (own data: counted by the session)."""
        return self.classes if self.dataset in ("blobs", "spiral") else 2

    def updated(self, changes: Any) -> Settings:
        """These settings with ``changes`` (a mapping of keys from the page) applied and
        checked; raises SettingsError naming the first bad key."""
        if not isinstance(changes, dict):
            raise SettingsError("settings: expected an object of keys and values")
        known = {f.name for f in fields(self)}
        unknown = sorted(str(k)[:40] for k in changes if k not in known)
        if unknown:
            raise SettingsError(
                f"settings: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(known))}"
            )
        values = {key: _CHECKS[key](changes[key]) for key in changes}
        if "hidden" in values and "activations" not in values:
            values["activations"] = _activations_for(
                values["hidden"], self.activations or ("tanh",)
            )
        result = replace(self, **values)
        return _consistent(result, changed=set(values))


def _activations_for(hidden: tuple[int, ...], previous: tuple[str, ...]) -> tuple[str, ...]:
    """One activation per hidden layer: the previous ones kept, new layers take the last."""
    last = previous[-1] if previous else "tanh"
    return tuple(previous[i] if i < len(previous) else last for i in range(len(hidden)))


def _consistent(settings: Settings, changed: set[str]) -> Settings:
    """Check what depends on several keys (the loss and the problem, the activations and the
    layers); adjust only what the page could not have meant otherwise."""
    if len(settings.activations) != len(settings.hidden):
        if "activations" in changed and len(settings.activations) == 1:
            settings = replace(settings, activations=settings.activations * len(settings.hidden))
        else:
            raise SettingsError(
                f"activations: give one per hidden layer ({len(settings.hidden)}), got "
                f"{len(settings.activations)}"
            )
    if (
        settings.dataset == "blobs"
        and {"dataset", "classes"} & changed == {"dataset"}
        and settings.classes == 2
        and settings.loss != "bce"
    ):
        settings = replace(settings, classes=3)  # blobs are the multi-class set: 3 to start
    if settings.problem == "regression" and settings.loss != "squared":
        if "loss" in changed:
            raise SettingsError(
                f"loss: {settings.loss} is a classification loss; the data set "
                f"{settings.dataset} is a regression problem, which takes squared"
            )
        settings = replace(settings, loss="squared")
    if settings.loss == "bce" and settings.known_classes > 2:
        raise SettingsError(
            f"loss: binary cross-entropy takes two classes; {settings.dataset} has "
            f"{settings.known_classes}: choose cross-entropy, squared or hinge"
        )
    if settings.model != "mlp" and settings.problem == "regression":
        raise SettingsError(
            f"model: the {settings.model} classifies; {settings.dataset} is a regression problem"
        )
    return settings


def _choice(name: str, allowed: tuple[str, ...]) -> Any:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in allowed:
            raise SettingsError(f"{name}: {_shown(value)} is not one of {', '.join(allowed)}")
        return value

    return check


def _integer(name: str, low: int, high: int) -> Any:
    def check(value: Any) -> int:
        number = _parsed_number(name, value)
        if not number.is_integer() or not low <= number <= high:
            raise SettingsError(
                f"{name}: must be a whole number from {low} to {high}, got {_shown(value)}"
            )
        return int(number)

    return check


def _real(name: str, low: float, high: float, *, low_open: bool = False) -> Any:
    def check(value: Any) -> float:
        number = _parsed_number(name, value)
        above = number > low if low_open else number >= low
        if not (above and number <= high):
            bracket = "(" if low_open else "["
            raise SettingsError(
                f"{name}: must be in {bracket}{low:g}, {high:g}], got {_shown(value)}"
            )
        return number

    return check


def _parsed_number(name: str, value: Any) -> float:
    """A finite number from a JSON number or a numeric string (the URL's values are text)."""
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a number, got {_shown(value)}")
    if isinstance(value, str) and len(value) <= 40:
        try:
            value = float(value)
        except ValueError:
            raise SettingsError(f"{name}: expected a number, got {_shown(value)}") from None
    if not isinstance(value, (int, float)):
        raise SettingsError(f"{name}: expected a number, got {_shown(value)}")
    number = float(value) if abs(value) < 1e300 else math.inf
    if not math.isfinite(number):
        raise SettingsError(f"{name}: expected a finite number, got {_shown(value)}")
    return number


def _list_of(name: str, item: Any, low: int, high: int) -> Any:
    def check(value: Any) -> tuple[Any, ...]:
        if isinstance(value, str):
            value = [] if value.strip() == "" else value.split(",")
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"{name}: expected a list, got {_shown(value)}")
        if not low <= len(value) <= high:
            raise SettingsError(f"{name}: give {low} to {high} values, got {len(value)}")
        return tuple(item(v.strip() if isinstance(v, str) else v) for v in value)

    return check


def _features(value: Any) -> tuple[str, ...]:
    chosen = _list_of("features", _choice("features", FEATURES), 1, len(FEATURES))(value)
    if len(set(chosen)) != len(chosen):
        raise SettingsError("features: a feature is listed twice")
    return tuple(f for f in FEATURES if f in chosen)


def _shown(value: Any) -> str:
    """A value as it can be shown in one line of an error (long values cut)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_CHECKS: dict[str, Any] = {
    "model": _choice("model", MODELS),
    "dataset": _choice("dataset", DATASETS),
    "classes": _integer("classes", 2, MAX_CLASSES),
    "points": _integer("points", 10, MAX_POINTS),
    "noise": _real("noise", 0, 50),
    "trainRatio": _real("trainRatio", 10, 90),
    "batch": _integer("batch", 1, 500),
    "features": _features,
    "hidden": _list_of("hidden", _integer("hidden", 1, MAX_NEURONS), 0, MAX_LAYERS),
    "activations": _list_of("activations", _choice("activations", ACTIVATIONS), 0, MAX_LAYERS),
    "lr": _real("lr", 0, 10, low_open=True),
    "optimizer": _choice("optimizer", OPTIMIZERS),
    "loss": _choice("loss", LOSSES),
    "init": _choice("init", INITS),
    "reg": _choice("reg", REGULARISERS),
    "regRate": _real("regRate", 0, 1),
    "maxNorm": _real("maxNorm", 0, 100),
    "seed": _integer("seed", 0, 2**31 - 1),
}
