"""What the command line accepts as input, and what it does with output it cannot write: numbers
are plain ASCII, lists and paths are never empty, standard output that fails is one line (and a
reader that went away is no error), demo never replaces files, predict refuses inputs and models
it cannot use, and info/predict say what a file that is not a model is. Grouped by rule."""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line as _one_line
from cli_helpers import run as _run

import chainrule as cr
from chainrule.cli import commands as cli
from chainrule.cli.commands import build_parser, main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XOR = ["--data", "xor", "--epochs", "1", "--hidden", "4", "--quiet"]


def _refused_at_parsing(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one line with which the parser refuses ``args`` (exit code 2)."""
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_line(captured.err)
    assert line.endswith(f"(see chainrule {args[0]} --help)"), line
    return line


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file under a folder with a hash of its bytes and its modification time."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        + f"@{path.stat().st_mtime_ns}"
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _env() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module")
def xor_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ``chainrule train`` run on XOR (one epoch), shared by the module's tests."""
    out = tmp_path_factory.mktemp("inputs") / "xor-run"
    assert main(["train", *XOR, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def model(xor_run: Path) -> Path:
    return xor_run / "model.safetensors"


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three rows of two inputs, as the XOR model takes."""
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    path.write_text("0,0\n0,1\n1,1\n")
    return path


# ------------------------------------------------------------ numbers are plain ASCII
@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--epochs", "1_0"),
        ("--epochs", "\u0661"),  # ARABIC-INDIC DIGIT ONE
        ("--hidden", "\uff14"),  # FULLWIDTH DIGIT FOUR
        ("--lr", "0.0_1"),
        ("--seed", "1_0"),
        ("--batch-size", "\uff18"),
        ("--weight-decay", "\u0661e-3"),
    ],
)
def test_a_number_that_is_not_plain_ascii_is_refused_at_parsing_naming_the_flag(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused_at_parsing(capsys, "train", *XOR, flag, value)
    assert flag in line and repr(value) in line


@pytest.mark.parametrize("flag", ["--lr", "--max-norm"])
def test_a_setting_too_small_for_float32_is_refused_at_parsing(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused_at_parsing(capsys, "train", *XOR, flag, "1e-320")
    assert flag in line and "too small for float32" in line


@pytest.mark.parametrize(("text", "value"), [(".5", 0.5), ("5.", 5.0), ("1e-3", 1e-3), (" 3 ", 3)])
def test_ordinary_ways_of_writing_a_number_still_parse(text: str, value: float) -> None:
    assert cli._number(text, 0, 1e3, low_open=True, high_open=False) == value
    args = build_parser().parse_args(["train", "--lr", text, "--max-norm", text])
    assert args.lr == value and args.max_norm == value


def test_whole_numbers_with_spaces_or_a_sign_still_parse() -> None:
    assert cli._positive_int(" 3 ") == 3
    assert cli._positive_int("+7") == 7
    assert cli._int_list(" 4, 8 ") == [4, 8]
    args = build_parser().parse_args(["train", "--epochs", " 3 ", "--hidden", "16,8"])
    assert args.epochs == 3 and args.hidden == [16, 8]


# ------------------------------------------------------------ lists have no empty entries
@pytest.mark.parametrize(("text", "position"), [("4,,4", 2), ("4,", 2), (",4", 1)])
def test_a_hidden_list_with_an_empty_width_is_refused_naming_the_position(
    text: str, position: int, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused_at_parsing(capsys, "train", "--hidden", text)
    assert "--hidden" in line and f"empty width at position {position}" in line


@pytest.mark.parametrize("text", ["", "relu,,tanh", "relu,", " "])
def test_gradcheck_ops_with_an_empty_name_are_refused_at_parsing(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _refused_at_parsing(capsys, "gradcheck", "--ops", text)
    assert "--ops" in line and "empty name" in line


def test_gradcheck_of_an_unknown_function_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _run(capsys, "gradcheck", "--ops", "relu,nosuch")
    line = _one_line(err)
    assert code == 2
    assert "--ops" in line and "nosuch" in line
    assert out == ""


# ------------------------------------------------------------ paths are never empty
@pytest.mark.parametrize(
    "args",
    [
        ["train", "--out", ""],
        ["train", "--out", "  "],
        ["demo", "xor", "--out", ""],
        ["predict", "model.safetensors", ""],
        ["predict", "", "rows.csv"],
        ["info", ""],
        ["train", "--data", "fashion-mnist", "--data-path", ""],
    ],
)
def test_an_empty_path_is_refused_at_parsing(
    args: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    line = _refused_at_parsing(capsys, *args)
    assert "empty path" in line
    assert list(tmp_path.iterdir()) == []  # nothing made in the working folder


# ------------------------------------------------------------ output that cannot be written
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    "command",
    [
        ["explain"],
        ["info", "MODEL"],
        ["predict", "MODEL", "ROWS"],
        ["demo", "--list"],
        ["gradcheck", "--ops", "relu"],
    ],
    ids=" ".join,
)
def test_standard_output_on_a_full_device_is_one_line_and_exit_code_1(
    command: list[str], model: Path, rows: Path, tmp_path: Path
) -> None:
    files = {"MODEL": str(model), "ROWS": str(rows)}
    command = [files.get(word, word) for word in command]
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "chainrule", *command],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=_env(),
            cwd=tmp_path,
        )
    assert result.returncode == 1, result.stderr
    line = _one_line(result.stderr)
    assert line.startswith(f"chainrule {command[0]}: cannot write the output")


def test_a_reader_that_stops_after_the_first_line_is_no_error(tmp_path: Path) -> None:
    """``chainrule explain | head -1``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "explain"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=60) == 0
    assert first.strip()
    assert err == b""


def test_a_reader_that_went_away_before_any_output_is_no_error(tmp_path: Path) -> None:
    """``chainrule explain | true``: the pipe is closed before the first write, so the write
    certainly fails with a broken pipe (explain's output would fit in a pipe's buffer)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "chainrule", "explain"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=60,
            env=_env(),
            cwd=tmp_path,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 0
    assert result.stderr == b""


# ------------------------------------------------------------ demo never replaces files
def test_demo_into_a_folder_holding_a_file_is_refused_and_the_file_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "xor.png"
    mine.write_bytes(PNG_SIGNATURE + b"my own figure")
    before = _fingerprint(tmp_path)
    code, out, err = _run(capsys, "demo", "xor", "--out", str(tmp_path))
    line = _one_line(err)
    assert code == 1
    assert str(tmp_path) in line and "never replaced" in line and "xor.png" in line
    assert out == ""
    assert _fingerprint(tmp_path) == before


def test_a_demo_run_twice_writes_a_second_folder_and_keeps_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "demo", "nearest-mean")
    assert code == 0, err
    first = tmp_path / "demo-nearest-mean"
    before = _fingerprint(first)
    assert before  # the demo wrote its figures
    code, out, err = _run(capsys, "demo", "nearest-mean")
    assert code == 0, err
    second = tmp_path / "demo-nearest-mean-2"
    assert sorted(path.name for path in tmp_path.iterdir()) == [first.name, second.name]
    assert _fingerprint(first) == before
    assert sorted(_fingerprint(second)) == sorted(before)
    assert second.name in out


# ------------------------------------------------------------ predict refuses what it cannot use
def test_predict_refuses_an_input_beyond_float32_naming_file_row_and_column(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "huge.csv"
    rows.write_text("1e300,0\n0,1\n")
    code, out, err = _run(capsys, "predict", str(model), str(rows))
    line = _one_line(err)
    assert code == 1
    assert str(rows) in line and "row 1, column 1" in line and "float32" in line
    assert out == ""


def test_predict_refuses_a_model_whose_outputs_disagree_with_its_classes(
    tmp_path: Path, rows: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "three.npz"
    cr.save(cr.nn.mlp(2, [4], 2), path, metadata={"classes": 3})
    code, out, err = _run(capsys, "predict", str(path), str(rows))
    line = _one_line(err)
    assert code == 1
    assert str(path) in line and "2 outputs" in line and "3 classes" in line
    assert out == ""


def test_predict_prints_one_label_per_row_of_a_usable_input(
    model: Path, rows: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "predict", str(model), str(rows))
    assert code == 0, err
    labels = out.split()
    assert len(labels) == 3 and set(labels) <= {"0", "1"}


def test_a_probability_output_is_split_at_one_half(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainrule import nn

    model = nn.Sequential(nn.Linear(1, 1), nn.Sigmoid())
    model.load_state_dict(
        {"0.weight": np.array([[1.0]], np.float32), "0.bias": np.zeros(1, np.float32)}
    )
    path = tmp_path / "sigmoid.npz"
    cr.save(model, path, {"classes": 2})
    inputs = tmp_path / "x.csv"
    inputs.write_text("-2\n-0.5\n0.5\n2\n")
    code, out, err = _run(capsys, "predict", str(path), str(inputs))
    assert code == 0, err
    assert out.split() == ["0", "0", "1", "1"]  # sigmoid(x) > 0.5 exactly where x > 0


def test_closed_standard_output_is_no_error() -> None:
    run = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m chainrule explain >&-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr


def test_a_default_demo_folder_that_is_a_file_gets_the_next_number(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demo-nearest-mean").write_text("a file of the user's")
    code, out, err = _run(capsys, "demo", "nearest-mean")
    assert code == 0, err
    assert (tmp_path / "demo-nearest-mean").read_text() == "a file of the user's"
    assert any((tmp_path / "demo-nearest-mean-2").iterdir())


# ------------------------------------------------------------ a file that is not a model
def _not_a_model(kind: str, xor_run: Path, folder: Path) -> Path:
    if kind == "npy":
        path = folder / "weights.npy"
        np.save(path, np.zeros((2, 3)))
    elif kind == "metrics":
        path = xor_run / "metrics.json"
    elif kind == "png":
        path = folder / "figure.png"
        path.write_bytes(PNG_SIGNATURE + b"\x00junk" * 10)
    elif kind == "folder":
        path = xor_run
    elif kind == "empty":
        path = folder / "model.safetensors"
        path.touch()
    else:
        path = folder / "model.pkl"
        path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    return path


@pytest.mark.parametrize("command", ["info", "predict"])
@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("npy", "NumPy array"),
        ("metrics", "JSON"),
        ("png", "PNG"),
        ("folder", "folder"),
        ("empty", "empty"),
        ("pickle", "pickle"),
    ],
)
def test_info_and_predict_say_what_a_file_that_is_not_a_model_is(
    command: str,
    kind: str,
    said: str,
    xor_run: Path,
    rows: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _not_a_model(kind, xor_run, tmp_path)
    before = _fingerprint(xor_run)
    args = [command, str(path)] + ([str(rows)] if command == "predict" else [])
    code, out, err = _run(capsys, *args)
    line = _one_line(err)
    assert code == 1
    assert str(path) in line and said in line
    assert "allow_pickle" not in line
    if kind == "folder":
        assert str(xor_run / "model.safetensors") in line
    assert out == ""
    assert _fingerprint(xor_run) == before
