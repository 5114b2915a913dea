"""Multilayer perceptrons as scikit-learn estimators, built and trained by chainrule.

The network is ``chainrule.nn.mlp``; training is ``chainrule.train.fit`` over a
``chainrule.data.DataLoader`` with ``chainrule.optim.Adam`` or ``SGD``. The settings, the
loss that is minimised and the stopping rule follow ``sklearn.neural_network``'s MLPs, so that
the two can be swapped in a pipeline:

- the loss is the mean log-loss (classification) or half the mean squared error (regression),
  plus (alpha / 2) Σ W² / batch size over the weights (not the biases);
- after each epoch, training stops when the epoch's loss (or with ``early_stopping`` the
  validation score) has not improved by ``tol`` for more than ``n_iter_no_change`` epochs.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import nn, optim
from ..data.loader import DataLoader, TensorDataset
from ..engine.graph import no_grad
from ..engine.tensor import Tensor
from ..train import Callback, TrainingState, fit
from ._common import (
    SEED_BOUND,
    check_at_least_two_classes,
    check_count,
    check_number,
    generator_from,
)

# scikit-learn's activation names, and chainrule's where they differ.
_ACTIVATIONS = {
    "identity": "identity",
    "logistic": "sigmoid",
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "leaky_relu": "leaky_relu",
}
_SOLVERS = ("adam", "sgd")
_DTYPES = ("float32", "float64")


class _PenalisedLoss:
    """``scale`` · loss(outputs, targets) + (alpha / 2) Σ W² / batch size: scikit-learn's MLP
    objective, with the L2 penalty on the weights (not the biases) divided by each batch's size.

    The penalty's gradient, alpha · W / batch size, is not recorded in the graph: the optimiser
    adds it as the weight decay of the weights' parameter group (g ← g + weight_decay · W, the
    same step), which this loss sets for each batch just before ``fit`` runs backward and step.
    Recording Σ W² as graph nodes instead cost a third of the training time on the digits. The
    penalty's value is added as a constant, so the reported loss is scikit-learn's.
    """

    def __init__(
        self,
        loss: nn.Module,
        scale: float,
        alpha: float,
        weights: Sequence[Tensor],
        decay_group: dict[str, Any],
    ) -> None:
        self.loss = loss
        self.scale = scale
        self.alpha = alpha
        self.weights = weights
        self.decay_group = decay_group

    def __call__(self, outputs: Tensor, targets: Tensor) -> Tensor:
        value: Tensor = self.loss(outputs, targets)
        if self.scale != 1.0:
            value = value * self.scale
        if self.alpha:
            value = value + self.penalty(len(targets))
        return value

    def penalty(self, batch: int) -> float:
        """(alpha / 2) Σ W² / batch, with the weight decay of its gradient set for this batch."""
        if not self.alpha:
            return 0.0
        self.decay_group["weight_decay"] = self.alpha / batch
        squares = sum(float(np.vdot(weight.data, weight.data)) for weight in self.weights)
        return 0.5 * self.alpha * squares / batch

    def compile_parts(self) -> tuple[nn.Module, float, Any]:
        """For ``cr.compile``: the loss is scale · loss + penalty(batch size)."""
        return self.loss, self.scale, self.penalty


class _EpochEnd(Callback):
    """Called by ``train.fit`` after each epoch: records the loss and applies the stopping rule
    of scikit-learn's MLPs (the estimator keeps the counters, so partial_fit continues them)."""

    def __init__(self, estimator: _BaseMLP, n_samples: int, validation: Any) -> None:
        self.estimator = estimator
        self.n_samples = n_samples
        self.validation = validation
        self.best_state: dict[str, NDArray[Any]] | None = None

    def on_epoch_end(self, state: TrainingState) -> None:
        if self.estimator._end_epoch(self, state.history.train_loss[-1]):
            state.stop = "no_improvement"


