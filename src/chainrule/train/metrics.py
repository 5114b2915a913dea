"""How good predictions are, by task, each beside the baseline a model must beat.

Classification: accuracy, macro-averaged F1 and the confusion matrix, against always guessing
the majority class of the training rows. Regression: RMSE, MAE and R², against always
predicting the training mean. Definitions as in scikit-learn's ``sklearn.metrics``.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Counts (int64, classes x classes): row = true class, column = predicted class."""
    counts = np.bincount(true * classes + predicted, minlength=classes * classes)
    return counts.reshape(classes, classes)


def accuracy(true: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(true == predicted)) if len(true) else float("nan")


def f1_macro(true: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    """The unweighted mean over classes of F1 = 2 TP / (2 TP + FP + FN); a class with no true
    and no predicted rows counts as 0, as scikit-learn's ``zero_division=0`` does, and classes
    absent from both are left out of the mean, as scikit-learn's labels default does."""
    matrix = confusion_matrix(true, predicted, classes)
    hits = np.diag(matrix).astype(np.float64)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)
    present = denominator > 0
    if not present.any():
        return float("nan")
    return float(np.mean(2 * hits[present] / denominator[present]))


def rmse(true: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((true - predicted) ** 2)))


def mae(true: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(true - predicted)))


def r2(true: np.ndarray, predicted: np.ndarray) -> float:
    """1 - SS_res / SS_tot; NaN when the true values are all equal (no variance to explain)."""
    total = float(np.sum((true - true.mean()) ** 2))
    if total == 0:
        return float("nan")
    return 1.0 - float(np.sum((true - predicted) ** 2)) / total


def classification_metrics(
    true: np.ndarray, predicted: np.ndarray, classes: int, majority: int
) -> dict[str, float]:
    """Accuracy and macro F1 of ``predicted``, and of always predicting ``majority``."""
    baseline = np.full_like(true, majority)
    return {
        "accuracy": accuracy(true, predicted),
        "f1_macro": f1_macro(true, predicted, classes),
        "baseline_accuracy": accuracy(true, baseline),
        "baseline_f1_macro": f1_macro(true, baseline, classes),
    }


def regression_metrics(true: np.ndarray, predicted: np.ndarray, mean: float) -> dict[str, float]:
    """RMSE, MAE and R² of ``predicted``, and of always predicting ``mean``."""
    baseline = np.full_like(true, mean, dtype=np.float64)
    return {
        "rmse": rmse(true, predicted),
        "mae": mae(true, predicted),
        "r2": r2(true, predicted),
        "baseline_rmse": rmse(true, baseline),
        "baseline_mae": mae(true, baseline),
        "baseline_r2": r2(true, baseline),
    }
