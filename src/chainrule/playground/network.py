"""The playground's trainable models: an MLP of chainrule layers with its loss and optimiser, and
the two classic linear classifiers, behind one small interface the session drives.

Everything here is the library itself: ``nn.Linear`` and the activation modules, chainrule's
losses and optimisers, ``classic.Perceptron`` and ``classic.NearestMeanClassifier``. The
playground adds only the choice of targets each loss takes and the maps the page draws.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import nn, optim
from ..classic import NearestMeanClassifier, Perceptron
from ..compiler import CompiledStep
from ..engine.graph import no_grad
from ..engine.tensor import Tensor
from ..nn.models import ACTIVATIONS
from .settings import Settings

__all__ = ["ClassicModel", "Network", "outputs_for", "targets_for"]

# Losses that give two classes one output (a score whose sign is the class) rather than two.
ONE_OUTPUT_LOSSES = ("bce", "squared", "hinge")


def outputs_for(settings: Settings, problem: str, n_classes: int) -> int:
    """How many outputs the network has: one for regression and for a binary problem under a
    one-output loss; one per class otherwise."""
    if problem == "regression":
        return 1
    if n_classes == 2 and settings.loss in ONE_OUTPUT_LOSSES:
        return 1
    return n_classes


def targets_for(loss: str, labels: np.ndarray, n_outputs: int, problem: str) -> np.ndarray:
    """The targets each loss takes: class indices (cross-entropy, multiclass hinge), 0/1
    (binary cross-entropy), ±1 (a one-output squared or hinge loss), one-hot rows (squared with
    several classes), or the numbers themselves (regression)."""
    if problem == "regression":
        return labels.astype(np.float32).reshape(-1, 1)
    if loss == "cross-entropy" or (loss == "hinge" and n_outputs > 1):
        return labels.astype(np.int64)
    if loss == "bce":
        return labels.astype(np.float32).reshape(-1, 1)
    if n_outputs == 1:
        return (2 * labels - 1).astype(np.float32).reshape(-1, 1)
    one_hot: np.ndarray = np.eye(n_outputs, dtype=np.float32)[labels]
    return one_hot


def _loss_module(loss: str, n_outputs: int) -> nn.Module:
    if loss == "cross-entropy":
        return nn.CrossEntropyLoss()
    if loss == "bce":
        return nn.BCEWithLogitsLoss()
    if loss == "hinge":
        # Margin 1 for two classes as for more: the SVM's hinge, which keeps pushing points
        # until they are a unit of score clear of the boundary.
        return nn.HingeLoss(margin=1.0) if n_outputs == 1 else nn.MultiMarginLoss(margin=1.0)
    return nn.MSELoss()


def _optimizer(name: str, parameters: list[Any], lr: float) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(parameters, lr=lr)
    if name == "momentum":
        return optim.SGD(parameters, lr=lr, momentum=0.9)
    if name == "adagrad":
        return optim.Adagrad(parameters, lr=lr)
    if name == "rmsprop":
        return optim.RMSprop(parameters, lr=lr)
    return optim.Adam(parameters, lr=lr)


_INITS = {
    "xavier": lambda w, rng: nn.init.xavier_uniform_(w, rng=rng),
    "he": lambda w, rng: nn.init.he_uniform_(w, rng=rng),
    "normal": lambda w, rng: nn.init.normal_(w, std=0.1, rng=rng),
}


class Network:
    """An MLP (``nn.Sequential``), its loss and optimiser, trained a minibatch at a time."""

    kind = "mlp"

    def __init__(self, settings: Settings, n_inputs: int, n_outputs: int, problem: str) -> None:
        rng = np.random.default_rng([settings.seed, 4])
        layers: list[nn.Module] = []
        width = n_inputs
        for size, activation in zip(settings.hidden, settings.activations):
            layers += [nn.Linear(width, size, rng=rng), ACTIVATIONS[activation]()]
            width = size
        layers.append(nn.Linear(width, n_outputs, rng=rng))
        self.model = nn.Sequential(*layers)
        for linear in self.linears:
            _INITS[settings.init](linear.weight, rng)
            if linear.bias is not None:
                nn.init.zeros_(linear.bias)
        self.n_outputs = n_outputs
        self.problem = problem
        self.loss_name = settings.loss
        self.loss_fn = _loss_module(settings.loss, n_outputs)
        self.optimizer = _optimizer(settings.optimizer, list(self.model.parameters()), settings.lr)
        self.optimizer_name = settings.optimizer
        self.shuffle = np.random.default_rng([settings.seed, 5])
        self._compiled: CompiledStep | None = None

    @property
    def linears(self) -> list[nn.Linear]:
        return [m for m in self.model if isinstance(m, nn.Linear)]

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def new_optimizer(self, name: str, lr: float) -> None:
        self.optimizer = _optimizer(name, list(self.model.parameters()), lr)
        self.optimizer_name = name

    def targets(self, labels: np.ndarray) -> np.ndarray:
        return targets_for(self.loss_name, labels, self.n_outputs, self.problem)

    def penalty(self, settings: Settings) -> Tensor | None:
        """The regularisation term on the weights (biases are not penalised), or None."""
        if settings.reg == "none" or settings.regRate == 0:
            return None
        weights = [linear.weight for linear in self.linears]
        if settings.reg == "l1":
            term = nn.l1_penalty(weights)
        elif settings.reg == "l2":
            term = nn.l2_penalty(weights)
        else:
            term = nn.elastic_net_penalty(weights, beta=1.0)
        return term * settings.regRate

    def train_epoch(self, inputs: np.ndarray, targets: np.ndarray, settings: Settings) -> float:
        """One pass over the training points in minibatches of ``settings.batch``, in a new
        order each epoch; returns the largest minibatch loss seen (for the divergence guard),
        or the first that is not finite (that minibatch is not differentiated)."""
        order = self.shuffle.permutation(len(inputs))
        worst = 0.0
        self.model.train()
        # Without a penalty, the compiled step (eager, silently, for what it has no rule
        # for: the multiclass hinge, step and sign); the penalty is a graph of its own, so eager.
        step = self._compiled_step() if self.penalty(settings) is None else None
        for start in range(0, len(order), settings.batch):
            chosen = order[start : start + settings.batch]
            self.optimizer.zero_grad()
            try:
                value = self._minibatch(step, inputs[chosen], targets[chosen], settings)
            except _NotFinite as stop:
                return stop.value
            worst = max(worst, value)
            if settings.maxNorm > 0:
                nn.max_norm_(self.model, settings.maxNorm)
        return worst

    def _compiled_step(self) -> CompiledStep:
        step = self._compiled
        if step is None or step.optimizer is not self.optimizer:
            step = self._compiled = CompiledStep(
                self.model, self.loss_fn, self.optimizer, warn=False
            )
        return step

    def _minibatch(
        self, step: CompiledStep | None, x: np.ndarray, t: np.ndarray, settings: Settings
    ) -> float:
        """Forward, loss (raising _NotFinite before any backward pass), backward, update."""
        if step is not None:
            value, _ = step.forward_backward(x, t, _finite)
            step.update()
            return value
        total = self.loss_fn(self.model(Tensor(x)), Tensor(t))
        penalty = self.penalty(settings)
        if penalty is not None:
            total = total + penalty
        value = float(total.data)
        _finite(value)
        total.backward()
        self.optimizer.step()
        return value

    def loss(self, inputs: np.ndarray, targets: np.ndarray) -> float:
        """The mean data loss (no penalty) over the given points."""
        if len(inputs) == 0:
            return math.nan
        with no_grad():
            return float(self.loss_fn(self.model.eval()(Tensor(inputs)), Tensor(targets)).data)

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        with no_grad():
            return np.asarray(self.model.eval()(Tensor(inputs)).data, dtype=np.float64)

    def hidden_activations(self, inputs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Every hidden layer's activations and the outputs, from one forward pass."""
        found: list[np.ndarray] = []
        with no_grad():
            value: Any = Tensor(inputs)
            self.model.eval()
            modules = list(self.model)
            for position, module in enumerate(modules):
                value = module(value)
                follows_linear = position > 0 and isinstance(modules[position - 1], nn.Linear)
                if not isinstance(module, nn.Linear) and follows_linear:
                    found.append(np.asarray(value.data, dtype=np.float64))
        return found, np.asarray(value.data, dtype=np.float64)

    def layers(self) -> list[dict[str, Any]]:
        return [
            {
                "weights": np.round(linear.weight.data.astype(np.float64), 6).tolist(),
                "biases": np.round(_bias_values(linear), 6).tolist(),
            }
            for linear in self.linears
        ]

    def finite(self) -> bool:
        return all(np.isfinite(p.data).all() for p in self.model.parameters())

    def snapshot(self) -> dict[str, np.ndarray]:
        return {name: value.copy() for name, value in self.model.state_dict().items()}

    def restore(self, state: dict[str, np.ndarray]) -> None:
        self.model.load_state_dict(state)


