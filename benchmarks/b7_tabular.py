"""B7: your own table to a trained model and test metrics, chainrule's CLI against scikit-learn.

For each table, the training rows and the test rows are two CSV files, so both libraries see
the same split. chainrule runs ``chainrule train --data train.csv --test test.csv --target y``;
scikit-learn reads the same files with pandas and fits
``Pipeline(ColumnTransformer(SimpleImputer+StandardScaler, SimpleImputer+OneHotEncoder),
MLPClassifier/MLPRegressor)`` with the same network, optimiser (Adam, lr 1e-3, no L2), batch
size and epochs, holding out the same share of the training rows for validation each epoch.
Each run is a fresh process (wall time from its start, imports included; peak RSS from
``getrusage``), the two libraries alternating, ``--rounds`` times. chainrule writes its model,
metrics.json and checkpoint but no plots (``--no-plots``), since scikit-learn draws none.

Tables: a synthetic one (``--rows``, default 1,000,000: 12 decimal columns with 5% missing,
4 integer columns, 3 categorical columns of 5, 50 and 1,000 values with 2% missing, a target
that depends on all of them non-linearly; one classification and one regression version) and
real public tables that ship in PyPI packages: penguins (palmerpenguins) and Seattle weather
(vega_datasets). Also, in this process: chainrule's preprocessing time against the reader's
own (polars ``read_csv``), and the peak memory of a run against the float32 matrix and the
reader's frame.

Run: python benchmarks/b7_tabular.py [--rows 1000000] [--epochs 5] [--rounds 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import versions  # noqa: E402

HIDDEN = (64, 32)


def synthetic(rows: int, task: str, seed: int = 0) -> dict[str, np.ndarray]:
    """A table with numbers, integers, categories and missing values, and a target ``y``."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    signal = np.zeros(rows)
    for index in range(12):
        values = rng.normal(index, 1 + index / 4, rows)
        signal += np.sin(values - index) * (1 if index % 2 else -0.5)
        values[rng.random(rows) < 0.05] = np.nan
        columns[f"x{index}"] = np.round(values, 4)
    for index in range(4):
        values = rng.integers(0, 10 ** (index + 1), rows)
        signal += 0.3 * ((values % 7) > 3)
        columns[f"n{index}"] = values
    for index, levels in enumerate((5, 50, 1000)):
        codes = rng.zipf(1.3, rows) % levels if levels > 5 else rng.integers(0, levels, rows)
        signal += 0.5 * np.cos(codes)
        names = np.array([f"c{index}_{code}" for code in range(levels)], dtype=object)
        values = names[codes]
        values[rng.random(rows) < 0.02] = None
        columns[f"cat{index}"] = values
    noisy = signal + rng.normal(0, 0.3, rows)
    if task == "classification":
        edges = np.quantile(noisy, [0.5, 0.8])
        labels = np.array(["low", "mid", "high"], dtype=object)
        columns["y"] = labels[np.searchsorted(edges, noisy)]
    else:
        columns["y"] = np.round(10 * noisy + 50, 3)
    return columns


def write_split(columns: dict[str, np.ndarray], folder: Path, test_share: float = 0.2) -> None:
    """``train.csv`` and ``test.csv`` in ``folder``, the rows split at random (seed 0)."""
    import polars as pl

    frame = pl.DataFrame({name: values for name, values in columns.items()}, strict=False)
    frame = frame.with_columns(pl.col(pl.Float64).fill_nan(None))
    order = np.random.default_rng(0).permutation(frame.height)
    cut = int(frame.height * (1 - test_share))
    frame[np.sort(order[:cut])].write_csv(folder / "train.csv")
    frame[np.sort(order[cut:])].write_csv(folder / "test.csv")


def real_tables(folder: Path) -> list[tuple[str, str, str]]:
    """(name, target, task) of the real tables, each written as train.csv/test.csv in a
    subfolder of ``folder``."""
    import polars as pl

    found = []
    try:
        import palmerpenguins

        penguins = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"
        frame = pl.read_csv(penguins, null_values=["NA"])
        for target, task in (("species", "classification"), ("body_mass_g", "regression")):
            name = f"penguins-{target}"
            subset = frame.filter(pl.col(target).is_not_null())
            _split_frame(subset, folder / name)
            found.append((name, target, task))
    except ImportError:
        pass
    try:
        import vega_datasets

        weather = Path(vega_datasets.__file__).parent / "_data" / "seattle-weather.csv"
        frame = pl.read_csv(weather).drop("date")
        _split_frame(frame, folder / "seattle-weather")
        found.append(("seattle-weather", "weather", "classification"))
    except ImportError:
        pass
    return found


