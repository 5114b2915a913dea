"""One tab's playground: its data, its model, its training, and every view the page asks for.

A ``Session`` knows nothing of the web: it takes settings and requests as Python values and
returns plain data (and bytes for the heat maps), so it is tested directly and the server only
carries messages. Every number comes from chainrule: training steps, forward passes over the
grid, the backward pass of one point (``explain``), the gradient check (``gradcheck_model``),
and the saved file (``save``).
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import io, nn
from ..check.model import gradcheck_model
from ..engine.tensor import Tensor
from ..train.loop import divergence_advice
from ..viz.explain import explain
from .network import ClassicModel, Network, outputs_for
from .points import Points, feature_matrix, generate, split_parts
from .settings import FEATURES, MAX_CLASSES, MAX_POINTS, Settings, SettingsError

__all__ = ["GRID", "PlaygroundError", "Session"]

GRID = 64  # the heat maps' resolution: GRID x GRID forward passes, all maps from one pass
# A loss this many times the first epoch's (and above 1) counts as diverging.
DIVERGENCE_FACTOR = 1e3

_DATA_KEYS = {"dataset", "classes", "points", "noise", "trainRatio", "seed"}
_MODEL_KEYS = {"model", "features", "hidden", "activations", "init", "loss", "seed"}


class PlaygroundError(ValueError):
    """A request the session cannot carry out; the message is shown on the page as it is."""


class Session:
    """A tab's state. Not thread-safe: the server runs one request of a tab at a time."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.points = generate(self.settings)
        self.epoch = 0
        self.history: list[list[float | None]] = []
        self.playing = False
        self.model: Network | ClassicModel | None = None
        self.notice = ""
        self._first_loss: float | None = None
        self._build_model()

    # ------------------------------------------------------------------ configuration
    def apply(self, changes: Any) -> None:
        """Apply settings from the page; rebuild the data and the model where they changed.
        Settings the data cannot take are refused and leave everything as it was."""
        new = self.settings.updated(changes)
        before = self.settings.to_mapping()
        changed = {key for key, value in new.to_mapping().items() if before[key] != value}
        old_settings, old_points = self.settings, self.points
        self.settings = new
        try:
            if changed & _DATA_KEYS and new.dataset != "own":
                self.points = generate(new)
            elif "trainRatio" in changed and len(self.points):
                rng = np.random.default_rng([new.seed, 1])
                part = split_parts(len(self.points), new.trainRatio, rng)
                self.points = replace(self.points, part=part)
            self._check_against_data()
        except SettingsError:
            self.settings, self.points = old_settings, old_points
            raise
        if changed & (_DATA_KEYS | _MODEL_KEYS):
            self._build_model()
        elif isinstance(self.model, Network):
            if "optimizer" in changed:
                self.model.new_optimizer(new.optimizer, new.lr)
            elif "lr" in changed:
                self.model.set_lr(new.lr)

    def _check_against_data(self) -> None:
        """What only the data can decide: the loss against the problem and the classes."""
        settings, points = self.settings, self.points
        if points.problem == "regression":
            if settings.model != "mlp":
                raise SettingsError(
                    f"model: the {settings.model} classifies; these points are a regression problem"
                )
            self.settings = replace(settings, loss="squared")
        elif settings.loss == "bce" and len(points.classes) > 2:
            raise SettingsError(
                f"loss: binary cross-entropy takes two classes; the data have "
                f"{len(points.classes)}: choose cross-entropy, squared or hinge"
            )

    def reset(self) -> None:
        """New weights from the seed, epoch 0, the same data."""
        self._build_model()

    def _build_model(self) -> None:
        self.epoch = 0
        self.history = []
        self.playing = False
        self.notice = ""
        self._first_loss = None
        settings, points = self.settings, self.points
        inputs = feature_matrix(points.xy, settings.features) if len(points) else None
        n_classes = max(len(points.classes), 2)
        if settings.model == "mlp":
            n_out = outputs_for(settings, points.problem, n_classes)
            self.model = Network(settings, len(settings.features), n_out, points.problem)
        elif inputs is not None and not self.why_untrainable():
            train = points.part == 0
            self.model = ClassicModel(
                settings.model, inputs[train], points.labels[train], n_classes
            )
        else:
            self.model = None
        self._record_losses()

    def why_untrainable(self) -> str:
        """Why the data cannot be trained on, or '' when they can."""
        points = self.points
        n_train = int((points.part == 0).sum())
        if n_train < 1:
            return "there are no training points: add some, or generate a data set"
        if points.problem == "classification":
            present = np.unique(points.labels[points.part == 0])
            if len(present) < 2:
                return "the training points are all of one class: add points of another class"
            if self.settings.model != "mlp" and len(present) < len(points.classes):
                return "every class needs training points for the classic models"
        return ""

    # ------------------------------------------------------------------ training
    def train(self, epochs: int = 1) -> None:
        """Train ``epochs`` epochs (the classic models: replay them); stops playing, with a
        notice, when the run diverges or the classic model has finished."""
        reason = self.why_untrainable()
        if reason:
            self.playing = False
            raise PlaygroundError(f"cannot train: {reason}")
        model = self.model
        if isinstance(model, ClassicModel):
            for _ in range(epochs):
                if model.finished:
                    self._classic_finished(model)
                    return
                model.advance()
                self.epoch = model.epoch
                self._record_losses()
            if model.finished:
                self._classic_finished(model)
            return
        assert isinstance(model, Network)
        inputs, targets = self._inputs_targets(0)
        for _ in range(epochs):
            before = model.snapshot()
            # A diverging run overflows; the guard below says so in words, NumPy need not.
            with np.errstate(over="ignore", invalid="ignore"):
                worst = model.train_epoch(inputs, targets, self.settings)
            self.epoch += 1
            diverged = self._diverged(worst)
            if not diverged and not model.finite():
                diverged = self._diverged(math.inf)
            if diverged:
                model.restore(before)
                self.epoch -= 1
                self.playing = False
                self.notice = diverged
                return
            self._record_losses()

    def _diverged(self, worst: float) -> str:
        """The divergence guard: a message saying what happened and what to change, or ''."""
        lr = self.settings.lr
        advice = divergence_advice(lr, first_batch=False)
        if not math.isfinite(worst):
            return (
                f"training stopped at epoch {self.epoch}: the loss became {worst} with learning "
                f"rate {lr:g}; {advice}. The weights are those of epoch {self.epoch - 1}."
            )
        first = self._first_loss if self._first_loss is not None else worst
        if worst > DIVERGENCE_FACTOR * max(first, 1.0):
            return (
                f"training stopped at epoch {self.epoch}: the loss grew from {first:.4g} to "
                f"{worst:.4g} with learning rate {lr:g}; {advice}. The weights are those of "
                f"epoch {self.epoch - 1}."
            )
        return ""

    def _classic_finished(self, model: ClassicModel) -> None:
        self.playing = False
        if model.kind == "nearest-mean":
            w, b = model.coef, model.intercept
            if model.n_outputs == 1:
                self.notice = (
                    f"nearest mean: w = 2(μ1 - μ0) = ({', '.join(f'{v:.3g}' for v in w[0])}), "
                    f"b = |μ0|² - |μ1|² = {b[0]:.3g}; the boundary is the perpendicular "
                    "bisector of the two means"
                )
            else:
                self.notice = "nearest mean: each point takes the class of the nearest mean"
        elif model.converged:
            self.notice = (
                f"the perceptron stopped after {model.epoch} epochs and "
                f"{model.n_updates} updates: an epoch without a mistake, every training point "
                "is on its side of the line"
            )
        else:
            self.notice = (
                f"the perceptron made mistakes in every one of {model.epoch} epochs: no "
                "line separates these classes in the chosen features"
            )

    def _inputs_targets(self, part: int) -> tuple[np.ndarray, np.ndarray]:
        xy, labels = self.points.part_of(part)
        inputs = feature_matrix(xy, self.settings.features).astype(np.float32)
        model = self.model
        if isinstance(model, Network):
            return inputs, model.targets(labels)
        return inputs, labels

    def _losses(self) -> tuple[float, float]:
        model = self.model
        if model is None or self.why_untrainable():
            return math.nan, math.nan
        values = []
        for part in (0, 1):
            inputs, targets = self._inputs_targets(part)
            if isinstance(model, Network):
                values.append(model.loss(inputs, targets))
            else:
                values.append(1 - self._accuracy_of(part) if len(inputs) else math.nan)
        return values[0], values[1]

    def _record_losses(self) -> None:
        train, test = self._losses()
        self.train_loss, self.test_loss = train, test
        if self._first_loss is None and math.isfinite(train):
            self._first_loss = train
        if self.epoch == 0:
            self.history = []
        self.history.append([self.epoch, _finite(train), _finite(test)])
        if len(self.history) > 2000:  # keep the curve light: every other point of the past
            self.history = self.history[:-1000:2] + self.history[-1000:]

    def _predictions(self, scores: np.ndarray) -> np.ndarray:
        if scores.shape[1] == 1:
            return (scores[:, 0] > 0).astype(np.int64)
        return np.asarray(scores.argmax(axis=1), dtype=np.int64)

    def _accuracy_of(self, part: int) -> float:
        xy, labels = self.points.part_of(part)
        if self.points.problem != "classification" or not len(xy) or self.model is None:
            return math.nan
        scores = self.model.scores(feature_matrix(xy, self.settings.features).astype(np.float32))
        predicted = self._predictions(scores)
        if isinstance(self.model, ClassicModel):
            predicted = np.asarray(self.model.classes)[predicted]
        return float((predicted == labels).mean())

    # ------------------------------------------------------------------ views
    def state(self) -> dict[str, Any]:
        """Everything the page needs to redraw from scratch."""
        return {
            "type": "state",
            "settings": self.settings.to_mapping(),
            "problem": self.points.problem,
            "classes": list(self.points.classes),
            "domain": list(self.points.domain),
            "points": self.points.records(),
            "network": self.network(),
            "epoch": self.epoch,
            "trainLoss": _finite(self.train_loss),
            "testLoss": _finite(self.test_loss),
            "lossName": self._loss_name(),
            "history": self.history,
            "playing": self.playing,
            "notice": self.notice,
            "trainable": self.why_untrainable(),
        }

    def _loss_name(self) -> str:
        if isinstance(self.model, ClassicModel):
            return "error rate"
        return self.settings.loss

    def network(self) -> dict[str, Any]:
        model = self.model
        if model is None:
            return {"sizes": [len(self.settings.features)], "layers": []}
        if isinstance(model, Network):
            sizes = [len(self.settings.features), *self.settings.hidden, model.n_outputs]
        else:
            sizes = [len(self.settings.features), model.n_outputs]
        return {"sizes": sizes, "layers": model.layers(), "kind": model.kind}

    def grid_points(self) -> np.ndarray:
        """The centres of the GRID x GRID cells, row 0 at the top (largest y)."""
        xmin, xmax, ymin, ymax = self.points.domain
        xs = xmin + (np.arange(GRID) + 0.5) * (xmax - xmin) / GRID
        ys = ymax - (np.arange(GRID) + 0.5) * (ymax - ymin) / GRID
        gx, gy = np.meshgrid(xs, ys)
        return np.column_stack([gx.ravel(), gy.ravel()])

    def frame(self) -> tuple[dict[str, Any], bytes]:
        """The heat maps of the output, every hidden neuron and every input feature, from one
        forward pass over the grid, quantised to bytes; and the numbers that go with them."""
        grid = self.grid_points()
        inputs = feature_matrix(grid, self.settings.features)
        maps: list[tuple[str, np.ndarray]] = [
            (f"input-{name}", inputs[:, k]) for k, name in enumerate(self.settings.features)
        ]
        model = self.model
        if isinstance(model, Network):
            hidden, scores = model.hidden_activations(inputs.astype(np.float32))
            for layer, values in enumerate(hidden, start=1):
                maps += [(f"{layer}-{i + 1}", values[:, i]) for i in range(values.shape[1])]
        elif model is not None:
            scores = model.scores(inputs)
        else:
            scores = np.zeros((len(grid), 1))
        maps += self._output_maps(scores)
        header: dict[str, Any] = {
            "type": "frame",
            "epoch": self.epoch,
            "trainLoss": _finite(self.train_loss),
            "testLoss": _finite(self.test_loss),
            "trainAccuracy": _finite(self._accuracy_of(0)),
            "testAccuracy": _finite(self._accuracy_of(1)),
            "grid": GRID,
            "network": self.network(),
            "playing": self.playing,
            "notice": self.notice,
        }
        header.update(self._gradient_view())
        quantised, lows, highs = _quantise(np.stack([values for _, values in maps]))
        header["maps"] = [
            {"name": name, "lo": lo, "hi": hi} for (name, _), lo, hi in zip(maps, lows, highs)
        ]
        return header, quantised.tobytes()

    def _output_maps(self, scores: np.ndarray) -> list[tuple[str, np.ndarray]]:
        if self.points.problem == "regression":
            return [("output", scores[:, 0])]
        if scores.shape[1] == 1:
            if isinstance(self.model, Network) and self.model.loss_name == "bce":
                return [("output", 2 / (1 + np.exp(-np.clip(scores[:, 0], -50, 50))) - 1)]
            return [("output", np.clip(scores[:, 0], -1, 1))]
        shifted = scores - scores.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        if scores.shape[1] == 2:
            return [("output", 2 * probabilities[:, 1] - 1)]
        return [(f"class-{k}", probabilities[:, k]) for k in range(scores.shape[1])]

    def _gradient_view(self) -> dict[str, Any]:
        """Per-layer gradient norms over the training points and the dead ReLU units (never
        active on a training point): the vanishing-gradient chart and the marks."""
        model = self.model
        if not isinstance(model, Network) or self.why_untrainable():
            return {"gradNorms": [], "dead": []}
        inputs, targets = self._inputs_targets(0)
        model.model.eval()
        for parameter in model.model.parameters():
            parameter.grad = None
        loss = model.loss_fn(model.model(Tensor(inputs)), Tensor(targets))
        loss.backward()
        norms = []
        for linear in model.linears:
            grad = linear.weight.grad
            norms.append(_finite(float(np.linalg.norm(grad.data)) if grad is not None else 0.0))
        for parameter in model.model.parameters():
            parameter.grad = None
        dead = []
        hidden, _ = model.hidden_activations(inputs)
        for layer, (values, name) in enumerate(zip(hidden, self.settings.activations), start=1):
            if name == "relu":
                dead += [[layer, int(i) + 1] for i in np.flatnonzero((values <= 0).all(axis=0))]
        return {"gradNorms": norms, "dead": dead}

    # ------------------------------------------------------------------ editing the network
    def set_weight(self, layer: int, to: int, source: int, value: float) -> None:
        linear = self._linear(layer)
        rows, columns = linear.weight.shape
        if not (0 <= to < rows and 0 <= source < columns):
            raise PlaygroundError(
                f"set-weight: layer {layer} has weights {rows}x{columns}; there is no "
                f"[{to}, {source}]"
            )
        linear.weight.data[to, source] = _finite_value(value, "set-weight")
        linear.weight._mark_modified()
        self._record_losses()

    def set_bias(self, layer: int, to: int, value: float) -> None:
        linear = self._linear(layer)
        if not 0 <= to < linear.out_features:
            raise PlaygroundError(f"set-bias: layer {layer} has {linear.out_features} biases")
        bias = _bias(linear)
        bias.data[to] = _finite_value(value, "set-bias")
        bias._mark_modified()
        self._record_losses()

    def _network(self, what: str) -> Network:
        if not isinstance(self.model, Network):
            raise PlaygroundError(
                f"{what}: the {self.settings.model} learns by its own rule, not by "
                "backpropagation; choose the model mlp"
            )
        return self.model

    def _linear(self, layer: int) -> nn.Linear:
        linears = self._network("editing weights").linears
        if not 1 <= layer <= len(linears):
            raise PlaygroundError(f"layer {layer}: the network has layers 1 to {len(linears)}")
        return linears[layer - 1]

    # ------------------------------------------------------------------ own points
    def add_point(self, x: float, y: float, label: float) -> None:
        points = self._own_points()
        if len(points) >= MAX_POINTS:
            raise PlaygroundError(f"add-point: at most {MAX_POINTS} points")
        xy = np.array([[_finite_value(x, "add-point"), _finite_value(y, "add-point")]])
        if points.problem == "classification":
            count = max(len(points.classes), 2)
            largest = min(count, MAX_CLASSES - 1)  # an existing class, or one new class
            if not (float(label).is_integer() and 0 <= label <= largest):
                raise PlaygroundError(f"add-point: label {label!r} is not a class (0 to {largest})")
            if label >= 2 and self.settings.loss == "bce":
                raise PlaygroundError(
                    "add-point: binary cross-entropy takes two classes; choose cross-entropy, "
                    "squared or hinge to add a third"
                )
            if int(label) >= len(points.classes):
                points.classes = [f"class {k}" for k in range(int(label) + 1)]
            new_label: Any = np.array([int(label)], dtype=points.labels.dtype)
        else:
            new_label = np.array([_finite_value(label, "add-point")])
        n = len(points)
        rng = np.random.default_rng([self.settings.seed, 6, n])
        part = np.array([0 if rng.uniform(0, 100) < self.settings.trainRatio else 1], np.int8)
        points.xy = np.concatenate([points.xy, xy])
        points.labels = np.concatenate([points.labels, new_label])
        points.part = np.concatenate([points.part, part])
        self._data_changed()

    def move_point(self, index: int, x: float, y: float) -> None:
        points = self._own_points()
        self._check_index(index, "move-point")
        points.xy[index] = [_finite_value(x, "move-point"), _finite_value(y, "move-point")]
        self._data_changed()

    def delete_point(self, index: int) -> None:
        points = self._own_points()
        self._check_index(index, "delete-point")
        keep = np.arange(len(points)) != index
        points.xy, points.labels, points.part = (
            points.xy[keep],
            points.labels[keep],
            points.part[keep],
        )
        self._data_changed()

    def _check_index(self, index: int, what: str) -> None:
        if not 0 <= index < len(self.points):
            raise PlaygroundError(
                f"{what}: there is no point {index} (there are {len(self.points)})"
            )

    def _own_points(self) -> Points:
        """The points as own data (a generated set becomes own, keeping its points)."""
        if self.settings.dataset != "own":
            self.settings = replace(self.settings, dataset="own")
        return self.points

    def use_points(self, points: Points) -> None:
        """Replace the data by ``points`` (an uploaded table's two columns)."""
        self.points = points
        before = self.settings
        self.settings = replace(
            self.settings,
            dataset="own",
            loss="squared" if points.problem == "regression" else self.settings.loss,
        )
        if points.problem == "classification" and len(points.classes) > 2:
            if self.settings.loss == "bce":
                self.settings = replace(self.settings, loss="cross-entropy")
        if points.problem == "regression" and self.settings.model != "mlp":
            self.settings = replace(self.settings, model="mlp")
        self._build_model()
        changes = [
            f"{key} {getattr(before, key)} → {getattr(self.settings, key)}"
            for key in ("model", "loss")
            if getattr(before, key) != getattr(self.settings, key)
        ]
        if changes:
            kind = (
                "a regression (the label holds numbers)"
                if points.problem == "regression"
                else f"{len(points.classes)} classes"
            )
            self.notice = f"the data are {kind}, so: {'; '.join(changes)}"

    def _data_changed(self) -> None:
        """Points were added, moved or deleted: the weights stay (as in the lecture, the
        network keeps learning), the losses and the classic models follow the data."""
        if self.settings.model != "mlp" or (
            isinstance(self.model, Network)
            and self.model.n_outputs
            != outputs_for(self.settings, self.points.problem, max(len(self.points.classes), 2))
        ):
            self._build_model()
        else:
            self._record_losses()

    # ------------------------------------------------------------------ the backward pass
    def _point_inputs(self, index: int, what: str) -> tuple[Tensor, Tensor]:
        self._check_index(index, what)
        model = self._network(what)
        inputs = feature_matrix(self.points.xy[index : index + 1], self.settings.features)
        targets = model.targets(self.points.labels[index : index + 1])
        return Tensor(inputs.astype(np.float32)), Tensor(targets)

    def _explained(self, index: int, what: str) -> tuple[Any, list[Tensor], list[Tensor]]:
        """chainrule's own backward pass of one point's loss: the explanation, and the
        pre-activations z and activations a of every layer (named z1, a1, ...)."""
        model = self._network(what)
        inputs, targets = self._point_inputs(index, what)
        model.model.eval()
        names: dict[str, Tensor] = {"x": inputs}
        zs: list[Tensor] = []
        activations: list[Tensor] = []
        value: Any = inputs
        for module in model.model:
            value = module(value)
            if isinstance(module, nn.Linear):
                zs.append(value)
                names[f"z{len(zs)}"] = value
            else:
                activations.append(value)
                if value is not zs[-1]:  # identity returns z itself: it keeps the name z
                    names[f"a{len(activations)}"] = value
        loss = model.loss_fn(value, targets)
        for number, linear in enumerate(model.linears, start=1):
            names[f"W{number}"] = linear.weight
            names[f"b{number}"] = _bias(linear)
        return explain(loss, names=names), zs, activations

    def neuron_panel(self, index: int, layer: int, neuron: int) -> dict[str, Any]:
        """For point ``index`` and neuron ``neuron`` of layer ``layer`` (hidden layers from 1;
        the output layer is the last), from chainrule's backward pass: z, a, g'(z), δ = ∂E/∂z,
        the sum that made δ with its numbers, and each incoming weight's gradient."""
        model = self._network("neuron")
        depth = len(model.linears)
        if not 1 <= layer <= depth:
            raise PlaygroundError(f"neuron: layer {layer} does not exist (1 to {depth})")
        width = model.linears[layer - 1].out_features
        if not 1 <= neuron <= width:
            raise PlaygroundError(f"neuron: layer {layer} has neurons 1 to {width}")
        explanation, zs, activations = self._explained(index, "neuron")
        j = neuron - 1
        z_delta = _delta(explanation, f"z{layer}", zs[layer - 1].shape)
        z = float(zs[layer - 1].data[0, j])
        hidden = layer < depth
        if hidden:
            a = float(activations[layer - 1].data[0, j])
            gprime = _activation_slope(model.model, layer, zs[layer - 1])
            same = activations[layer - 1] is zs[layer - 1]
            a_label = f"z{layer}" if same else f"a{layer}"
            dEda = float(_delta(explanation, a_label, activations[layer - 1].shape)[0, j])
        else:
            a, dEda = z, float(z_delta[0, j])
            gprime = np.ones_like(zs[layer - 1].data)
        terms = []
        if hidden:
            following = model.linears[layer]
            next_delta = _delta(explanation, f"z{layer + 1}", zs[layer].shape)[0]
            next_slope = (
                _activation_slope(model.model, layer + 1, zs[layer])[0]
                if layer + 1 < depth
                else np.ones(following.out_features)
            )
            for k in range(following.out_features):
                w = float(following.weight.data[k, j])
                delta_k = float(next_delta[k])
                slope_k = float(next_slope[k])
                terms.append(
                    {
                        "to": k + 1,
                        "w": w,
                        "delta": delta_k,
                        "gprime": slope_k,
                        "dEda": delta_k / slope_k if slope_k != 0 else None,
                        "product": w * delta_k,
                    }
                )
        weight_grad = _delta(explanation, f"W{layer}", model.linears[layer - 1].weight.shape)
        bias_grad = _delta(explanation, f"b{layer}", (width,))
        point_inputs = feature_matrix(self.points.xy[index : index + 1], self.settings.features)
        previous = activations[layer - 2].data[0] if layer > 1 else point_inputs[0]
        incoming = [
            {
                "from": i + 1,
                "weight": float(model.linears[layer - 1].weight.data[j, i]),
                "a": float(previous[i]),
                "grad": float(weight_grad[j, i]),
            }
            for i in range(model.linears[layer - 1].in_features)
        ]
        delta = float(z_delta[0, j])
        slope = float(gprime[0, j])
        return {
            "type": "neuron-panel",
            "point": index,
            "layer": layer,
            "neuron": neuron,
            "output": not hidden,
            "z": z,
            "a": a,
            "gprime": slope,
            "delta": delta,
            "dEda": dEda,
            "sumTerms": terms,
            "incoming": incoming,
            "biasGrad": float(bias_grad[j]),
            "formula": _formula(layer, neuron, terms, slope, dEda, delta, hidden),
            "loss": self.settings.loss,
        }

    def backprop(self, index: int) -> dict[str, Any]:
        """δ = ∂E/∂z of every neuron for one point, layer by layer from the output down, with
        each layer's weight-gradient norm: the backward pass to animate."""
        model = self._network("backprop")
        explanation, zs, _ = self._explained(index, "backprop")
        layers = []
        for number in range(len(zs), 0, -1):
            delta = _delta(explanation, f"z{number}", zs[number - 1].shape)[0]
            grad = _delta(explanation, f"W{number}", model.linears[number - 1].weight.shape)
            layers.append(
                {
                    "layer": number,
                    "delta": [float(d) for d in delta],
                    "gradNorm": float(np.linalg.norm(grad)),
                }
            )
        return {"type": "backprop", "point": index, "layers": layers}

    def gradcheck(self) -> dict[str, Any]:
        """``gradcheck_model`` on the current network and its training points (at most 64 of
        them, and 64 elements of each parameter, so that the answer comes in a moment)."""
        model = self._network("gradcheck")
        reason = self.why_untrainable()
        if reason:
            raise PlaygroundError(f"gradcheck: {reason}")
        inputs, targets = self._inputs_targets(0)
        inputs, targets = inputs[:64], targets[:64]
        report = gradcheck_model(
            model.model,
            model.loss_fn,
            inputs,
            targets,
            max_elements=64,
            rng=np.random.default_rng(self.settings.seed),
        )
        worst = max(report.parameters, key=lambda check: check.max_abs_error)
        return {
            "type": "gradcheck",
            "passed": bool(report.passed),
            "worst": {
                "parameter": worst.name,
                "index": [int(i) for i in worst.worst_index],
                "analytic": float(worst.analytic),
                "numerical": float(worst.numerical),
                "error": float(worst.max_abs_error),
            },
            "parameters": [
                f"{check.name}: {'pass' if check.passed else 'FAIL'}, largest difference "
                f"{check.max_abs_error:.2e}"
                for check in report.parameters
            ],
            "points": len(inputs),
        }

    # ------------------------------------------------------------------ export
    def export(self) -> tuple[dict[str, Any], bytes]:
        """The trained network as a model file ``cr.load`` and ``chainrule predict`` read, the
        command and the Python that train the same network, and the file's bytes."""
        model = self._network("export")
        settings = self.settings
        metadata = {
            "playground": settings.to_mapping(),
            "inputs": list(settings.features),
            "classes": list(self.points.classes),
            "problem": self.points.problem,
            "epoch": self.epoch,
        }
        handle, name = tempfile.mkstemp(suffix=".safetensors", prefix="chainrule-playground-")
        os.close(handle)
        try:
            os.unlink(name)  # save writes a new file atomically; it never replaces one
            io.save(model.model, name, metadata=metadata)
            content = Path(name).read_bytes()
        finally:
            Path(name).unlink(missing_ok=True)
        filename = f"playground-{settings.dataset}-epoch{self.epoch}.safetensors"
        info = {
            "type": "export",
            "filename": filename,
            "command": self.train_command(),
            "python": self.python_snippet(filename),
            "accuracy": _finite(self._accuracy_of(1)),
            "trainAccuracy": _finite(self._accuracy_of(0)),
        }
        return info, content

    def train_command(self) -> str:
        """The ``chainrule train`` command closest to this network (the CLI's data sets take
        x1 and x2 as inputs; other features and this tab's own points have no flag)."""
        settings = self.settings
        if self.points.problem == "regression":
            return (
                "# chainrule train has no two-dimensional regression data set: the exported "
                "file holds this network, and the Python below uses it"
            )
        cli_sets = {"xor": "xor", "moons": "moons", "circle": "circles", "spiral": "spirals"}
        data = cli_sets.get(settings.dataset, "moons")
        note = (
            ""
            if settings.dataset in cli_sets
            else f"# chainrule train has no {settings.dataset} data set; the same network on "
            "moons:\n"
        )
        activation = settings.activations[0] if settings.activations else "relu"
        optimizer = {"momentum": "sgd --momentum 0.9"}.get(settings.optimizer, settings.optimizer)
        parts = [
            "chainrule train",
            f"--data {data}",
            f"--hidden {','.join(map(str, settings.hidden))}" if settings.hidden else "",
            f"--activation {activation}" if settings.hidden else "",
            f"--optimizer {optimizer}",
            f"--lr {settings.lr:g}",
            f"--batch-size {settings.batch}",
            f"--epochs {max(self.epoch, 1)}",
            f"--seed {settings.seed}",
        ]
        return note + " ".join(part for part in parts if part)

    def python_snippet(self, filename: str) -> str:
        """Python that loads the exported file and predicts a point as the page does."""
        features = ", ".join(_FEATURE_CODE[name] for name in self.settings.features)
        return (
            "import numpy as np\n"
            "import chainrule as cr\n\n"
            f'model = cr.load("{filename}")\n'
            "x1, x2 = np.array([1.0]), np.array([-2.0])      # points in the page's plane\n"
            f"inputs = np.column_stack([{features}]).astype(np.float32)\n"
            "scores = model(inputs).numpy()\n"
            f"{self._prediction_code()}\n"
        )

    def _prediction_code(self) -> str:
        """The line that turns the network's scores into what the page shows."""
        if self.points.problem == "regression":
            return "print(scores[:, 0])                               # the predicted value"
        model = self._network("export")
        classes = list(self.points.classes)
        if model.n_outputs > 1:
            why, rule = "the largest score", "scores.argmax(axis=1)"
        else:
            why = "sigmoid(score) > 0.5" if self.settings.loss == "bce" else "the score's sign"
            rule = "(scores[:, 0] > 0).astype(int)"
        return (
            f"classes = {classes!r}\n"
            f"predicted = {rule}  # {why}\n"
            "print([classes[k] for k in predicted])"
        )


