"""The playground's settings (docs/playground.md, "Settings"): every key's range, the URL's
numeric strings, activations that follow the layers, and the checks across keys (the loss and
the problem, bce and the classes, the classic models and regression)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from chainrule.playground.settings import (
    ACTIVATIONS,
    DATASETS,
    FEATURES,
    Settings,
    SettingsError,
)

# Each refused change and the key its message must start with.
REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"hidden": [0]}, "hidden"),
    ({"hidden": [17]}, "hidden"),
    ({"hidden": [4, 0, 2]}, "hidden"),
    ({"hidden": [1] * 9}, "hidden"),
    ({"hidden": "4,0"}, "hidden"),
    ({"hidden": [2.5]}, "hidden"),
    ({"hidden": [True]}, "hidden"),
    ({"hidden": 4}, "hidden"),
    ({"hidden": {"a": 1}}, "hidden"),
    ({"lr": math.nan}, "lr"),
    ({"lr": "nan"}, "lr"),
    ({"lr": "NaN"}, "lr"),
    ({"lr": 0}, "lr"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -1}, "lr"),
    ({"lr": 1e309}, "lr"),  # the literal is infinity
    ({"lr": json.loads("1e309")}, "lr"),  # and so is the JSON number a page can send
    ({"lr": "1e309"}, "lr"),
    ({"lr": 10**309}, "lr"),  # an integer too large for a float
    ({"lr": -math.inf}, "lr"),
    ({"lr": "inf"}, "lr"),
    ({"lr": True}, "lr"),
    ({"lr": False}, "lr"),
    ({"lr": 10.000001}, "lr"),
    ({"lr": None}, "lr"),
    ({"lr": [0.1]}, "lr"),
    ({"lr": "fast"}, "lr"),
    ({"lr": "0" * 100 + "1"}, "lr"),  # a long string is not parsed
    ({"points": 10**6}, "points"),
    ({"points": 9}, "points"),
    ({"points": 2001}, "points"),
    ({"points": 100.5}, "points"),
    ({"points": "many"}, "points"),
    ({"classes": 1}, "classes"),
    ({"classes": 7}, "classes"),
    ({"noise": -1}, "noise"),
    ({"noise": 50.5}, "noise"),
    ({"trainRatio": 9.9}, "trainRatio"),
    ({"trainRatio": 91}, "trainRatio"),
    ({"batch": 0}, "batch"),
    ({"batch": 501}, "batch"),
    ({"features": []}, "features"),
    ({"features": ""}, "features"),
    ({"features": ["x3"]}, "features"),
    ({"features": ["x1", "x1"]}, "features"),
    ({"activations": ["softmax", "tanh"]}, "activations"),
    ({"activations": ["tanh", "tanh", "tanh"]}, "activations"),
    ({"optimizer": "lbfgs"}, "optimizer"),
    ({"loss": "l1"}, "loss"),
    ({"init": "zeros"}, "init"),
    ({"reg": "l3"}, "reg"),
    ({"regRate": 1.01}, "regRate"),
    ({"regRate": -0.1}, "regRate"),
    ({"maxNorm": 100.5}, "maxNorm"),
    ({"maxNorm": -1}, "maxNorm"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**31}, "seed"),
    ({"model": "svm"}, "model"),
    ({"model": None}, "model"),
    ({"dataset": "mnist"}, "dataset"),
    ({"dataset": ["xor"]}, "dataset"),
]


@pytest.mark.parametrize(("changes", "key"), REFUSED, ids=repr)
def test_out_of_range_values_are_refused_naming_the_key(changes: dict[str, Any], key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings().updated(changes)
    message = str(caught.value)
    assert message.startswith(f"{key}:"), message
    assert "\n" not in message
    assert len(message) < 300


def test_one_feature_is_accepted() -> None:
    assert Settings().updated({"features": "x1"}).features == ("x1",)


def test_unknown_key_is_refused_naming_it() -> None:
    with pytest.raises(SettingsError, match="learning_rate"):
        Settings().updated({"learning_rate": 0.1})
    with pytest.raises(SettingsError, match="colour"):
        Settings().updated({"lr": 0.1, "colour": "red"})


@pytest.mark.parametrize("changes", [None, [], ["lr", 0.1], "lr=0.1", 3, 0.5, True])
def test_a_non_object_is_refused(changes: Any) -> None:
    with pytest.raises(SettingsError, match="^settings:"):
        Settings().updated(changes)


def test_a_refused_change_applies_nothing() -> None:
    before = Settings()
    with pytest.raises(SettingsError):
        before.updated({"lr": 0.5, "points": 10**6})
    assert before == Settings()
    assert before.lr == 0.03


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        ({"points": 10}, "points", 10),
        ({"points": 2000}, "points", 2000),
        ({"points": 100.0}, "points", 100),
        ({"classes": 2}, "classes", 2),
        ({"classes": 6}, "classes", 6),
        ({"noise": 0}, "noise", 0.0),
        ({"noise": 50}, "noise", 50.0),
        ({"trainRatio": 10}, "trainRatio", 10.0),
        ({"trainRatio": 90}, "trainRatio", 90.0),
        ({"batch": 1}, "batch", 1),
        ({"batch": 500}, "batch", 500),
        ({"lr": 10}, "lr", 10.0),
        ({"lr": 1e-9}, "lr", 1e-9),
        ({"regRate": 1}, "regRate", 1.0),
        ({"maxNorm": 100}, "maxNorm", 100.0),
        ({"maxNorm": 0}, "maxNorm", 0.0),
        ({"seed": 0}, "seed", 0),
        ({"seed": 2**31 - 1}, "seed", 2**31 - 1),
        ({"hidden": [16] * 8}, "hidden", (16,) * 8),
        ({"hidden": []}, "hidden", ()),
    ],
    ids=repr,
)
def test_the_ends_of_each_range_are_accepted(
    changes: dict[str, Any], key: str, expected: Any
) -> None:
    value = getattr(Settings().updated(changes), key)
    assert value == expected
    assert type(value) is type(expected)


def test_numeric_strings_from_a_url_are_accepted() -> None:
    settings = Settings().updated(
        {
            "lr": "0.03",
            "hidden": "4,2",
            "points": "300",
            "noise": "12.5",
            "seed": "7",
            "trainRatio": "80",
        }
    )
    assert settings.lr == pytest.approx(0.03)
    assert isinstance(settings.lr, float)
    assert settings.hidden == (4, 2)
    assert settings.points == 300 and isinstance(settings.points, int)
    assert settings.noise == 12.5
    assert settings.seed == 7
    assert settings.trainRatio == 80.0
    assert Settings().updated({"hidden": " 8 , 3 , 1 "}).hidden == (8, 3, 1)
    assert Settings().updated({"hidden": ""}).hidden == ()
    assert Settings().updated({"activations": "relu"}).activations == ("relu", "relu")


def test_features_come_back_in_the_documented_order() -> None:
    chosen = Settings().updated({"features": ["sinx2", "x1", "x1x2"]}).features
    assert chosen == ("x1", "x1x2", "sinx2")
    assert Settings().updated({"features": "x2sq,x1sq"}).features == ("x1sq", "x2sq")
    assert Settings().updated({"features": list(reversed(FEATURES))}).features == FEATURES


def test_one_activation_given_is_replicated_over_the_layers() -> None:
    assert Settings().updated({"activations": ["relu"]}).activations == ("relu", "relu")
    both = Settings().updated({"hidden": [3, 3, 3], "activations": ["sigmoid"]})
    assert both.activations == ("sigmoid",) * 3
    exact = Settings().updated({"hidden": [5, 4], "activations": ["relu", "identity"]})
    assert exact.activations == ("relu", "identity")


def test_activations_follow_the_hidden_layers() -> None:
    start = Settings().updated({"hidden": [4, 4], "activations": ["relu", "sigmoid"]})
    grown = start.updated({"hidden": [4, 4, 3, 2]})
    assert grown.activations == ("relu", "sigmoid", "sigmoid", "sigmoid")
    shrunk = start.updated({"hidden": [6]})
    assert shrunk.activations == ("relu",)
    none = start.updated({"hidden": []})
    assert none.activations == ()
    # From no hidden layer back to some: the default activation.
    again = none.updated({"hidden": [2, 2]})
    assert again.activations == ("tanh", "tanh")
    assert len(again.activations) == len(again.hidden)


def test_activations_of_another_length_than_the_layers_are_refused() -> None:
    with pytest.raises(SettingsError, match="^activations:"):
        Settings().updated({"hidden": [2, 2, 2], "activations": ["relu", "tanh"]})


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_documented_activation_is_accepted(activation: str) -> None:
    assert Settings().updated({"activations": [activation]}).activations == (activation,) * 2


@pytest.mark.parametrize("dataset", ["plane", "gauss-regression"])
def test_a_regression_set_forces_the_squared_loss(dataset: str) -> None:
    settings = Settings().updated({"dataset": dataset})
    assert settings.loss == "squared"
    assert settings.problem == "regression"
    assert Settings(loss="hinge").updated({"dataset": dataset}).loss == "squared"


@pytest.mark.parametrize("loss", ["cross-entropy", "bce", "hinge"])
def test_a_classification_loss_named_for_a_regression_set_is_refused(loss: str) -> None:
    with pytest.raises(SettingsError, match="^loss:"):
        Settings().updated({"dataset": "plane", "loss": loss})
    regression = Settings().updated({"dataset": "gauss-regression"})
    with pytest.raises(SettingsError, match="^loss:"):
        regression.updated({"loss": loss})


def test_bce_with_more_than_two_classes_is_refused() -> None:
    with pytest.raises(SettingsError, match="^loss:"):
        Settings().updated({"dataset": "blobs", "classes": 3, "loss": "bce"})
    with pytest.raises(SettingsError, match="^loss:"):
        Settings(loss="bce").updated({"dataset": "spiral", "classes": 4})
    blobs = Settings().updated({"dataset": "blobs", "classes": 3})
    with pytest.raises(SettingsError, match="^loss:"):
        blobs.updated({"loss": "bce"})
    # Two classes take it.
    assert Settings().updated({"dataset": "blobs", "classes": 2, "loss": "bce"}).loss == "bce"
    # The class count matters only where the data set has it.
    assert Settings(classes=5).updated({"dataset": "xor", "loss": "bce"}).loss == "bce"


@pytest.mark.parametrize("model", ["perceptron", "nearest-mean"])
def test_a_classic_model_with_a_regression_set_is_refused(model: str) -> None:
    with pytest.raises(SettingsError, match="^model:"):
        Settings().updated({"model": model, "dataset": "plane"})
    with pytest.raises(SettingsError, match="^model:"):
        Settings(model=model).updated({"dataset": "gauss-regression"})
    with pytest.raises(SettingsError, match="^model:"):
        Settings().updated({"dataset": "plane"}).updated({"model": model})


def test_every_data_set_is_accepted_with_a_model_that_fits() -> None:
    for dataset in DATASETS:
        settings = Settings().updated({"dataset": dataset})
        assert settings.dataset == dataset


def test_to_mapping_is_json_with_lists() -> None:
    mapping = Settings().updated({"hidden": [3], "features": ["x1", "sinx1"]}).to_mapping()
    assert mapping["hidden"] == [3]
    assert mapping["features"] == ["x1", "sinx1"]
    assert mapping["activations"] == ["tanh"]
    assert json.loads(json.dumps(mapping, allow_nan=False)) == mapping
    # The mapping is itself a valid change: the URL's hash restores the settings.
    assert Settings().updated(mapping) == Settings().updated(
        {"hidden": [3], "features": "x1,sinx1"}
    )


def test_blobs_have_three_classes_by_default() -> None:
    assert Settings().updated({"dataset": "blobs"}).known_classes == 3
