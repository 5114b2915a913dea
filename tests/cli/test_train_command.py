"""``chainrule train``, ``predict`` and ``info``: files written, accuracy reached, bad arguments
refused in one line, and a run killed with SIGKILL that resumes to the same bits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.data import load_digits
from chainrule.io import ModelFileError, load_metadata, read_archive

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PER_EPOCH = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds")


def _metrics(folder: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = json.loads((folder / "metrics.json").read_text())
    return metrics


def _model_arrays(path: Path) -> dict[str, np.ndarray]:
    """The parameters as the safetensors library reads them, under state_dict names."""
    from safetensors.numpy import load_file

    return load_file(str(path))


def _assert_png(path: Path) -> None:
    image = pytest.importorskip("matplotlib.image")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 50 and pixels.shape[1] > 50
    assert pixels.std() > 0


_ACTIVATIONS = {
    "ReLU": lambda z: np.maximum(z, 0),
    "Tanh": np.tanh,
    "Sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "Identity": lambda z: z,
}


def _numpy_forward(path: Path, X: np.ndarray) -> np.ndarray:
    """Logits of a saved Sequential model, computed with NumPy from the file's arrays and the
    layer list stored in its header."""
    arrays = _model_arrays(path)
    layers = load_metadata(path)["architecture"]["layers"]
    out = X.astype(np.float64)
    for index, layer in enumerate(layers):
        if layer["type"] == "Linear":
            out = out @ arrays[f"{index}.weight"].astype(np.float64).T
            out = out + arrays[f"{index}.bias"].astype(np.float64)
        else:
            out = _ACTIVATIONS[layer["type"]](out)
    return out


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``chainrule train --epochs 5`` on the default data set, run once for several tests."""
    out = tmp_path_factory.mktemp("digits-run")
    assert main(["train", "--epochs", "5", "--out", str(out), "--quiet"]) == 0
    return out


# ------------------------------------------------------------------------ train
def test_train_writes_model_metrics_and_plot(digits_run: Path) -> None:
    for name in ("model.safetensors", "metrics.json", "training.png"):
        assert (digits_run / name).is_file(), name
    metrics = _metrics(digits_run)
    for key in PER_EPOCH:
        assert isinstance(metrics[key], list) and len(metrics[key]) == 5, key
        assert all(isinstance(v, float) for v in metrics[key]), key
    assert isinstance(metrics["test_accuracy"], float)
    assert 0.5 < metrics["test_accuracy"] <= 1
    assert metrics["train_loss"][-1] < metrics["train_loss"][0]
    _assert_png(digits_run / "training.png")


def test_train_saves_a_model_that_loads(digits_run: Path) -> None:
    model = cr.load(digits_run / "model.safetensors")
    images, labels = load_digits()
    X = images.reshape(len(images), -1).astype(np.float32) / 16
    with cr.no_grad():
        logits = np.asarray(model.eval()(cr.tensor(X)).data)
    np.testing.assert_allclose(
        logits, _numpy_forward(digits_run / "model.safetensors", X), atol=1e-4
    )
    assert np.mean(logits.argmax(axis=1) == labels) > 0.8


def test_train_prints_the_test_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--epochs", "2", "--hidden", "16", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    reported = float(printed.split("test accuracy:")[1].split("%")[0]) / 100
    assert reported == pytest.approx(_metrics(tmp_path)["test_accuracy"], abs=5e-5)


def test_default_train_exceeds_95_percent_on_digits(tmp_path: Path) -> None:
    assert main(["train", "--out", str(tmp_path), "--quiet"]) == 0
    metrics = _metrics(tmp_path)
    assert metrics["test_accuracy"] > 0.95
    assert len(metrics["train_loss"]) >= 1