_FEATURE_CODE = {
    "x1": "x1",
    "x2": "x2",
    "x1sq": "x1**2",
    "x2sq": "x2**2",
    "x1x2": "x1 * x2",
    "sinx1": "np.sin(x1)",
    "sinx2": "np.sin(x2)",
}
assert set(_FEATURE_CODE) == set(FEATURES)


def _bias(linear: nn.Linear) -> Tensor:
    """The bias of one of the playground's layers (they all have one)."""
    assert linear.bias is not None
    return linear.bias


def _delta(explanation: Any, label: str, shape: tuple[int, ...]) -> np.ndarray:
    """δ at the node ``label``; zeros when the backward pass never reached it (a step or sign
    activation passes nothing back, so nothing below it is reached)."""
    try:
        return np.asarray(explanation[label].delta, dtype=np.float64)
    except KeyError:
        return np.zeros(shape)


def _activation_slope(sequential: nn.Sequential, layer: int, z: Tensor) -> np.ndarray:
    """g'(z) of hidden layer ``layer``'s activation at ``z``, from chainrule's backward pass of
    a = g(z) alone with ∂/∂a = 1."""
    activation = [m for m in sequential if not isinstance(m, nn.Linear)][layer - 1]
    leaf = Tensor(np.array(z.data), requires_grad=True)
    out = activation(leaf)
    if not out.requires_grad:
        return np.zeros(leaf.shape)
    steps = explain(out, grad=np.ones_like(out.data), names={"z": leaf})
    return _delta(steps, "z", leaf.shape)


