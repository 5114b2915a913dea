"""Real public tables shipped in PyPI packages (palmerpenguins, vega_datasets): what
``load_table`` detects and leaves out, and small MLPs trained on them by
``chainrule.cli.train_command.run`` that must beat the baselines."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from chainrule.cli.train_command import RunConfig, run
from chainrule.data.table import load_table

palmerpenguins = pytest.importorskip("palmerpenguins")
vega_datasets = pytest.importorskip("vega_datasets")

PENGUINS = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"
PENGUINS_RAW = Path(palmerpenguins.__file__).parent / "data" / "penguins-raw.csv"
SEATTLE = Path(vega_datasets.__file__).parent / "_data" / "seattle-weather.csv"


def _cars() -> pd.DataFrame:
    from vega_datasets import data

    with warnings.catch_warnings():  # vega_datasets passes pandas a deprecated keyword
        warnings.simplefilter("ignore")
        frame: pd.DataFrame = data.cars()
    return frame


def _train(data: Path, target: str, tmp_path: Path, **settings: object) -> dict[str, object]:
    """A run's table record (task, metrics, notes), without plots or progress."""
    config = RunConfig(data=str(data), target=target, seed=0, **settings)  # type: ignore[arg-type]
    result = run(config, tmp_path / "run", progress=False, plots=False)
    assert result.table is not None
    return result.table


# ------------------------------------------------------------------------ what is detected
def test_penguin_species_are_classified_from_every_useful_column() -> None:
    """penguins.csv: 'species' is text, so classified into its three species; no row is
    dropped; the numbers with NA gain indicators, the text columns are one-hot."""
    reference = pd.read_csv(PENGUINS)
    table = load_table(PENGUINS, "species")
    assert table.task == "classification"
    assert table.classes == tuple(sorted(reference["species"].unique()))
    assert table.notes == ["task: classification, as the target 'species' holds text"]
    assert len(table.y_train) + len(table.y_val) + len(table.y_test) == len(reference) == 344
    names = table.feature_names
    assert "bill_length_mm (missing)" in names and "year (missing)" not in names
    assert [name for name in names if name.startswith("island=")] == [
        "island=Biscoe", "island=Dream", "island=Torgersen", "island=(other)"
    ]  # fmt: skip
    assert "sex=(missing)" in names
    # Stratified: each species is in the test rows about in proportion (within one row).
    counts = Counter(reference["species"])
    for index, species in enumerate(table.classes):
        assert abs(int(np.sum(table.y_test == index)) - 0.2 * counts[species]) <= 1


def test_penguin_body_mass_is_regressed_and_rows_without_it_dropped() -> None:
    """'body_mass_g' holds many whole numbers: a regression; the 2 rows without it are
    dropped and counted; 'species' becomes an input."""
    reference = pd.read_csv(PENGUINS)
    missing = int(reference["body_mass_g"].isna().sum())
    assert missing == 2
    table = load_table(PENGUINS, "body_mass_g")
    assert table.task == "regression"
    assert table.notes[0].startswith("task: regression, as the target 'body_mass_g' holds whole")
    assert f"{PENGUINS}: dropped 2 of 344 rows whose target 'body_mass_g' is missing" in table.notes
    assert len(table.y_train) + len(table.y_val) + len(table.y_test) == 342
    assert "species=Gentoo" in table.feature_names
    assert table.y_train.shape[1] == 1 and table.y_train.dtype == np.float32


def test_the_raw_penguins_leave_out_ids_and_constants() -> None:
    """penguins-raw.csv: 'Individual ID' (nearly unique text) and the constant 'Region' and
    'Stage' are left out, each with a note; 'Species' is the target."""
    reference = pd.read_csv(PENGUINS_RAW)
    assert reference["Region"].nunique() == 1 and reference["Individual ID"].nunique() > 150
    table = load_table(PENGUINS_RAW, "Species")
    assert table.task == "classification" and len(table.classes) == 3
    left_out = [note for note in table.notes if note.startswith("left out")]
    assert any(note.startswith("left out 'Individual ID': text with") for note in left_out)
    assert "left out 'Region': constant ('Anvers') (name it in --features to use it)" in left_out
    assert any(note.startswith("left out 'Stage': constant") for note in left_out)
    inputs = table.preprocessor.input_columns
    assert not {"Individual ID", "Region", "Stage", "Species"} & set(inputs)
    assert {"Culmen Length (mm)", "Island", "Sex"} <= set(inputs)


