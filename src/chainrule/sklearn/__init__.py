"""scikit-learn estimators trained by chainrule: drop them into pipelines and grid searches.

- ``MLPClassifier`` and ``MLPRegressor``: networks built by ``chainrule.nn.mlp``, trained with
  chainrule's own losses, optimisers (Adam, SGD), ``DataLoader`` and ``train.fit``; the trained
  network is ``model_``.
- ``Perceptron`` and ``NearestMeanClassifier``: the classic classifiers of
  ``chainrule.classic``, wrapped with scikit-learn's input checks and conventions.

Each passes scikit-learn's ``check_estimator`` suite. scikit-learn is an optional dependency,
installed with ``pip install "chainrule[sklearn]"``; ``import chainrule`` never imports it.

Examples
--------
>>> import numpy as np
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from chainrule.sklearn import NearestMeanClassifier
>>> X = np.array([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0], [4.0, 2.0]])
>>> model = make_pipeline(StandardScaler(), NearestMeanClassifier()).fit(X, [0, 0, 1, 1])
>>> model.predict([[1.0, 1.0], [3.5, 1.0]])
array([0, 1])
"""

_INSTALL = 'pip install "chainrule[sklearn]"'

try:
    import sklearn
except ImportError as error:
    raise ImportError(
        f"chainrule.sklearn needs scikit-learn, which is not installed: {_INSTALL}"
    ) from error

try:
    # validate_data and the estimator tags used here arrived in scikit-learn 1.6.
    from sklearn.utils.validation import validate_data as _validate_data  # noqa: F401
except ImportError as error:
    raise ImportError(
        f"chainrule.sklearn needs scikit-learn 1.6 or later, found {sklearn.__version__}: "
        f"{_INSTALL} --upgrade"
    ) from error

# Imported after the checks above, so that a missing scikit-learn gives the message above.
from ._classic import NearestMeanClassifier, Perceptron  # noqa: E402
from ._mlp import MLPClassifier, MLPRegressor  # noqa: E402

__all__ = ["MLPClassifier", "MLPRegressor", "NearestMeanClassifier", "Perceptron"]
