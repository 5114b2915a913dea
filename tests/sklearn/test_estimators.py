"""chainrule.sklearn: scikit-learn's own estimator checks, plus what users rely on.

Pipelines and grid searches, probabilities that sum to one, regression to small error,
partial_fit that keeps learning, reproducibility from random_state, the digits at >= 90 %, and
the wrappers of the classic classifiers agreeing with chainrule.classic.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import classic, nn  # noqa: E402
from chainrule.data import load_digits, make_blobs, make_elongated, make_xor  # noqa: E402
from chainrule.sklearn import (  # noqa: E402
    MLPClassifier,
    MLPRegressor,
    NearestMeanClassifier,
    Perceptron,
)

# Small networks and few epochs keep scikit-learn's ~55 checks per estimator quick; the
# learning rate is raised so that the checks' accuracy (> 0.83) and R² (> 0.5) thresholds are
# still met within those epochs.
CHECKED = [
    MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=50),
    MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=50),
    Perceptron(),
    NearestMeanClassifier(),
]


# For fits that stop at max_iter on purpose, whose ConvergenceWarning is expected.
ignore_convergence = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# The check instances stop at max_iter on purpose (and the perceptron meets data that no line
# separates), so their ConvergenceWarnings are expected; no check is declared as failing.
@ignore_convergence
@parametrize_with_checks(CHECKED)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_import_without_scikit_learn_names_the_extra():
    # A fresh interpreter in which `import sklearn` fails, as when it is not installed.
    code = (
        "import sys\n"
        "sys.modules['sklearn'] = None\n"
        "try:\n"
        "    import chainrule.sklearn\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert 'pip install "chainrule[sklearn]"' in result.stdout


def test_import_chainrule_does_not_import_scikit_learn():
    code = "import sys, chainrule; print('sklearn' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"


# ---------------------------------------------------------------------------- data
def _blobs(n: int = 240, centers: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n, centers=centers, seed=seed)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    images, labels = load_digits()
    X = images.reshape(len(images), -1).astype(np.float64) / 16.0
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1347], order[1347:]
    return X[train], labels[train], X[test], labels[test]


# ---------------------------------------------------------------------------- MLPClassifier
@ignore_convergence
def test_pipeline_with_scaler_and_grid_search():
    X, y = _blobs()
    pipeline = Pipeline(
        [
            ("scale", StandardScaler()),
            ("mlp", MLPClassifier(learning_rate_init=0.01, max_iter=60, random_state=0)),
        ]
    )
    search = GridSearchCV(
        pipeline,
        {"mlp__hidden_layer_sizes": [(4,), (16, 8)], "mlp__alpha": [1e-4, 1e-1]},
        cv=3,
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["mlp__hidden_layer_sizes"] in [(4,), (16, 8)]
    assert search.score(X, y) > 0.9
    best = search.best_estimator_.named_steps["mlp"]
    assert best.n_features_in_ == 2
    assert list(best.classes_) == [0, 1, 2]


@ignore_convergence
@pytest.mark.parametrize("n_classes", [2, 4])
def test_predict_proba_rows_sum_to_one_and_agree_with_predict(n_classes):
    X, y = _blobs(centers=n_classes)
    clf = MLPClassifier((8,), learning_rate_init=0.01, max_iter=30, random_state=0).fit(X, y)
    probabilities = clf.predict_proba(X)
    assert probabilities.shape == (len(X), n_classes)
    assert probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(probabilities >= 0)
    np.testing.assert_array_equal(clf.classes_[probabilities.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(probabilities))
    # Two classes: one logit (BCE with logits), more: one per class (softmax).
    assert clf.n_outputs_ == (1 if n_classes == 2 else n_classes)
    assert clf.out_activation_ == ("logistic" if n_classes == 2 else "softmax")


@ignore_convergence
def test_labels_of_any_type_come_back():
    X, y = _blobs(centers=3)
    names = np.array(["cat", "dog", "emu"])[y]
    clf = MLPClassifier((8,), learning_rate_init=0.01, max_iter=40, random_state=0)
    clf.fit(X, names)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"}
    assert clf.score(X, names) > 0.9


@ignore_convergence
def test_same_random_state_gives_identical_predictions():
    X, y = _blobs()

    def fitted(random_state):
        return MLPClassifier((8,), max_iter=5, random_state=random_state).fit(X, y)

    first, second, other = fitted(3), fitted(3), fitted(4)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))
    assert first.loss_curve_ == second.loss_curve_
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))
    # random_state=None draws from chainrule's generator, so manual_seed makes it repeatable.
    cr.manual_seed(11)
    seeded = fitted(None)
    cr.manual_seed(11)
    np.testing.assert_array_equal(seeded.predict_proba(X), fitted(None).predict_proba(X))


def test_partial_fit_continues_training():
    X, y = _blobs(centers=3)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier((8,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[y != 2], y[y != 2], classes=[0, 1, 2])  # a batch need not hold all
    first_weights = clf.model_.state_dict()
    for _ in range(30):
        clf.partial_fit(X, y)
    assert clf.n_iter_ == 31
    assert clf.t_ == int((y != 2).sum()) + 30 * len(X)
    assert len(clf.loss_curve_) == 31
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[1]
    assert not np.array_equal(first_weights["0.weight"], clf.model_.state_dict()["0.weight"])
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, y + 5)


def test_fit_stops_when_loss_stops_improving_and_warns_otherwise():
    X, y = _blobs(centers=2)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier((8,), learning_rate_init=0.05, max_iter=500, random_state=0).fit(X, y)
    assert clf.n_iter_ < 500
    assert clf.best_loss_ == min(clf.loss_curve_)
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)


def test_early_stopping_keeps_the_best_validation_network():
    X, y = _blobs(centers=3)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier(
        (8,), early_stopping=True, learning_rate_init=0.01, max_iter=300, random_state=0
    ).fit(X, y)
    assert clf.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_ < 300
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(X, y) > 0.9


@ignore_convergence
def test_warm_start_continues_and_sgd_solver_learns():
    X, y = _blobs(centers=2)
    X = StandardScaler().fit_transform(X)
    clf = MLPClassifier((8,), solver="sgd", learning_rate_init=0.1, max_iter=20, random_state=0)
    clf.fit(X, y)
    weights = clf.model_.state_dict()["0.weight"]
    clf.set_params(warm_start=True).fit(X, y)
    assert clf.n_iter_ > 20
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.score(X, y) > 0.95
    assert not np.array_equal(weights, clf.model_.state_dict()["0.weight"])
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X, np.where(y == 0, 7, y))


@ignore_convergence
def test_model_is_a_chainrule_network_of_the_chosen_dtype(tmp_path):
    X, y = _blobs(centers=3)
    clf = MLPClassifier((5, 4), max_iter=2, random_state=0).fit(X, y)
    clf64 = MLPClassifier((5, 4), max_iter=2, random_state=0, dtype="float64").fit(X, y)
    assert isinstance(clf.model_, nn.Module)
    shapes = [p.shape for p in clf.model_.parameters()]
    assert shapes == [(5, 2), (5,), (4, 5), (4,), (3, 4), (3,)]
    assert {p.dtype for p in clf.model_.parameters()} == {np.dtype(np.float32)}
    assert {p.dtype for p in clf64.model_.parameters()} == {np.dtype(np.float64)}
    assert clf.n_layers_ == 4
    # The network is the estimator's model: its logits give the same classes.
    logits = clf.model_(cr.tensor(X.astype(np.float32))).numpy()
    np.testing.assert_array_equal(clf.classes_[logits.argmax(axis=1)], clf.predict(X))
    path = tmp_path / "mlp.npz"
    cr.save(clf.model_, path)
    np.testing.assert_array_equal(cr.load(path)(cr.tensor(X.astype(np.float32))).numpy(), logits)


@ignore_convergence
def test_verbose_prints_the_loss_of_each_epoch(capsys):
    X, y = _blobs(centers=2)
    MLPClassifier((4,), max_iter=3, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2", "Iteration 3"]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("hidden_layer_sizes", (4, 0)),
        ("activation", "sign"),
        ("solver", "lbfgs"),
        ("alpha", -1.0),
        ("batch_size", 0),
        ("learning_rate_init", 0.0),
        ("max_iter", 0),
        ("momentum", 1.5),
        ("validation_fraction", 1.0),
        ("dtype", "float16"),
    ],
)
def test_bad_settings_are_refused_in_fit_with_their_name(setting, value):
    X, y = _blobs(n=20, centers=2)
    clf = MLPClassifier(**{setting: value})  # stored without checks, as scikit-learn does
    with pytest.raises(ValueError, match=setting):
        clf.fit(X, y)


def test_predict_before_fit_raises_not_fitted():
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(np.zeros((2, 3)))


@ignore_convergence
def test_digits_accuracy_at_least_ninety_percent():
    X_train, y_train, X_test, y_test = _digits()
    clf = MLPClassifier((64,), max_iter=100, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.9


# ---------------------------------------------------------------------------- MLPRegressor
def test_regressor_fits_a_smooth_function():
    X = np.linspace(-np.pi, np.pi, 200).reshape(-1, 1)
    y = np.sin(X[:, 0])
    reg = MLPRegressor((32,), activation="tanh", learning_rate_init=0.01, max_iter=1000, tol=1e-6)
    reg.set_params(random_state=0).fit(X, y)
    prediction = reg.predict(X)
    assert prediction.shape == (200,)
    assert np.sqrt(np.mean((prediction - y) ** 2)) < 0.05
    # The loss is half the mean squared error (scikit-learn's), plus the small L2 penalty.
    half_mse = 0.5 * np.mean((prediction - y) ** 2)
    assert half_mse <= reg.loss_curve_[-1] * 1.5 + 1e-4


def test_regressor_with_several_targets_and_partial_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    Y = np.stack([X @ [1.0, -2.0, 0.5], X[:, 0] - X[:, 2]], axis=1)
    reg = MLPRegressor((16,), learning_rate_init=0.01, random_state=0)
    losses = []
    for _ in range(40):
        reg.partial_fit(X, Y)
        losses.append(reg.loss_)
    assert reg.n_outputs_ == 2
    assert reg.predict(X).shape == (150, 2)
    assert losses[-1] < 0.2 * losses[0]
    assert reg.score(X, Y) > 0.9
    with pytest.raises(ValueError, match="target column"):
        reg.partial_fit(X, Y[:, 0])


# ---------------------------------------------------------------------------- classic wrappers
def test_perceptron_wraps_the_classic_rule():
    X, y = make_elongated(seed=0)
    ours = Perceptron(max_epochs=1000).fit(X, y)
    reference = classic.Perceptron(max_epochs=1000).fit(X, y)
    np.testing.assert_array_equal(ours.coef_, reference.coef_)
    np.testing.assert_array_equal(ours.intercept_, reference.intercept_)
    assert ours.converged_ and ours.n_iter_ == reference.n_epochs_
    assert ours.score(X, y) == 1.0
    np.testing.assert_array_equal(
        ours.decision_function(X) > 0, ours.predict(X) == ours.classes_[1]
    )


@ignore_convergence  # after the XOR fit: overlapping blobs may not separate either
def test_perceptron_warns_on_xor_and_shuffles_reproducibly():
    X, y = make_xor(seed=0)
    with pytest.warns(ConvergenceWarning, match="max_epochs=5"):
        clf = Perceptron(max_epochs=5).fit(X, y)
    assert not clf.converged_
    X, y = _blobs(centers=3)
    first = Perceptron(shuffle=True, random_state=1).fit(X, y)
    second = Perceptron(shuffle=True, random_state=1).fit(X, y)
    np.testing.assert_array_equal(first.coef_, second.coef_)
    assert first.coef_.shape == (3, 2)


def test_nearest_mean_wraps_the_classic_rule():
    X, y = make_elongated(seed=0)
    ours = NearestMeanClassifier().fit(X, y)
    reference = classic.NearestMeanClassifier().fit(X, y)
    np.testing.assert_array_equal(ours.means_, reference.means_)
    np.testing.assert_array_equal(ours.predict(X), reference.predict(X))
    w, b = ours.as_linear()
    np.testing.assert_allclose(ours.decision_function(X), X @ w + b, rtol=1e-9, atol=1e-9)
    # The elongated classes defeat the nearest mean (the perceptron separates them).
    assert ours.score(X, y) < 0.9
    X3, y3 = _blobs(centers=3)
    three = make_pipeline(StandardScaler(), NearestMeanClassifier()).fit(X3, y3)
    assert three.decision_function(X3).shape == (len(X3), 3)
    assert three.score(X3, y3) > 0.9


# ---------------------------------------------------------------------------- against scikit-learn
def _one_step_from_the_same_weights(ours, theirs, X, y):
    """Fit both for one epoch, give scikit-learn our weights, then take one more full-batch step
    with each (warm start) and return both estimators."""
    ours.fit(X, y)
    theirs.fit(X, y)
    linears = [layer for layer in ours.model_ if isinstance(layer, nn.Linear)]
    theirs.coefs_ = [layer.weight.numpy().T.copy() for layer in linears]
    theirs.intercepts_ = [layer.bias.numpy().copy() for layer in linears]
    ours.set_params(warm_start=True).fit(X, y)
    theirs.set_params(warm_start=True).fit(X, y)
    return ours, theirs


@ignore_convergence  # one epoch each (max_iter=1)
@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_one_step_equals_scikit_learns_step_penalty_included(kind):
    # One full-batch SGD step from the same weights must give the same weights and loss as
    # scikit-learn's MLP: same loss (log-loss or half squared error), same L2 penalty
    # (alpha / 2 Σ W² / n, weights only), same gradient.
    from sklearn import neural_network

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    settings = dict(
        hidden_layer_sizes=(5,),
        activation="tanh",
        solver="sgd",
        momentum=0.0,
        alpha=0.3,
        batch_size=40,
        learning_rate_init=0.1,
        max_iter=1,
        shuffle=False,
        random_state=0,
    )
    if kind == "regression":
        y = X @ [1.0, -1.0, 0.5]
        ours = MLPRegressor(**settings, dtype="float64")
        theirs = neural_network.MLPRegressor(**settings)
    else:
        y = (X[:, 0] > 0).astype(int) + (2 * (X[:, 1] > 1) if kind == "multiclass" else 0)
        ours = MLPClassifier(**settings, dtype="float64")
        theirs = neural_network.MLPClassifier(**settings)
    ours, theirs = _one_step_from_the_same_weights(ours, theirs, X, y)
    linears = [layer for layer in ours.model_ if isinstance(layer, nn.Linear)]
    for layer, coef, intercept in zip(linears, theirs.coefs_, theirs.intercepts_):
        np.testing.assert_allclose(layer.weight.numpy().T, coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.bias.numpy(), intercept, rtol=1e-10, atol=1e-12)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