def test_seattle_weather_leaves_out_its_dates() -> None:
    """seattle-weather.csv: every 'date' differs, so it is left out as an id; the weather is
    classified from the four measurements."""
    reference = pd.read_csv(SEATTLE)
    table = load_table(SEATTLE, "weather")
    assert table.classes == tuple(sorted(reference["weather"].unique()))
    assert table.feature_names == ["precipitation", "temp_max", "temp_min", "wind"]
    assert any(note.startswith("left out 'date': text with") for note in table.notes)


def test_the_cars_dataframe_drops_missing_targets_and_leaves_out_names_and_dates() -> None:
    """vega's cars (a pandas DataFrame): 'Miles_per_Gallon' (fractions, 8 missing) is
    regressed; 'Name' (text naming nearly every car) and 'Year' (datetimes) are left out;
    'Horsepower' gains a missing indicator; 'Origin' is one-hot."""
    cars = _cars()
    assert int(cars["Miles_per_Gallon"].isna().sum()) == 8
    table = load_table(cars, "Miles_per_Gallon")
    assert table.task == "regression"
    assert "the DataFrame: dropped 8 of 406 rows whose target 'Miles_per_Gallon' is missing" in (
        table.notes
    )
    assert any(note.startswith("left out 'Name': text with") for note in table.notes)
    assert any(note.startswith("left out 'Year': holds Datetime") for note in table.notes)
    assert table.feature_names == [
        "Cylinders", "Displacement", "Horsepower", "Horsepower (missing)", "Weight_in_lbs",
        "Acceleration", "Origin=Europe", "Origin=Japan", "Origin=USA", "Origin=(other)",
    ]  # fmt: skip
    assert len(table.y_train) + len(table.y_val) + len(table.y_test) == 398


# ------------------------------------------------------------------------ trained models
def test_a_model_classifies_penguins_better_than_the_majority(tmp_path: Path) -> None:
    record = _train(PENGUINS, "species", tmp_path, epochs=20)
    assert record["task"] == "classification"
    assert record["test_accuracy"] > record["test_baseline_accuracy"] + 0.3  # type: ignore[operator]
    assert record["test_f1_macro"] > record["test_baseline_f1_macro"]  # type: ignore[operator]


def test_a_model_predicts_penguin_body_mass(tmp_path: Path) -> None:
    record = _train(PENGUINS, "body_mass_g", tmp_path, epochs=30)
    assert record["task"] == "regression"
    assert record["test_r2"] > 0.5  # type: ignore[operator]
    assert record["test_rmse"] < record["test_baseline_rmse"]  # type: ignore[operator]
    assert record["test_mae"] < record["test_baseline_mae"]  # type: ignore[operator]


def test_a_model_predicts_seattle_weather_better_than_the_majority(tmp_path: Path) -> None:
    record = _train(SEATTLE, "weather", tmp_path, epochs=10)
    assert record["test_accuracy"] > record["test_baseline_accuracy"]  # type: ignore[operator]


def test_a_model_predicts_fuel_use_of_cars(tmp_path: Path) -> None:
    """The cars table written as CSV, the inputs named in --features (the dates left aside)."""
    path = tmp_path / "cars.csv"
    _cars().drop(columns=["Year"]).to_csv(path, index=False)
    features = ["Cylinders", "Displacement", "Horsepower", "Weight_in_lbs", "Origin"]
    record = _train(path, "Miles_per_Gallon", tmp_path, epochs=30, features=features)
    assert record["test_r2"] > 0.5  # type: ignore[operator]
    assert record["test_rmse"] < record["test_baseline_rmse"]  # type: ignore[operator]