def _split_frame(frame: object, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = frame.height  # type: ignore[attr-defined]
    order = np.random.default_rng(0).permutation(rows)
    cut = int(rows * 0.8)
    frame[np.sort(order[:cut])].write_csv(folder / "train.csv")  # type: ignore[index]
    frame[np.sort(order[cut:])].write_csv(folder / "test.csv")  # type: ignore[index]


# The high-water mark of this process's resident memory. Not getrusage's ru_maxrss, which a
# process started with fork and exec inherits from its parent (this script, with its tables).
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

CHAINRULE = (
    PEAK
    + """
import json, sys, time
started = time.perf_counter()
from chainrule.cli import main
code = main(sys.argv[1:])
seconds = time.perf_counter() - started
print(json.dumps({"code": code, "seconds": seconds, "peak_mb": peak_mb()}))
"""
)

SKLEARN = (
    PEAK
    + """
import json, sys, time, warnings
started = time.perf_counter()
import numpy as np, pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn import metrics
folder, target, task, epochs, batch, val = sys.argv[1:7]
train = pd.read_csv(f"{folder}/train.csv")
test = pd.read_csv(f"{folder}/test.csv")
features = [c for c in train.columns if c != target]
numeric = [c for c in features if train[c].dtype.kind in "biuf"]
categorical = [c for c in features if c not in numeric]
prepare = ColumnTransformer([
    ("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                              StandardScaler()), numeric),
    ("categories", make_pipeline(SimpleImputer(strategy="constant", fill_value="(missing)"),
                                 OneHotEncoder(handle_unknown="infrequent_if_exist",
                                               max_categories=101)), categorical),
])
options = dict(hidden_layer_sizes=(64, 32), solver="adam", learning_rate_init=1e-3, alpha=0.0,
               batch_size=int(batch), max_iter=int(epochs), early_stopping=True,
               validation_fraction=float(val), n_iter_no_change=int(epochs) + 1, tol=0.0,
               random_state=0)
model = MLPClassifier(**options) if task == "classification" else MLPRegressor(**options)
pipeline = Pipeline([("prepare", prepare), ("mlp", model)])
y = train[target].to_numpy()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    pipeline.fit(train[features], y)
predicted = pipeline.predict(test[features])
true = test[target].to_numpy()
if task == "classification":
    found = {"test_accuracy": metrics.accuracy_score(true, predicted),
             "test_f1_macro": metrics.f1_score(true, predicted, average="macro")}
else:
    found = {"test_rmse": metrics.root_mean_squared_error(true, predicted),
             "test_mae": metrics.mean_absolute_error(true, predicted),
             "test_r2": metrics.r2_score(true, predicted)}
seconds = time.perf_counter() - started
print(json.dumps({"code": 0, "seconds": seconds, **found, "peak_mb": peak_mb()}))
"""
)

KEYS = {
    "classification": ("test_accuracy", "test_f1_macro"),
    "regression": ("test_rmse", "test_mae", "test_r2"),
}


def run_chainrule(folder: Path, target: str, task: str, epochs: int, batch: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="b7-run-")) / "run"
    arguments = [
        "train", "--data", str(folder / "train.csv"), "--test", str(folder / "test.csv"),
        "--target", target, "--task", task, "--epochs", str(epochs), "--batch-size", str(batch),
        "--hidden", ",".join(map(str, HIDDEN)), "--val-fraction", "0.1", "--out", str(out),
        "--quiet", "--no-plots",
    ]  # fmt: skip
    result = _child(CHAINRULE, arguments)
    recorded = json.loads((out / "metrics.json").read_text())
    return {**result, **{key: recorded[key] for key in KEYS[task]}}


def run_sklearn(folder: Path, target: str, task: str, epochs: int, batch: int) -> dict:
    return _child(SKLEARN, [str(folder), target, task, str(epochs), str(batch), "0.1"])


