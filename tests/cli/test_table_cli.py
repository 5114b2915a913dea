"""``chainrule train --data FILE --target COL``, then ``chainrule predict`` and ``info`` on the
table model it writes.

The penguins table (palmerpenguins) is split here into train.csv and test.csv and trained with
``--test test.csv``; ``predict`` run in a new process on test.csv must give predictions whose
metrics, computed with scikit-learn, are the ones metrics.json holds. The baselines are
recomputed from the training rows, split into fit and validation rows as ``load_table`` does
(``split_rows(rows, val_fraction, seed + 1, labels)``). Bad tables are refused with exit
code 1 and one line naming the file and the column."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from cli_helpers import one_line, run
from sklearn import metrics as sk

from chainrule.cli import main
from chainrule.data.table import MISSING_MARKERS
from chainrule.data.table.split import split_rows

palmerpenguins = pytest.importorskip("palmerpenguins")
PENGUINS = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"
INPUTS = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex", "year"]
CLASSIFICATION_KEYS = {
    f"{split}_{name}"
    for split in ("val", "test")
    for name in ("accuracy", "f1_macro", "baseline_accuracy", "baseline_f1_macro")
}
REGRESSION_KEYS = {
    f"{split}_{name}"
    for split in ("val", "test")
    for name in ("rmse", "mae", "r2", "baseline_rmse", "baseline_mae", "baseline_r2")
}


def _read(path: Path | str) -> pl.DataFrame:
    return pl.read_csv(path, null_values=list(MISSING_MARKERS))


def _metrics(folder: Path) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((folder / "metrics.json").read_text())
    return record


def _predict_in_new_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chainrule", "predict", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )


@pytest.fixture(scope="module")
def split_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """penguins.csv cut into train.csv (three rows of four) and test.csv (every fourth row),
    line by line, so that both keep the file's own text (its NA markers included)."""
    folder = tmp_path_factory.mktemp("penguins")
    header, *rows = PENGUINS.read_text().splitlines()
    train, test = folder / "train.csv", folder / "test.csv"
    train.write_text("\n".join([header] + [r for i, r in enumerate(rows) if i % 4]) + "\n")
    test.write_text("\n".join([header] + rows[::4]) + "\n")
    return train, test


def _train(split_files: tuple[Path, Path], out: Path, target: str, *extra: str) -> Path:
    train, test = split_files
    args = ["train", "--data", str(train), "--target", target, "--test", str(test)]
    code = main([*args, "--out", str(out), "--quiet", "--epochs", "30", *extra])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def species_run(tmp_path_factory: pytest.TempPathFactory, split_files: tuple[Path, Path]) -> Path:
    """A classifier of the penguins' species (with its plots)."""
    return _train(split_files, tmp_path_factory.mktemp("species") / "run", "species")


@pytest.fixture(scope="module")
def mass_run(tmp_path_factory: pytest.TempPathFactory, split_files: tuple[Path, Path]) -> Path:
    """A regression of the penguins' body mass."""
    out = tmp_path_factory.mktemp("mass") / "run"
    return _train(split_files, out, "body_mass_g", "--no-plots")


@pytest.fixture(scope="module")
def species_predictions(species_run: Path, split_files: tuple[Path, Path]) -> str:
    """``chainrule predict`` of test.csv in a new process: its standard output."""
    result = _predict_in_new_process(str(species_run / "model.safetensors"), str(split_files[1]))
    assert result.returncode == 0, result.stderr
    # Only notes: the test rows' missing values of 'sex', sent to the (missing) column.
    notes = result.stderr.splitlines()
    assert all(line.startswith("chainrule predict: note: ") for line in notes), notes
    return result.stdout


def _fit_rows(train: pl.DataFrame, labels: np.ndarray | None) -> np.ndarray:
    """The training rows the model was fitted on: load_table's split of a --test run."""
    fit, _ = split_rows(train.height, 0.1, 0 + 1, labels)
    return fit