class _NotFinite(Exception):
    """A minibatch loss that is NaN or infinite: the epoch stops before differentiating it."""

    def __init__(self, value: float) -> None:
        super().__init__(value)
        self.value = value


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise _NotFinite(value)


def _bias_values(linear: nn.Linear) -> np.ndarray:
    if linear.bias is None:
        return np.zeros(linear.out_features)
    return np.asarray(linear.bias.data, dtype=np.float64)


class ClassicModel:
    """Rosenblatt's perceptron or the nearest-mean classifier, shown epoch by epoch.

    The perceptron is trained by ``classic.Perceptron.fit_epochs``, one epoch each time the
    page asks for the next, so the line moves exactly as the mistake rule moved it and stops
    where the library stops (and a run that never separates costs only the epochs shown). The
    nearest-mean classifier has nothing to iterate: its (w, b) is there after one epoch.
    """

    MAX_EPOCHS = 1000

    def __init__(self, kind: str, inputs: np.ndarray, labels: np.ndarray, n_classes: int) -> None:
        self.kind = kind
        self.n_outputs = 1 if n_classes == 2 else n_classes
        self.n_inputs = inputs.shape[1]
        self.converged = True
        self.n_updates = 0
        self._done = False
        if kind == "perceptron":
            self._perceptron = Perceptron(max_epochs=self.MAX_EPOCHS)
            self._epochs = self._perceptron.fit_epochs(inputs, labels)
            self.classes = np.unique(labels)
        else:
            nearest = NearestMeanClassifier().fit(inputs, labels)
            self.classes = nearest.classes_
            self.means = nearest.means_
            self._final = _nearest_mean_linear(nearest, n_classes)
        self.coef = np.zeros((self.n_outputs, self.n_inputs))
        self.intercept = np.zeros(self.n_outputs)
        self.epoch = 0

    def advance(self) -> None:
        """One more epoch: the weights at its end."""
        if self._done:
            return
        self.epoch += 1
        if self.kind == "nearest-mean":
            self.coef, self.intercept = self._final
            self._done = True
            return
        next(self._epochs)
        fitted = self._perceptron
        self.coef, self.intercept = fitted.coef_, fitted.intercept_
        self.converged = bool(fitted.converged_)
        self.n_updates = int(fitted.n_updates_)
        self._done = self.converged or self.epoch >= self.MAX_EPOCHS

    @property
    def finished(self) -> bool:
        return self._done

    def scores(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(inputs @ self.coef.T + self.intercept, dtype=np.float64)

    def layers(self) -> list[dict[str, Any]]:
        return [
            {
                "weights": np.round(self.coef, 6).tolist(),
                "biases": np.round(self.intercept, 6).tolist(),
            }
        ]


def _nearest_mean_linear(
    nearest: NearestMeanClassifier, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest-mean rule as linear scores: for two classes the library's own (w, b); for
    more, score_k = 2 mu_k . x - |mu_k|^2, whose largest is the nearest mean."""
    if n_classes == 2:
        w, b = nearest.as_linear()
        return np.asarray(w, dtype=np.float64).reshape(1, -1), np.array([float(b)])
    means = np.asarray(nearest.means_, dtype=np.float64)
    return 2 * means, -(means**2).sum(axis=1)
