"""What a new user's sweep of messy tables found, each kept fixed: small tables, spaces after
commas, formatted numbers, true/false text at predict time, --out places, damaged headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import one_line, run

from chainrule import io
from chainrule.data.table import load_table

pytest.importorskip("polars")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _rows(count: int) -> str:
    return "".join(f"{i},{'p' if i % 2 else 'q'},{i % 3 == 0}\n" for i in range(count))


def test_a_table_too_small_to_split_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Three rows cannot give training, validation and test rows: one line, no folder."""
    data = _write(tmp_path / "three.csv", "a,y,f\n" + _rows(3))
    out = tmp_path / "run"
    code, _, err = run(capsys, "train", "--data", str(data), "--target", "y", "--out", str(out))
    assert code == 1 and not out.exists()
    assert "too few to split" in one_line(err) and str(data) in err


def test_ten_rows_train_and_validation_may_be_left_out(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Ten rows of two classes train (each part gets a row); --val-fraction 0 trains on all."""
    data = _write(tmp_path / "ten.csv", "a,y,f\n" + _rows(10))
    for extra in ([], ["--val-fraction", "0"]):
        out = tmp_path / f"run{len(extra)}"
        code, _, err = run(
            capsys, "train", "--data", str(data), "--target", "y", "--epochs", "2",
            "--quiet", "--no-plots", "--out", str(out), *extra,
        )  # fmt: skip
        assert code == 0, err
        assert "test_accuracy" in json.loads((out / "metrics.json").read_text())


def test_a_target_with_a_value_per_row_is_refused(tmp_path: Path) -> None:
    text = "a,id\n" + "".join(f"{i},row{i}\n" for i in range(60))
    with pytest.raises(ValueError, match="60 distinct values in .* rows, about one per row"):
        load_table(_write(tmp_path / "ids.csv", text), "id")


def test_spaces_after_commas_are_not_part_of_names_or_values(tmp_path: Path) -> None:
    """'a, b, y' with ' 0.5, p' rows: b is a number column, the classes are p and q."""
    rows = "".join(f"{i}, {i / 7:.3f}, {'p' if i % 2 else 'q'}\n" for i in range(60))
    table = load_table(_write(tmp_path / "spaced.csv", "a, b, y\n" + rows), "y")
    assert table.classes == ("p", "q")
    assert table.feature_names == ["a", "b"]


def test_formatted_numbers_and_dates_are_named_in_the_note(tmp_path: Path) -> None:
    rows = "".join(
        f'{i},"${i * 1000:,}.00",2024-01-{i % 28 + 1:02d} {i}:00,{"p" if i % 2 else "q"}\n'
        for i in range(60)
    )
    table = load_table(_write(tmp_path / "money.csv", "a,price,when,y\n" + rows), "y")
    notes = " ".join(table.notes)
    assert "'price'" in notes and "currency or percent signs" in notes
    assert "'when'" in notes and "look like dates" in notes


@pytest.fixture
def flag_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A model trained with a true/false feature 'f'."""
    data = _write(tmp_path / "flags.csv", "a,y,f\n" + _rows(60))
    out = tmp_path / "flags"
    code, _, err = run(
        capsys, "train", "--data", str(data), "--target", "y", "--epochs", "2", "--quiet",
        "--no-plots", "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    return out / "model.safetensors"


def test_text_that_is_not_true_or_false_is_named_with_its_line(
    flag_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _write(tmp_path / "new.csv", "a,f\n1,true\n2,FALSE\n3,maybe\n")
    code, _, err = run(capsys, "predict", str(flag_model), str(rows))
    assert code == 1
    assert "column 'f' should hold numbers (or true/false), and line 4 holds 'maybe'" in err


def test_out_places_that_cannot_be_written_are_one_line(
    flag_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _write(tmp_path / "new.csv", "a,f\n1,true\n")
    for out, words in (
        (tmp_path, "is a folder"),
        (tmp_path / "missing" / "p.csv", "does not exist"),
        (rows / "p.csv", "is not a folder"),
    ):
        code, _, err = run(capsys, "predict", str(flag_model), str(rows), "--out", str(out))
        assert code == 1 and words in one_line(err)
    code, out_text, _ = run(capsys, "predict", str(flag_model), str(rows), "--out", "-")
    assert code == 0 and out_text.startswith("prediction,")


def test_a_header_whose_classes_disagree_with_the_network_is_refused(
    flag_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A re-saved model whose preprocessing names a third class: refused by predict and info."""
    model, metadata = io.load_with_metadata(flag_model)
    metadata["table"]["target"]["classes"].append("r")
    damaged = tmp_path / "damaged.npz"
    io.save(model, damaged, metadata)
    rows = _write(tmp_path / "new.csv", "a,f\n1,true\n")
    for command in (["predict", str(damaged), str(rows)], ["info", str(damaged)]):
        code, _, err = run(capsys, *command)
        assert code == 1 and "its network has 2 outputs" in one_line(err)