# ------------------------------------------------------------------------ train
def test_training_on_a_table_writes_the_classification_metrics(species_run: Path) -> None:
    """metrics.json holds the task, the test and validation metrics beside their baselines,
    and the notes; the model, checkpoint and confusion matrix are written."""
    record = _metrics(species_run)
    assert record["task"] == "classification"
    assert CLASSIFICATION_KEYS <= set(record)
    assert not REGRESSION_KEYS & set(record)
    assert record["notes"][0] == "task: classification, as the target 'species' holds text"
    assert record["config"]["target"] == "species" and record["config"]["test_fraction"] is None
    assert record["test_accuracy"] > record["test_baseline_accuracy"]
    # Per epoch, as for the built-in data sets (the API's metrics.json): a list, not the last value.
    epochs = len(record["train_loss"])
    assert isinstance(record["val_accuracy"], list) and len(record["val_accuracy"]) == epochs
    assert record["val_f1_macro"] is not None  # the final validation metrics are kept beside
    for name in (
        "model.safetensors",
        "checkpoint.safetensors",
        "confusion_matrix.png",
        "training.png",
    ):
        assert (species_run / name).is_file(), name


def test_training_on_a_table_writes_the_regression_metrics(
    mass_run: Path, split_files: tuple[Path, Path]
) -> None:
    """A regression's metrics.json has RMSE, MAE and R² with baselines, and no accuracy; a
    note counts the training rows dropped for their missing target."""
    record = _metrics(mass_run)
    assert record["task"] == "regression"
    assert REGRESSION_KEYS <= set(record)
    assert not {"test_accuracy", "val_accuracy", "train_accuracy"} & set(record)
    train = _read(split_files[0])
    dropped = f"dropped {train['body_mass_g'].null_count()} of {train.height} rows whose target"
    assert any(note.startswith(f"{split_files[0]}: {dropped}") for note in record["notes"])
    assert record["test_r2"] > 0.5


# ------------------------------------------------------------------------ predict
def test_predictions_in_a_new_process_give_the_test_metrics(
    species_run: Path, species_predictions: str, split_files: tuple[Path, Path]
) -> None:
    """predict writes 'prediction' and 'proba_<class>' per test row, in order; their accuracy
    and macro F1 (scikit-learn's) are metrics.json's, and so are the majority baselines."""
    record = _metrics(species_run)
    predictions = pl.read_csv(io.StringIO(species_predictions))
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    assert predictions.columns == ["prediction", *(f"proba_{name}" for name in classes)]
    test = _read(split_files[1])
    assert predictions.height == test.height
    probabilities = predictions.select(f"proba_{name}" for name in classes).to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    best = [classes[i] for i in probabilities.argmax(axis=1)]
    assert predictions["prediction"].to_list() == best
    true, predicted = test["species"].to_list(), predictions["prediction"].to_list()
    assert sk.accuracy_score(true, predicted) == pytest.approx(record["test_accuracy"], abs=1e-12)
    f1 = sk.f1_score(true, predicted, average="macro", zero_division=0)
    assert f1 == pytest.approx(record["test_f1_macro"], abs=1e-9)
    train = _read(split_files[0])
    labels = np.array([classes.index(name) for name in train["species"]])
    majority = classes[int(np.bincount(labels[_fit_rows(train, labels)]).argmax())]
    guess = [majority] * len(true)
    assert sk.accuracy_score(true, guess) == pytest.approx(record["test_baseline_accuracy"])
    assert sk.f1_score(true, guess, average="macro", zero_division=0) == pytest.approx(
        record["test_baseline_f1_macro"]
    )


@pytest.fixture(scope="module")
def mass_metrics(
    mass_run: Path, split_files: tuple[Path, Path]
) -> tuple[dict[str, Any], dict[str, float]]:
    """metrics.json of the body-mass run, and the same test metrics computed by scikit-learn
    from the predictions of ``chainrule predict`` (a new process) for the test rows that have
    a body mass, the baseline being the mean of the rows the model was fitted on."""
    result = _predict_in_new_process(str(mass_run / "model.safetensors"), str(split_files[1]))
    assert result.returncode == 0, result.stderr
    predictions = pl.read_csv(io.StringIO(result.stdout))
    assert predictions.columns == ["prediction"]
    test = _read(split_files[1])
    assert predictions.height == test.height  # the target is not needed: every row predicted
    present = test["body_mass_g"].is_not_null().to_numpy()
    true = test["body_mass_g"].to_numpy()[present].astype(float)
    predicted = predictions["prediction"].to_numpy()[present]
    expected = {
        "test_rmse": np.sqrt(sk.mean_squared_error(true, predicted)),
        "test_mae": sk.mean_absolute_error(true, predicted),
        "test_r2": sk.r2_score(true, predicted),
    }
    train = _read(split_files[0]).filter(pl.col("body_mass_g").is_not_null())
    mean = float(train["body_mass_g"].to_numpy()[_fit_rows(train, None)].mean())
    guess = np.full_like(true, mean)
    expected |= {
        "test_baseline_rmse": np.sqrt(sk.mean_squared_error(true, guess)),
        "test_baseline_mae": sk.mean_absolute_error(true, guess),
        "test_baseline_r2": sk.r2_score(true, guess),
    }
    return _metrics(mass_run), expected