def test_train_moons_with_animation_writes_the_boundary(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    args = ["train", "--data", "moons", "--epochs", "20", "--animate", "--out", str(tmp_path)]
    assert main([*args, "--quiet"]) == 0
    _assert_png(tmp_path / "boundary.png")
    _assert_png(tmp_path / "training.png")
    gif = (tmp_path / "boundary.gif").read_bytes()
    assert gif[:6] in (b"GIF87a", b"GIF89a")
    from PIL import Image

    with Image.open(tmp_path / "boundary.gif") as animation:
        assert animation.n_frames > 1
        assert animation.size[0] > 50 and animation.size[1] > 50
    assert len(_metrics(tmp_path)["train_loss"]) == 20


def test_train_resume_in_process_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    common = ["--hidden", "16", "--seed", "1", "--quiet"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", "--epochs", "6", "--out", str(straight), *common]) == 0
    assert main(["train", "--epochs", "3", "--out", str(resumed), *common]) == 0
    assert main(["train", "--epochs", "6", "--out", str(resumed), "--resume", *common]) == 0
    assert _metrics(resumed)["train_loss"] == _metrics(straight)["train_loss"]
    expected = _model_arrays(straight / "model.safetensors")
    actual = _model_arrays(resumed / "model.safetensors")
    assert list(actual) == list(expected)
    for name in expected:
        assert np.array_equal(actual[name], expected[name]), name


# ------------------------------------------------------------------------ info, predict
def test_info_shows_the_architecture_and_parameter_count(
    digits_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", str(digits_run / "model.safetensors")]) == 0
    printed = capsys.readouterr().out
    assert "Linear" in printed
    arrays = _model_arrays(digits_run / "model.safetensors")
    count = sum(array.size for array in arrays.values())
    assert count > 64 * 10
    assert f"parameters: {count:,}" in printed


def test_predict_prints_one_class_per_csv_row(
    digits_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, _ = load_digits()
    X = images[:25].reshape(25, -1) / 16
    csv = tmp_path / "inputs.csv"
    np.savetxt(csv, X, delimiter=",")
    assert main(["predict", str(digits_run / "model.safetensors"), str(csv)]) == 0
    printed = [int(line) for line in capsys.readouterr().out.split()]
    expected = _numpy_forward(digits_run / "model.safetensors", X).argmax(axis=1)
    np.testing.assert_array_equal(printed, expected)


def test_predict_reads_npy_too(
    digits_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images, _ = load_digits()
    X = images[100:110].astype(np.float32) / 16
    path = tmp_path / "inputs.npy"
    np.save(path, X)
    assert main(["predict", str(digits_run / "model.safetensors"), str(path)]) == 0
    printed = [int(line) for line in capsys.readouterr().out.split()]
    expected = _numpy_forward(digits_run / "model.safetensors", X.reshape(10, -1)).argmax(axis=1)
    np.testing.assert_array_equal(printed, expected)


# ------------------------------------------------------------------------ bad input
def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert lines, "nothing on stderr"
    return lines[-1]


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--hidden", "abc"], "--hidden"),
        (["--hidden", "64,0"], "--hidden"),
        (["--lr", "-1"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--data", "nope"], "--data"),
        (["--epochs", "0"], "--epochs"),
        (["--batch-size", "-5"], "--batch-size"),
        (["--activation", "swish"], "--activation"),
        (["--optimizer", "lbfgs"], "--optimizer"),
    ],
)
def test_bad_train_arguments_exit_with_one_line(
    args: list[str], mentions: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["train", *args])
    assert caught.value.code == 2
    last = _one_line_error(capsys)
    assert last.startswith("chainrule train: error:")
    assert mentions in last


def test_resume_without_out_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--resume"]) != 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "--out" in captured.err
    assert list(tmp_path.iterdir()) == []


def test_invalid_optimizer_setting_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--optimizer", "sgd", "--momentum", "-1", "--epochs", "1"]
    with pytest.raises(SystemExit) as caught:  # refused while parsing, before any work
        main([*args, "--out", str(tmp_path / "run"), "--quiet"])
    assert caught.value.code == 2
    assert not (tmp_path / "run").exists()
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "momentum" in captured.err


def test_predict_and_info_on_a_missing_file_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "inputs.csv"
    csv.write_text("0,1\n")
    assert main(["predict", str(tmp_path / "absent.npz"), str(csv)]) != 0
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["info", str(tmp_path / "absent.npz")]) != 0
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_predict_with_the_wrong_number_of_columns_is_a_one_line_error(
    digits_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "inputs.csv"
    np.savetxt(csv, np.zeros((3, 5)), delimiter=",")
    assert main(["predict", str(digits_run / "model.safetensors"), str(csv)]) != 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-40])


def _set_encrypted_flag(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    record = raw.find(b"PK\x01\x02")
    raw[record + 8] |= 0x01
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage", [_truncate, _set_encrypted_flag])
def test_info_on_a_damaged_model_is_a_one_line_error(
    digits_run: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[Path], None],
) -> None:
    path = tmp_path / "damaged.npz"
    path.write_bytes((digits_run / "model.safetensors").read_bytes())
    damage(path)
    assert main(["info", str(path)]) != 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert str(path) in captured.err


# ------------------------------------------------------------------------ subprocesses
def _env() -> dict[str, str]:
    return {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}


def test_module_runs_train_in_a_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "--epochs", "2", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy:" in result.stdout
    assert (out / "model.safetensors").is_file() and (out / "metrics.json").is_file()
    assert len(_metrics(out)["train_loss"]) == 2


def test_bad_arguments_in_a_subprocess_give_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "--hidden", "abc"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("chainrule train: error:")


def _checkpoint_epoch(path: Path) -> int:
    try:
        _, header = read_archive(path)
    except (FileNotFoundError, ModelFileError, zipfile.BadZipFile):
        return 0
    return int(header["epoch"])


def test_sigkilled_run_resumes_to_identical_results(tmp_path: Path) -> None:
    """Kill a real training process mid-run, resume it, and compare with a run that was never
    interrupted: the same parameters and the same losses, bit for bit."""
    # Enough epochs that the run is still going after its first checkpoint (saved a second in;
    # the compiled step trains an epoch of this network in about 25 ms).
    epochs = 200
    command = [sys.executable, "-m", "chainrule", "train", "--data", "digits"]
    command += ["--epochs", str(epochs)]
    command += ["--hidden", "256,256", "--quiet", "--seed", "3"]
    killed, straight = tmp_path / "killed", tmp_path / "straight"

    log = (tmp_path / "killed.log").open("w")
    process = subprocess.Popen(
        [*command, "--out", str(killed)],
        env=_env(),
        cwd=tmp_path,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while _checkpoint_epoch(killed / "checkpoint.safetensors") < 3:
            assert process.poll() is None, "training ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.01)
        assert process.poll() is None, "training ended before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    assert process.returncode == -signal.SIGKILL
    reached = _checkpoint_epoch(killed / "checkpoint.safetensors")
    assert 3 <= reached < epochs
    assert not (killed / "metrics.json").exists()

    resumed = subprocess.run(
        [*command, "--out", str(killed), "--resume"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr
    uninterrupted = subprocess.run(
        [*command, "--out", str(straight)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=tmp_path,
    )
    assert uninterrupted.returncode == 0, uninterrupted.stderr

    expected = _model_arrays(straight / "model.safetensors")
    actual = _model_arrays(killed / "model.safetensors")
    assert list(actual) == list(expected)
    for name in expected:
        assert np.array_equal(actual[name], expected[name]), name
    resumed_metrics, straight_metrics = _metrics(killed), _metrics(straight)
    assert len(resumed_metrics["train_loss"]) == epochs
    assert np.array_equal(resumed_metrics["train_loss"], straight_metrics["train_loss"])
    assert resumed_metrics["val_accuracy"] == straight_metrics["val_accuracy"]
    assert resumed_metrics["test_accuracy"] == straight_metrics["test_accuracy"]


# ------------------------------------------------------------------------ Fashion-MNIST
@pytest.mark.skipif(
    not FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_one_epoch_on_fashion_mnist_exceeds_80_percent(tmp_path: Path) -> None:
    args = ["train", "--data", "fashion-mnist", "--data-path", str(FASHION_DIR)]
    args += ["--epochs", "1", "--hidden", "64", "--out", str(tmp_path), "--quiet"]
    assert main(args) == 0
    metrics = _metrics(tmp_path)
    assert metrics["test_accuracy"] > 0.80
    assert len(metrics["train_loss"]) == 1