def _formula(
    layer: int,
    neuron: int,
    terms: list[dict[str, Any]],
    slope: float,
    dEda: float,
    delta: float,
    hidden: bool,
) -> str:
    j = f"{layer},{neuron}"
    if not hidden:
        return f"δ_{j} = ∂E/∂z_{j} = {delta:.6g} (the output: the loss's own derivative)"
    # + 0.0 turns a negative zero (a step unit's δ) into 0, which is what it means.
    shown = " + ".join(f"({t['w'] + 0.0:.4g})·({t['delta'] + 0.0:.4g})" for t in terms)
    return (
        f"∂E/∂a_{j} = Σ_k w_k{neuron} δ_k = {shown} = {dEda:.6g};  "
        f"δ_{j} = g'(z_{j}) · ∂E/∂a_{j} = {slope:.6g} · {dEda:.6g} = {delta:.6g}"
    )


def _quantise(maps: np.ndarray) -> tuple[np.ndarray, list[float], list[float]]:
    """Each row of ``maps`` as bytes 0-255 over its own range [lo, hi] (non-finite values
    become lo; a constant row is all 0), with the rows' lo and hi."""
    maps = maps.astype(np.float32)
    finite = np.isfinite(maps)
    if finite.all():  # the usual case, in a third of the time
        lows, highs = maps.min(axis=1), maps.max(axis=1)
        span = highs - lows
        scale = np.divide(255.0, span, out=np.zeros_like(span), where=span > 0)
        scaled = (maps - lows[:, None]) * scale[:, None]
        scaled += 0.5
        quantised = np.minimum(scaled, 255).astype(np.uint8)
        return quantised, [float(v) for v in lows], [float(v) for v in highs]
    lows = np.where(finite, maps, np.inf).min(axis=1)
    highs = np.where(finite, maps, -np.inf).max(axis=1)
    empty = ~np.isfinite(lows)
    lows[empty], highs[empty] = 0.0, 0.0
    span = highs - lows
    scale = np.divide(255.0, span, out=np.zeros_like(span), where=span > 0)
    scaled = (np.where(finite, maps, lows[:, None]) - lows[:, None]) * scale[:, None] + 0.5
    quantised = np.clip(scaled, 0, 255).astype(np.uint8)
    return quantised, [float(v) for v in lows], [float(v) for v in highs]


def _finite(value: float) -> float | None:
    """A number for JSON: None for NaN and infinities (JSON has neither)."""
    return float(value) if value is not None and math.isfinite(value) else None


def _finite_value(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PlaygroundError(f"{what}: expected a finite number, got {str(value)[:30]!r}")
    if abs(value) > 1e6:
        raise PlaygroundError(f"{what}: {value:g} is too large (at most 1e6 in size)")
    return float(value)