def test_regression_predictions_in_a_new_process_give_the_test_metrics(
    mass_metrics: tuple[dict[str, Any], dict[str, float]],
) -> None:
    """metrics.json's RMSE, MAE and R² and their baselines are scikit-learn's on the
    predictions (to a relative 1e-6)."""
    record, expected = mass_metrics
    for key, value in expected.items():
        assert record[key] == pytest.approx(value, rel=1e-6), key


def test_regression_metrics_are_exact_to_1e6(
    mass_metrics: tuple[dict[str, Any], dict[str, float]],
) -> None:
    """The same to an absolute 1e-6 (predict's 6 decimals move them by at most 5e-7): the
    true body masses are whole grams, yet metrics.json's RMSE is off by about 3e-6, since it
    is computed from the targets standardised in float32 and mapped back."""
    record, expected = mass_metrics
    for key, value in expected.items():
        assert record[key] == pytest.approx(value, rel=0, abs=1e-6), key


def test_columns_in_another_order_and_extra_columns_change_nothing(
    capsys: pytest.CaptureFixture[str],
    species_run: Path,
    species_predictions: str,
    split_files: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    """Columns are matched by name: reversed, with an extra column and without the target,
    the predictions are the same text; rows reversed give them reversed."""
    test = _read(split_files[1])
    shuffled = tmp_path / "shuffled.csv"
    test.select(reversed(test.columns)).drop("species").with_columns(
        note=pl.lit("extra")
    ).write_csv(shuffled)
    code, out, err = run(capsys, "predict", str(species_run / "model.safetensors"), str(shuffled))
    assert code == 0 and "3 missing values of 'sex' sent to its (missing) column" in err
    assert out == species_predictions
    backwards = tmp_path / "backwards.csv"
    test.reverse().write_csv(backwards)
    code, out, _ = run(capsys, "predict", str(species_run / "model.safetensors"), str(backwards))
    lines = species_predictions.splitlines()
    assert code == 0 and out.splitlines() == [lines[0], *reversed(lines[1:])]


def test_a_missing_column_is_named_in_one_line(
    capsys: pytest.CaptureFixture[str],
    species_run: Path,
    split_files: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    path = tmp_path / "no-sex.csv"
    _read(split_files[1]).drop("sex").write_csv(path)
    code, out, err = run(capsys, "predict", str(species_run / "model.safetensors"), str(path))
    line = one_line(err)
    assert (code, out) == (1, "")
    assert line.startswith(f"chainrule predict: {path}: the model needs column(s) 'sex'")


def test_predict_never_replaces_a_file(
    capsys: pytest.CaptureFixture[str],
    species_run: Path,
    species_predictions: str,
    split_files: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    """--out naming an existing file is refused and the file kept; a new name is written
    with what standard output would show."""
    existing = tmp_path / "existing.csv"
    existing.write_bytes(b"keep me\n")
    model, test = str(species_run / "model.safetensors"), str(split_files[1])
    code, out, err = run(capsys, "predict", model, test, "--out", str(existing))
    assert (code, out) == (1, "")
    assert f"--out {existing}: exists" in one_line(err)
    assert existing.read_bytes() == b"keep me\n"
    fresh = tmp_path / "fresh.csv"
    code, out, err = run(capsys, "predict", model, test, "--out", str(fresh))
    assert (code, out) == (0, "")
    assert err.splitlines()[-1] == f"chainrule predict: wrote 86 predictions to {fresh}"
    assert fresh.read_text() == species_predictions


def test_info_shows_the_columns_and_their_preprocessing(
    capsys: pytest.CaptureFixture[str], species_run: Path
) -> None:
    code, out, err = run(capsys, "info", str(species_run / "model.safetensors"))
    assert (code, err) == (0, "")
    assert "input columns (7, matched by name; others are ignored)" in out
    assert "target 'species': classification into 3 classes (Adelie, Chinstrap, Gentoo)" in out
    for name in [*INPUTS, "body_mass_g"]:
        assert f"  {name!r}: " in out, name
    assert "'island': categorical: one-hot over 3 values (Biscoe, Dream, Torgersen)" in out
    assert "'sex': categorical: one-hot over 2 values (female, male) + (missing)" in out
    assert "'bill_length_mm': numeric: (x - " in out and "+ indicator" in out


# ------------------------------------------------------------------------ bad tables
def _table(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n")
    return path


def _good_rows() -> list[str]:
    return ["size,colour,blank,label"] + [
        f"{i},{['red', 'blue'][i % 2]},,{['cat', 'dog'][i % 3 == 0]}" for i in range(30)
    ]


BAD_CASES: dict[str, tuple[list[str], list[str], list[str]]] = {
    # case: (rows of data.csv, arguments after --data data.csv, words the line must hold)
    "unknown target": (
        _good_rows(),
        ["--target", "Label"],
        ["--target: no column 'Label'", "'size', 'colour', 'blank', 'label'"],
    ),
    "one class": (
        ["size,label"] + [f"{i},cat" for i in range(20)],
        ["--target", "label"],
        ["'label' has one class ('cat')"],
    ),
    "target among the features": (
        _good_rows(),
        ["--target", "label", "--features", "size,label"],
        ["--features: 'label' is the target"],
    ),
    "all-missing feature": (
        _good_rows(),
        ["--target", "label", "--features", "size,blank"],
        ["--features: column 'blank'", "every value is missing"],
    ),
    "mixed types": (
        ["size,label"] + [f"{'12a' if i == 9 else i},{'ab'[i % 2]}" for i in range(20)],
        ["--target", "label"],
        ["column 'size' mixes numbers and text: line 11 holds '12a'"],
    ),
    "no target values": (
        ["size,label", "1,", "2,NA", "3,"],
        ["--target", "label"],
        ["every row's target 'label' is missing"],
    ),
    "regression on text": (
        _good_rows(),
        ["--target", "colour", "--task", "regression"],
        ["--task regression: the target column 'colour' holds text"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_a_bad_table_is_refused_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    """Exit 1, one line naming the file and the column, and no run folder left behind."""
    rows, arguments, words = BAD_CASES[case]
    data = _table(tmp_path, "data.csv", rows)
    out = tmp_path / "run"
    code, stdout, err = run(
        capsys, "train", "--data", str(data), *arguments, "--out", str(out), "--quiet"
    )
    line = one_line(err)
    assert (code, stdout) == (1, "")
    assert line.startswith(f"chainrule train: {data}: "), line
    for word in words:
        assert word in line, line
    assert not out.exists() or not any(out.iterdir())


def test_a_test_file_without_a_column_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--test FILE lacking a feature is refused naming that file and the column."""
    data = _table(tmp_path, "data.csv", _good_rows())
    test = _table(tmp_path, "test.csv", ["size,label", "1,cat", "2,dog"])
    code, _, err = run(
        capsys, "train", "--data", str(data), "--target", "label", "--features", "size,colour",
        "--test", str(test), "--out", str(tmp_path / "run"), "--quiet",
    )  # fmt: skip
    assert code == 1
    assert one_line(err).startswith(f"chainrule train: {test}: --features: no column 'colour'")


def test_target_with_a_built_in_data_set_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(
        capsys, "train", "--data", "digits", "--target", "label", "--out", str(tmp_path / "r")
    )
    assert code == 1
    line = one_line(err)
    assert "--target" in line and "digits is a built-in data set" in line


def test_a_table_without_target_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _table(tmp_path, "data.csv", _good_rows())
    code, _, err = run(capsys, "train", "--data", str(data), "--out", str(tmp_path / "r"))
    assert code == 1
    assert one_line(err) == (
        f"chainrule train: --data {data}: a table needs --target COL, the column to predict"
    )