class _BaseMLP(BaseEstimator):  # type: ignore[misc]
    """What the classifier and the regressor share: settings, checks, the training loop."""

    # True for MLPClassifier: y holds labels (1-D, split by class for early stopping).
    _is_classifier = False

    def __init__(
        self,
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 1e-4,
        batch_size: int | str = "auto",
        learning_rate_init: float = 1e-3,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        dtype: str = "float32",
        compile: bool = True,  # noqa: A002 - fit's switch, under its name
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.compile = compile

    # ------------------------------------------------------------------ settings
    def _hidden_sizes(self) -> list[int]:
        sizes: Any = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) or not isinstance(sizes, Iterable):
            listed: list[Any] = [sizes]
        else:
            listed = list(sizes)
        bad = [
            size
            for size in listed
            if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1
        ]
        if bad:
            raise ValueError(
                "hidden_layer_sizes must be a positive integer or a sequence of them, got "
                f"{self.hidden_layer_sizes!r}"
            )
        return [int(size) for size in listed]

    def _check_settings(self) -> None:
        """Raise ValueError for a setting out of range, naming it (checked in fit, as
        scikit-learn estimators do, so that set_params and grid searches can change them)."""
        self._hidden_sizes()
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation must be one of {', '.join(map(repr, _ACTIVATIONS))}, "
                f"got {self.activation!r}"
            )
        if self.solver not in _SOLVERS:
            raise ValueError(
                f"solver must be 'adam' or 'sgd', got {self.solver!r} (chainrule's MLPs train "
                "by stochastic gradients only; there is no 'lbfgs')"
            )
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if not isinstance(self.compile, (bool, np.bool_)):
            raise TypeError(f"compile must be True or False, got {self.compile!r}")
        batch = self.batch_size
        if batch != "auto" and (
            isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1
        ):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, got {batch!r}")
        check_number("alpha", self.alpha, low=0.0)
        check_number("learning_rate_init", self.learning_rate_init, low=0.0, low_open=True)
        check_number("tol", self.tol, low=0.0)
        check_number("momentum", self.momentum, low=0.0, high=1.0)
        check_number("beta_1", self.beta_1, low=0.0, high=1.0, high_open=True)
        check_number("beta_2", self.beta_2, low=0.0, high=1.0, high_open=True)
        check_number("epsilon", self.epsilon, low=0.0, low_open=True)
        check_number(
            "validation_fraction",
            self.validation_fraction,
            low=0.0,
            high=1.0,
            low_open=True,
            high_open=True,
        )
        check_count("max_iter", self.max_iter)
        check_count("n_iter_no_change", self.n_iter_no_change)
        for name in ("shuffle", "verbose", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    # ------------------------------------------------------------------ the network
    def _build(self, n_features: int, n_outputs: int, rng: np.random.Generator) -> nn.Sequential:
        # The parameters are made in the estimator's own dtype, not the library's default.
        return nn.mlp(
            n_features,
            self._hidden_sizes(),
            n_outputs,
            activation=_ACTIVATIONS[self.activation],
            dtype=np.dtype(self.dtype),
            rng=rng,
        )

    def _weights_and_biases(self) -> tuple[list[Tensor], list[Tensor]]:
        linears = [layer for layer in self.model_ if isinstance(layer, nn.Linear)]
        biases: list[Tensor] = [layer.bias for layer in linears if layer.bias is not None]
        return [layer.weight for layer in linears], biases

    def _new_optimizer(self) -> optim.Optimizer:
        weights, biases = self._weights_and_biases()
        # Group 0 holds the weights, whose weight decay _PenalisedLoss sets for each batch.
        parameters = [
            {"params": weights, "weight_decay": 0.0},
            {"params": biases, "weight_decay": 0.0},
        ]
        if self.solver == "sgd":
            return optim.SGD(
                parameters,
                lr=self.learning_rate_init,
                momentum=self.momentum,
                nesterov=bool(self.nesterovs_momentum and self.momentum > 0),
            )
        return optim.Adam(
            parameters,
            lr=self.learning_rate_init,
            betas=(self.beta_1, self.beta_2),
            eps=self.epsilon,
        )

    def _outputs(self, X: NDArray[Any]) -> NDArray[np.float64]:
        """The network's outputs for X (already validated), as float64, without a graph."""
        was_training = self.model_.training
        self.model_.eval()
        try:
            with no_grad():
                out = self.model_(Tensor(X, dtype=self.dtype))
        finally:
            self.model_.train(was_training)
        return np.asarray(out.data, dtype=np.float64)

    # ------------------------------------------------------------------ subclass hooks
    def _validate_targets(self, y: Any, *, incremental: bool, classes: Any) -> None:
        raise NotImplementedError

    def _encode(self, y: Any) -> NDArray[Any]:
        raise NotImplementedError

    def _loss(self) -> tuple[nn.Module, float]:
        raise NotImplementedError

    def _score(self, X: NDArray[Any], y: Any) -> float:
        raise NotImplementedError

    def _n_units(self) -> int:
        raise NotImplementedError

    def _out_activation(self) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ training
    def _fit(self, X: Any, y: Any, *, incremental: bool, classes: Any = None) -> _BaseMLP:
        self._check_settings()
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True: it needs a validation set "
                "held out of every call"
            )
        first = not hasattr(self, "model_") or not (incremental or self.warm_start)
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            dtype=np.dtype(self.dtype),
            multi_output=not self._is_classifier,
            y_numeric=not self._is_classifier,
        )
        self._validate_targets(y, incremental=incremental, classes=classes)
        targets = self._encode(y)
        if first:
            self._rng = generator_from(self.random_state)
            self.n_outputs_ = self._n_units()
            self.out_activation_ = self._out_activation()
            self.model_ = self._build(X.shape[1], self.n_outputs_, self._rng)
            self.n_layers_ = len(self._hidden_sizes()) + 2
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_: list[float] = []
            early = bool(self.early_stopping)
            self.best_loss_: float | None = None if early else math.inf
            self.validation_scores_: list[float] | None = [] if early else None
            self.best_validation_score_: float | None = -math.inf if early else None
        if first or not incremental:
            # Each fit has its own patience (scikit-learn carries the count over into a
            # warm-started fit, which then may stop after one epoch).
            self._no_improvement_count = 0
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_optimizer()
        validation = None
        if self.early_stopping:
            X, targets, y, validation = self._split(X, targets, y)
        self._train(X, targets, validation, incremental=incremental)
        return self

    def _split(self, X: Any, targets: Any, y: Any) -> tuple[Any, Any, Any, Any]:
        stratify = y if self._is_classifier else None
        seed = int(self._rng.integers(SEED_BOUND) % (2**32))
        X, X_val, targets, _, y, y_val = train_test_split(
            X, targets, y, test_size=self.validation_fraction, random_state=seed, stratify=stratify
        )
        if len(X_val) < 2:
            raise ValueError(
                f"The validation set is too small ({len(X_val)} samples): increase "
                "validation_fraction or the size of the data set"
            )
        return X, targets, y, (X_val, y_val)

    def _batch_size(self, n_samples: int) -> int:
        if self.batch_size == "auto":
            return min(200, n_samples)
        batch = int(self.batch_size)
        if batch > n_samples:
            warnings.warn(
                f"batch_size={batch} is larger than the {n_samples} training samples; "
                f"using {n_samples} (full-batch gradient descent)",
                UserWarning,
                stacklevel=5,
            )
        return min(batch, n_samples)

    def _train(self, X: Any, targets: Any, validation: Any, *, incremental: bool) -> None:
        n_samples = len(X)
        loader = DataLoader(
            TensorDataset(X, targets),
            batch_size=self._batch_size(n_samples),
            shuffle=bool(self.shuffle),
            seed=int(self._rng.integers(SEED_BOUND)),
        )
        loss, scale = self._loss()
        weights, _ = self._weights_and_biases()
        decay_group = self._optimizer.param_groups[0]
        loss_fn = _PenalisedLoss(loss, scale, float(self.alpha), weights, decay_group)
        epochs = 1 if incremental else int(self.max_iter)
        monitor = _EpochEnd(self, n_samples, validation)
        history = fit(
            self.model_,
            loss_fn,
            self._optimizer,
            loader,
            epochs=epochs,
            callbacks=[monitor],
            progress=False,
            compile=bool(self.compile),
        )
        if validation is not None and monitor.best_state is not None:
            # Early stopping keeps the network of the best validation score, as scikit-learn.
            self.model_.load_state_dict(monitor.best_state)
        if not incremental and history.stopped_by == "max_epochs":
            warnings.warn(
                f"{type(self).__name__}: stochastic optimiser stopped at max_iter={self.max_iter}"
                " epochs without converging; raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _end_epoch(self, monitor: _EpochEnd, loss: float) -> bool:
        """Record one epoch; True when the stopping rule says enough."""
        self.n_iter_ += 1
        self.t_ += monitor.n_samples
        self.loss_ = loss
        self.loss_curve_.append(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        tol = float(self.tol)
        if monitor.validation is not None:
            X_val, y_val = monitor.validation
            score = self._score(X_val, y_val)
            if self.validation_scores_ is None or self.best_validation_score_ is None:
                # A warm start with early_stopping switched on after a fit without it.
                self.validation_scores_, self.best_validation_score_ = [], -math.inf
            self.validation_scores_.append(score)
            best = self.best_validation_score_
            if self.verbose:
                print(f"Validation score: {score:.6f}")
            self._no_improvement_count = (
                0 if score >= best + tol else self._no_improvement_count + 1
            )
            if score > best:
                self.best_validation_score_ = score
                monitor.best_state = self.model_.state_dict()
        else:
            if self.best_loss_ is None:
                # A warm start with early_stopping switched off after a fit with it.
                self.best_loss_ = math.inf
            improved = loss <= self.best_loss_ - tol
            self._no_improvement_count = 0 if improved else self._no_improvement_count + 1
            self.best_loss_ = min(self.best_loss_, loss)
        if self._no_improvement_count > self.n_iter_no_change:
            if self.verbose:
                measure = "Validation score" if monitor.validation is not None else "Training loss"
                print(
                    f"{measure} did not improve more than tol={tol} for "
                    f"{self.n_iter_no_change} consecutive epochs. Stopping."
                )
            return True
        return False


class MLPClassifier(ClassifierMixin, _BaseMLP):  # type: ignore[misc]
    """A multilayer perceptron classifier, trained by chainrule; parameters as
    ``sklearn.neural_network.MLPClassifier``.

    The network is ``chainrule.nn.mlp(n_features, hidden_layer_sizes, n_outputs, activation)``
    with PyTorch's default initialisation (uniform in ±1/sqrt(fan_in)). For two classes it has
    one output, the logit of ``classes_[1]``, trained with ``nn.BCEWithLogitsLoss`` (the
    logistic output and log-loss of scikit-learn's MLP); for more classes one logit per class,
    trained with ``nn.CrossEntropyLoss`` (softmax). The L2 penalty and the stopping rule are
    scikit-learn's (see the module docstring). ``partial_fit`` runs one epoch and needs
    ``classes`` on its first call.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Widths of the hidden layers; ``()`` gives logistic regression.
    activation : {'relu', 'tanh', 'logistic', 'identity', 'leaky_relu'}, default='relu'
        Hidden units' activation ('sigmoid' is accepted for 'logistic').
    solver : {'adam', 'sgd'}, default='adam'
        ``optim.Adam`` (``beta_1``, ``beta_2``, ``epsilon``) or ``optim.SGD`` (``momentum``,
        ``nesterovs_momentum``), with learning rate ``learning_rate_init``.
    alpha : float, default=1e-4
        Strength of the L2 penalty (alpha / 2) Σ W² / batch size on the weights.
    batch_size : int or 'auto', default='auto'
        Samples per minibatch; 'auto' is min(200, n_samples).
    learning_rate_init : float, default=1e-3
    max_iter : int, default=200
        Most epochs per ``fit``.
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the initial weights, the shuffling and the validation split. None draws the seed
        from chainrule's library generator, which ``cr.manual_seed`` seeds.
    tol : float, default=1e-4
    verbose : bool, default=False
        Print the loss after each epoch.
    warm_start : bool, default=False
        Let ``fit`` continue from the current network instead of starting anew.
    momentum : float, default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified), stop when its
        accuracy stops improving, and keep the network of the best epoch.
    validation_fraction : float, default=0.1
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
    n_iter_no_change : int, default=10
        Epochs without an improvement of ``tol`` tolerated before stopping.
    dtype : {'float32', 'float64'}, default='float32'
        Dtype of the network's parameters and computations. Probabilities are returned as
        float64 either way.
    compile : bool, default=True
        Train with the compiled step (``cr.compile``); False trains eagerly, the same numbers
        to float32 rounding.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : chainrule.nn.Sequential
        The trained network (logits out); save it with ``chainrule.save``.
    loss_ : float
        Loss of the last epoch (penalty included).
    loss_curve_ : list of float
        Loss of each epoch.
    best_loss_ : float or None
        Smallest epoch loss (None with ``early_stopping``).
    validation_scores_ : list of float or None
        Validation accuracy of each epoch with ``early_stopping``.
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs run, over all calls to fit and partial_fit since the network was made.
    t_ : int
        Training samples seen.
    n_layers_ : int
        Layers counting the input and output layers.
    n_outputs_ : int
        Output units: 1 for two classes, else n_classes.
    out_activation_ : str
        'logistic' or 'softmax'.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names (a pandas DataFrame).

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.sklearn import MLPClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]] * 8)
    >>> y = np.array(["no", "yes", "yes", "no"] * 8)  # XOR
    >>> clf = MLPClassifier((8,), activation="tanh", learning_rate_init=0.05, max_iter=300,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict(X[:4])
    array(['no', 'yes', 'yes', 'no'], dtype='<U3')
    >>> clf.predict_proba(X[:4]).sum(axis=1)
    array([1., 1., 1., 1.])
    """

    _is_classifier = True
    classes_: NDArray[Any]

    def fit(self, X: ArrayLike, y: ArrayLike) -> MLPClassifier:
        """Train the network on (X, y) for up to ``max_iter`` epochs; return self."""
        self._fit(X, y, incremental=False)
        return self

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None) -> Any:
        """Train one epoch on (X, y), continuing from the current network; return self.

        ``classes`` (all the labels that will ever appear) is required on the first call, since
        a batch may not hold every class; later calls may omit it.
        """
        self._fit(X, y, incremental=True, classes=classes)
        return self

    def _validate_targets(self, y: Any, *, incremental: bool, classes: Any) -> None:
        check_classification_targets(y)
        trained = hasattr(self, "model_")
        if incremental:
            if classes is not None:
                wanted = unique_labels(classes)
                if trained and not np.array_equal(wanted, self.classes_):
                    raise ValueError(
                        f"partial_fit: classes={wanted.tolist()} differ from the classes the "
                        f"network was made for, {self.classes_.tolist()}"
                    )
                self.classes_ = wanted
            elif not trained:
                raise ValueError(
                    "partial_fit: pass classes= (every label that will ever appear) on the "
                    "first call"
                )
        elif self.warm_start and trained:
            if not np.array_equal(unique_labels(y), self.classes_):
                raise ValueError(
                    f"warm_start needs y with the same classes as the previous fit, "
                    f"{self.classes_.tolist()}; y has {unique_labels(y).tolist()}"
                )
        else:
            self.classes_ = unique_labels(y)
        check_at_least_two_classes(self.classes_, type(self).__name__)
        unknown = np.setdiff1d(unique_labels(y), self.classes_)
        if len(unknown):
            raise ValueError(
                f"y has labels that are not in classes_ {self.classes_.tolist()}: "
                f"{unknown.tolist()}"
            )

    def _n_units(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    def _out_activation(self) -> str:
        return "logistic" if len(self.classes_) == 2 else "softmax"

    def _encode(self, y: Any) -> NDArray[Any]:
        indices: NDArray[np.intp] = np.searchsorted(self.classes_, y)
        if len(self.classes_) == 2:
            return indices.astype(self.dtype).reshape(-1, 1)
        return indices.astype(np.int64)

    def _loss(self) -> tuple[nn.Module, float]:
        if len(self.classes_) == 2:
            return nn.BCEWithLogitsLoss(), 1.0
        return nn.CrossEntropyLoss(), 1.0

    def _score(self, X: NDArray[Any], y: Any) -> float:
        return float(accuracy_score(y, self._predict_validated(X)))

    def _probabilities(self, X: NDArray[Any]) -> NDArray[np.float64]:
        logits = self._outputs(X)
        if logits.shape[1] == 1:
            # sigmoid(z) = e^(-softplus(-z)), which neither overflows nor loses small values.
            positive = np.exp(-np.logaddexp(0.0, -logits[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exponentials = np.exp(shifted)
        probabilities: NDArray[np.float64] = exponentials / exponentials.sum(axis=1, keepdims=True)
        return probabilities

    def _predict_validated(self, X: NDArray[Any]) -> NDArray[Any]:
        labels: NDArray[Any] = self.classes_[np.argmax(self._probabilities(X), axis=1)]
        return labels

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """Probability of each class, shape (n_samples, n_classes), columns as ``classes_``;
        computed in float64 from the network's logits, so each row sums to 1."""
        check_is_fitted(self)
        samples = validate_data(self, X, reset=False, dtype=np.dtype(self.dtype))
        return self._probabilities(samples)

    def predict_log_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """The logarithm of ``predict_proba``."""
        probabilities = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(probabilities)

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The most probable class of each row of X."""
        check_is_fitted(self)
        samples = validate_data(self, X, reset=False, dtype=np.dtype(self.dtype))
        return self._predict_validated(samples)


class MLPRegressor(RegressorMixin, _BaseMLP):  # type: ignore[misc]
    """A multilayer perceptron regressor, trained by chainrule; parameters as
    ``sklearn.neural_network.MLPRegressor``.

    The network is ``chainrule.nn.mlp(n_features, hidden_layer_sizes, n_outputs, activation)``
    with a linear output, one unit per target column, trained on half the mean squared error
    (``nn.MSELoss`` / 2, scikit-learn's squared-error loss) plus the L2 penalty. Several
    targets (y of shape (n_samples, n_outputs)) are fitted by one network. ``partial_fit`` runs
    one epoch. Scale the targets (and the features) to order 1, for instance with
    ``sklearn.compose.TransformedTargetRegressor``: the default learning rate assumes it.

    Its parameters are those of ``MLPClassifier``; with ``early_stopping`` the validation
    score is R².

    Attributes
    ----------
    model_ : chainrule.nn.Sequential
        The trained network; save it with ``chainrule.save``.
    loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, n_iter_, t_,
    n_layers_, n_features_in_, feature_names_in_
        As in ``MLPClassifier``.
    n_outputs_ : int
        Target columns.
    out_activation_ : str
        'identity'.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 64).reshape(-1, 1)
    >>> y = X[:, 0] ** 2
    >>> reg = MLPRegressor((16,), activation="tanh", learning_rate_init=0.02, max_iter=500,
    ...                    random_state=0).fit(X, y)
    >>> bool(reg.score(X, y) > 0.9)
    True
    """

    def fit(self, X: ArrayLike, y: ArrayLike) -> MLPRegressor:
        """Train the network on (X, y) for up to ``max_iter`` epochs; return self."""
        self._fit(X, y, incremental=False)
        return self

    def partial_fit(self, X: ArrayLike, y: ArrayLike) -> MLPRegressor:
        """Train one epoch on (X, y), continuing from the current network; return self."""
        self._fit(X, y, incremental=True)
        return self

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _validate_targets(self, y: Any, *, incremental: bool, classes: Any) -> None:
        columns = 1 if y.ndim == 1 else y.shape[1]
        continuing = hasattr(self, "model_") and (incremental or self.warm_start)
        if continuing and columns != self.n_outputs_:
            raise ValueError(
                f"y has {columns} target column(s), but the network was trained on "
                f"{self.n_outputs_}"
            )
        self._columns = columns

    def _n_units(self) -> int:
        return self._columns

    def _out_activation(self) -> str:
        return "identity"

    def _encode(self, y: Any) -> NDArray[Any]:
        return np.asarray(y, dtype=self.dtype).reshape(len(y), -1)

    def _loss(self) -> tuple[nn.Module, float]:
        # Half the squared error, as scikit-learn's MLPRegressor, so that alpha and the
        # learning rates mean the same in both.
        return nn.MSELoss(), 0.5

    def _score(self, X: NDArray[Any], y: Any) -> float:
        return float(r2_score(y, self._predict_validated(X)))

    def _predict_validated(self, X: NDArray[Any]) -> NDArray[np.float64]:
        outputs = self._outputs(X)
        if outputs.shape[1] == 1:
            return outputs[:, 0]
        return outputs

    def predict(self, X: ArrayLike) -> NDArray[np.float64]:
        """Predicted targets: shape (n_samples,) for one target column, else
        (n_samples, n_outputs); float64, computed by the network in its ``dtype``."""
        check_is_fitted(self)
        samples = validate_data(self, X, reset=False, dtype=np.dtype(self.dtype))
        return self._predict_validated(samples)
