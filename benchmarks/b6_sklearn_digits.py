"""B6: chainrule.sklearn.MLPClassifier against scikit-learn's MLPClassifier on the built-in digits.

The 1,797 8x8 digits of ``chainrule.data.load_digits`` (pixels / 16), split once with a fixed
seed into 1,347 training and 450 test images. Both estimators get the same settings: hidden
layer (64,), ReLU, Adam with learning rate 1e-3, batch 200, alpha 1e-4, and exactly ``--epochs``
epochs (tol=0 with n_iter_no_change = epochs turns the stopping rule off). chainrule trains in
float32 (its default) and, as a second contestant, in float64 (scikit-learn's dtype for float64
input). Rounds are interleaved (chainrule, chainrule float64, scikit-learn, chainrule, ...); each
figure is the best of three fits, and each fit uses the next random_state, so the accuracies are
over different initialisations. One warm-up fit each comes first (it loads chainrule's compiled
optimiser kernels from Numba's cache); its time is printed on its own line.
Needs ``pip install "chainrule[sklearn]" threadpoolctl``. Run:
python benchmarks/b6_sklearn_digits.py [--rounds 5] [--epochs 200] [--threads 1]

One BLAS thread by default: the products here are small (200 x 64 by 64 x 64), so a second
thread saves little, and on a busy machine OpenBLAS's threaded path for chainrule's forward
product ``x @ W.T`` waits milliseconds for a core (``--threads 2`` shows it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import interleave, limit_threads, report, versions  # noqa: E402

HIDDEN = (64,)
BATCH = 200
LEARNING_RATE = 1e-3
N_TRAIN = 1347


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from chainrule.data import load_digits

    images, labels = load_digits()
    X = images.reshape(len(images), -1).astype(np.float64) / 16.0
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    return X[train], labels[train], X[test], labels[test]


def settings(epochs: int) -> dict[str, Any]:
    return dict(
        hidden_layer_sizes=HIDDEN,
        activation="relu",
        solver="adam",
        alpha=1e-4,
        batch_size=BATCH,
        learning_rate_init=LEARNING_RATE,
        max_iter=epochs,
        tol=0.0,
        n_iter_no_change=epochs,
    )


class Contestant:
    """Fits a fresh estimator per call (next random_state) and keeps each fit's test accuracy."""

    def __init__(self, make: Callable[[int], Any], data: tuple[np.ndarray, ...]) -> None:
        self.make = make
        self.X_train, self.y_train, self.X_test, self.y_test = data
        self.accuracies: list[float] = []
        self.epochs_run: set[int] = set()
        self.seed = 0

    def fit(self) -> None:
        estimator = self.make(self.seed)
        self.seed += 1
        with warnings.catch_warnings():
            # Running all the epochs without the stopping rule is the point here.
            warnings.simplefilter("ignore")
            estimator.fit(self.X_train, self.y_train)
        self.epochs_run.add(int(estimator.n_iter_))
        self.accuracies.append(float(estimator.score(self.X_test, self.y_test)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    args = parser.parse_args()
    # Imported first, so that the BLAS libraries they load are limited too.
    import sklearn
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    import chainrule as cr
    from chainrule.sklearn import MLPClassifier

    limit_threads(args.threads)

    data = load()
    common = settings(args.epochs)
    contestants = {
        "chainrule": Contestant(lambda seed: MLPClassifier(**common, random_state=seed), data),
        "chainrule float64": Contestant(
            lambda seed: MLPClassifier(**common, random_state=seed, dtype="float64"), data
        ),
        "scikit-learn": Contestant(lambda seed: SklearnMLP(**common, random_state=seed), data),
    }
    warm_up = {}
    for name, contestant in contestants.items():
        started = time.perf_counter()
        contestant.fit()
        warm_up[name] = time.perf_counter() - started
    for contestant in contestants.values():
        contestant.accuracies.clear()
    results = interleave(
        {name: contestant.fit for name, contestant in contestants.items()},
        rounds=args.rounds,
        repeat=1,
    )
    for name, contestant in contestants.items():
        if contestant.epochs_run != {args.epochs}:
            raise SystemExit(f"{name} ran {contestant.epochs_run} epochs, not {args.epochs}")

    print(
        f"B6 digits MLPClassifier: {N_TRAIN} train / {len(data[2])} test images, hidden {HIDDEN}, "
        f"Adam lr {LEARNING_RATE:g}, batch {BATCH}, {args.epochs} epochs, "
        f"{args.threads} BLAS thread(s), {args.rounds} rounds x best of 3 fits"
    )
    print(versions({"chainrule": cr.__version__, "scikit-learn": sklearn.__version__}))
    print(report(results, "scikit-learn", "s", 1.0, "per fit"))
    print("test accuracy, median (min-max) over every timed fit, one random_state each:")
    for name, contestant in contestants.items():
        values = contestant.accuracies
        print(
            f"  {name:<20} {statistics.median(values):.4f} ({min(values):.4f}-{max(values):.4f})"
            f"  over {len(values)} fits"
        )
    print(
        "first (warm-up) fit, s: "
        + ", ".join(f"{name} {seconds:.2f}" for name, seconds in warm_up.items())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