def _child(program: str, arguments: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", program, *arguments], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"a benchmark run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def preprocessing_share(folder: Path, target: str) -> dict[str, float]:
    """In this process: polars' read_csv of train.csv and test.csv, then chainrule's whole
    load_table of both (its read, the task, the split and the fitted preprocessing), and the
    sizes of the float32 matrix and of what load_table keeps of it (the one-hot zeros left out
    until a minibatch asks for its rows)."""
    import polars as pl

    from chainrule.data.table import load_table
    from chainrule.data.table.reading import MISSING_MARKERS

    started = time.perf_counter()
    frames = [
        pl.read_csv(folder / name, null_values=list(MISSING_MARKERS))
        for name in ("train.csv", "test.csv")
    ]
    read = time.perf_counter() - started
    frame_mb = sum(frame.estimated_size() for frame in frames) / 2**20
    del frames
    started = time.perf_counter()
    table = load_table(folder / "train.csv", "y", test=folder / "test.csv", val_fraction=0.1)
    whole = time.perf_counter() - started
    parts = table.inputs.values()
    return {
        "read_s": read,
        "load_table_s": whole,
        "preprocessing_s": whole - read,
        "frame_mb": frame_mb,
        "matrix_mb": sum(part.shape[0] * part.shape[1] * 4 for part in parts) / 2**20,
        "encoded_mb": sum(part.nbytes for part in parts) / 2**20,
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "b7-tables")
    parser.add_argument("--skip-synthetic", action="store_true")
    args = parser.parse_args()
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(args.threads)
    os.environ["POLARS_MAX_THREADS"] = str(args.threads)
    import importlib.metadata as metadata
    import platform

    peers = {}
    for package in ("chainrule", "polars", "scikit-learn", "pandas"):
        try:
            peers[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    print(f"CPU: {_cpu_name()} ({os.cpu_count()} cores), {platform.machine()}")
    print(versions(peers))
    tables: list[tuple[str, str, str, int]] = []
    for name, target, task in real_tables(args.folder):
        tables.append((name, target, task, 32))
    if not args.skip_synthetic:
        for task in ("classification", "regression"):
            folder = args.folder / f"synthetic-{task}-{args.rows}"
            if not (folder / "test.csv").exists():
                folder.mkdir(parents=True, exist_ok=True)
                print(f"writing {folder} ...", flush=True)
                write_split(synthetic(args.rows, task), folder)
            tables.append((folder.name, "y", task, args.batch_size))
    for name, target, task, batch in tables:
        folder = args.folder / name
        epochs = args.epochs if name.startswith("synthetic") else 100
        runs: dict[str, list[dict]] = {"chainrule": [], "scikit-learn": []}
        for _ in range(args.rounds):
            runs["chainrule"].append(run_chainrule(folder, target, task, epochs, batch))
            runs["scikit-learn"].append(run_sklearn(folder, target, task, epochs, batch))
        print(f"\n{name} ({task}, target {target}, {epochs} epochs, batch {batch})")
        print(f"{'library':<14} {'seconds':>9} {'peak MB':>9}  " + "  ".join(KEYS[task]))
        for library, results in runs.items():
            seconds = np.median([r["seconds"] for r in results])
            peak = np.median([r["peak_mb"] for r in results])
            scores = "  ".join(f"{results[-1][key]:.4f}" for key in KEYS[task])
            print(f"{library:<14} {seconds:>9.2f} {peak:>9.0f}  {scores}")
        ratios = [
            a["seconds"] / b["seconds"] for a, b in zip(runs["chainrule"], runs["scikit-learn"])
        ]
        print(f"chainrule / scikit-learn time: {np.median(ratios):.2f}x (per round: "
              + ", ".join(f"{r:.2f}" for r in ratios) + ")")  # fmt: skip
        if name.startswith("synthetic"):
            # Both times vary by 20% from one read to the next here: the median of three.
            shares = [preprocessing_share(folder, target) for _ in range(3)]
            share = {key: float(np.median([s[key] for s in shares])) for key in shares[0]}
            peak = np.median([r["peak_mb"] for r in runs["chainrule"]])
            ratio = share["preprocessing_s"] / share["read_s"]
            print(
                f"reader {share['read_s']:.2f} s, chainrule's preprocessing "
                f"{share['preprocessing_s']:.2f} s ({ratio:.2f}x the reader); float32 matrix "
                f"{share['matrix_mb']:.0f} MB (kept encoded: {share['encoded_mb']:.0f} MB), frame "
                f"{share['frame_mb']:.0f} MB; peak {peak:.0f} MB = "
                f"{peak / (2 * share['matrix_mb'] + share['frame_mb']):.2f}x (2 x matrix + frame)"
            )


if __name__ == "__main__":
    main()
