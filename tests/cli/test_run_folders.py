"""``chainrule train`` never destroys a run: output folders are checked and claimed before any
work, resuming continues the same run with the settings it records, Ctrl-C stops cleanly, and a
run that fails leaves nothing (or says what it kept). Grouped by rule."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import one_line as _one_line
from cli_helpers import run as _run

import chainrule as cr
from chainrule.cli import main, run_folder
from chainrule.cli import train_command as experiment
from chainrule.io import read_archive

QUICK = ["--data", "moons", "--hidden", "4", "--epochs", "3", "--quiet"]


def _train(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return _run(capsys, "train", *args)


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file of a folder with a hash of its bytes and its modification time."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() + f"@{path.stat().st_mtime_ns}"
        for path in sorted(folder.iterdir())
    }


def _metrics(folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((folder / "metrics.json").read_text())
    return result


def _checkpoint_header(folder: Path) -> dict[str, Any]:
    return read_archive(folder / "checkpoint.safetensors")[1]


@pytest.fixture
def finished_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "finished"
    code, _, err = _train(capsys, *QUICK, "--out", str(out))
    assert code == 0, err
    return out


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a run gets as far as loading its data."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the run started working before its settings were checked")

    monkeypatch.setattr(experiment, "load_data", refuse)


# ------------------------------------------------------------------ a run is never replaced
def test_a_new_run_in_a_folder_holding_a_finished_run_is_refused(
    finished_run: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    before = _fingerprint(finished_run)
    code, _, err = _train(capsys, *QUICK, "--out", str(finished_run))
    line = _one_line(err)
    assert code == 1
    assert str(finished_run) in line and "finished run" in line and "--resume" in line
    assert _fingerprint(finished_run) == before


def test_a_new_run_in_a_folder_holding_an_unfinished_run_is_refused(
    finished_run: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    for name in ("model.safetensors", "metrics.json", "training.png", "boundary.png"):
        (finished_run / name).unlink(missing_ok=True)
    before = _fingerprint(finished_run)
    code, _, err = _train(capsys, "--data", "digits", "--out", str(finished_run))
    assert code == 1
    assert "unfinished run" in _one_line(err)
    assert _fingerprint(finished_run) == before


def test_a_new_run_needs_an_empty_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, _, err = _train(capsys, *QUICK, "--out", str(tmp_path))
    assert code == 1
    assert "not empty" in _one_line(err) and "notes.txt" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.txt"]


def test_resume_of_a_model_without_checkpoint_is_refused_and_the_model_kept(
    finished_run: Path, capsys: pytest.CaptureFixture[str], no_training: None
) -> None:
    (finished_run / "checkpoint.safetensors").unlink()
    before = _fingerprint(finished_run)
    code, _, err = _train(capsys, *QUICK, "--out", str(finished_run), "--resume")
    line = _one_line(err)
    assert code == 1
    assert "checkpoint" in line and "model" in line
    assert _fingerprint(finished_run) == before


def test_resume_in_an_empty_or_new_folder_starts_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _train(capsys, *QUICK, "--out", str(tmp_path / "new"), "--resume")
    assert code == 0, err
    assert len(_metrics(tmp_path / "new")["train_loss"]) == 3
    assert "holds no run yet; starting a new run" in _one_line(err)  # a typo is not silent


def test_a_checkpoint_of_another_run_is_not_resumed_over_this_one(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    code, _, err = _train(capsys, "--data", "circles", "--epochs", "1", "--out", str(other))
    assert code == 0, err
    (finished_run / "checkpoint.safetensors").write_bytes(
        (other / "checkpoint.safetensors").read_bytes()
    )
    before = _fingerprint(finished_run)
    code, _, err = _train(capsys, "--out", str(finished_run), "--resume", "--epochs", "9")
    line = _one_line(err)
    assert code == 1
    assert "different runs" in line and "--data circles" in line and "metrics.json" in line
    assert _fingerprint(finished_run) == before


def test_runs_started_in_the_same_second_get_their_own_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "strftime", lambda *args: "20261202-120000")
    for _ in range(3):
        code, _, err = _train(capsys, *QUICK)
        assert code == 0, err
    folders = sorted(path.name for path in (tmp_path / "runs").iterdir())
    assert folders == ["20261202-120000", "20261202-120000-2", "20261202-120000-3"]
    for name in folders:
        assert (tmp_path / "runs" / name / "model.safetensors").is_file()


def test_a_folder_in_use_by_a_live_run_is_refused_and_a_stale_lock_taken_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / run_folder.LOCK).write_text(f"{sleeper.pid}\n")
        code, _, err = _train(capsys, *QUICK, "--out", str(out))
        assert code == 1
        assert f"process {sleeper.pid}" in _one_line(err)
    finally:
        sleeper.kill()
        sleeper.wait()
    code, _, err = _train(capsys, *QUICK, "--out", str(out))  # the lock's process is gone
    assert code == 0, err
    assert not (out / run_folder.LOCK).exists()


# ------------------------------------------------------------------ resuming continues the run
def test_resume_without_settings_continues_with_the_runs_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code, _, err = _train(capsys, *QUICK, "--optimizer", "sgd", "--lr", "0.05", "--out", str(out))
    assert code == 0, err
    code, _, err = _train(capsys, "--out", str(out), "--resume", "--epochs", "5", "--quiet")
    assert code == 0, err
    config = _metrics(out)["config"]
    assert (config["data"], config["optimizer"], config["lr"], config["hidden"]) == (
        "moons",
        "sgd",
        0.05,
        [4],
    )
    assert len(_metrics(out)["train_loss"]) == 5


@pytest.mark.parametrize(
    ("flag", "value", "started"),
    [
        ("--data", "circles", "moons"),
        ("--optimizer", "sgd", "adam"),
        ("--hidden", "8,8", "4"),
        ("--activation", "relu", "tanh"),
        ("--seed", "7", "0"),
        ("--batch-size", "16", "64"),
    ],
)
def test_resume_refuses_a_setting_that_defines_the_run(
    finished_run: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
    started: str,
) -> None:
    before = _fingerprint(finished_run)
    args = ["--out", str(finished_run), "--resume", "--epochs", "6", flag, value, "--quiet"]
    code, _, err = _train(capsys, *args)
    line = _one_line(err)
    assert code == 1
    assert f"{flag} {value}" in line and f"{flag} {started}" in line
    assert str(finished_run / "checkpoint.safetensors") in line
    assert _fingerprint(finished_run) == before


def test_resume_applies_and_records_a_new_learning_rate(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--out", str(finished_run), "--resume", "--epochs", "5", "--lr", "0.5", "--quiet"]
    code, _, err = _train(capsys, *args)
    assert code == 0, err
    metrics = _metrics(finished_run)
    assert metrics["config"]["lr"] == 0.5
    assert metrics["lr"] == [0.01, 0.01, 0.01, 0.5, 0.5]  # what each epoch trained with
    header = _checkpoint_header(finished_run)
    assert [group["lr"] for group in header["param_groups"]] == [0.5]
    assert header["metadata"]["config"] == metrics["config"]
    model_config = read_archive(finished_run / "model.safetensors")[1]["metadata"]["config"]
    assert model_config == metrics["config"]


def test_resume_refuses_fewer_epochs_than_were_trained(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _fingerprint(finished_run)
    code, _, err = _train(capsys, "--out", str(finished_run), "--resume", "--epochs", "2")
    line = _one_line(err)
    assert code == 1
    assert "--epochs 2" in line and "3 epochs" in line
    assert _fingerprint(finished_run) == before


def test_resume_of_a_finished_run_without_more_epochs_does_nothing(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _fingerprint(finished_run)
    code, out, _ = _train(capsys, "--out", str(finished_run), "--resume")
    assert code == 0
    assert "nothing to do" in out
    assert _fingerprint(finished_run) == before


# ------------------------------------------------------------------ Ctrl-C
class _InterruptAt:
    """Raise KeyboardInterrupt at the end of an epoch, as Ctrl-C would during it."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, state: Any) -> None:
        if state.epoch == self.epoch:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_the_checkpoint_and_says_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    args = [*QUICK[:-3], "--epochs", "6", "--quiet"]
    with monkeypatch.context() as patch:
        patch.setattr(experiment, "CHECKPOINT_SECONDS", 0.0)  # a checkpoint after every epoch
        patch.setattr(experiment.GradientNormMonitor, "on_epoch_end", _InterruptAt(4))
        code, _, err = _train(capsys, *args, "--out", str(interrupted))
    line = _one_line(err)
    assert code == 130
    assert str(interrupted / "checkpoint.safetensors") in line and "epoch 3" in line
    command = f"chainrule train --out {interrupted} --resume"
    assert command in line
    assert not (interrupted / "metrics.json").exists()
    assert not (interrupted / run_folder.LOCK).exists()
    code, _, err = _train(capsys, *command.split()[2:], "--quiet")
    assert code == 0, err
    code, _, err = _train(capsys, *args, "--out", str(straight))
    assert code == 0, err
    assert _metrics(interrupted)["train_loss"] == _metrics(straight)["train_loss"]


def test_ctrl_c_before_the_first_checkpoint_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(experiment.GradientNormMonitor, "on_epoch_end", _InterruptAt(1))
    code, _, err = _train(capsys, *QUICK, "--out", str(tmp_path / "run"))
    assert code == 130
    assert "nothing was kept" in _one_line(err)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_to_a_real_run_ends_it_cleanly(tmp_path: Path, stop: signal.Signals) -> None:
    out = tmp_path / "run"
    command = [sys.executable, "-m", "chainrule", "train", "--data", "digits", "--epochs", "400"]
    process = subprocess.Popen(
        [*command, "--hidden", "64", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / "checkpoint.safetensors").is_file():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.02)
        process.send_signal(stop)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("chainrule train: interrupted") and "--resume" in last
    assert (out / "checkpoint.safetensors").is_file() and not (out / "metrics.json").exists()
    assert sorted(path.name for path in out.iterdir()) == [
        "checkpoint.safetensors"
    ]  # no lock, no temp


# ------------------------------------------------------------------ a failed run leaves nothing
def test_a_diverged_run_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--data", "spirals", "--optimizer", "sgd", "--lr", "1000", "--epochs", "50"]
    code, _, err = _train(capsys, *args, "--out", str(tmp_path / "run"), "--quiet")
    line = _one_line(err)
    assert code == 1 and "diverged" in line
    assert not (tmp_path / "run").exists()


def test_a_failed_run_in_an_existing_empty_folder_keeps_the_folder_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--data", "spirals", "--optimizer", "sgd", "--lr", "1000", "--epochs", "50"]
    code, _, _ = _train(capsys, *args, "--out", str(tmp_path), "--quiet")
    assert code == 1
    assert tmp_path.is_dir() and list(tmp_path.iterdir()) == []


def test_a_resumed_run_that_diverges_says_what_it_kept(
    finished_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--out", str(finished_run), "--resume", "--epochs", "40", "--lr", "1000", "--quiet"]
    code, _, err = _train(capsys, *args)
    line = _one_line(err)
    assert code == 1
    assert "diverged" in line and "was kept" in line and "--resume" in line
    assert (finished_run / "checkpoint.safetensors").is_file()
    assert (finished_run / "model.safetensors").is_file()


# ------------------------------------------------------------------ output checked first
@pytest.mark.parametrize("case", ["file", "under-file", "proc", "sys"])
def test_an_unusable_output_folder_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_training: None, case: str
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    out = {
        "file": afile,
        "under-file": afile / "run",
        "proc": Path("/proc/chainrule-run"),
        "sys": Path("/sys/kernel/chainrule-run"),
    }[case]
    code, _, err = _train(capsys, *QUICK, "--out", str(out))
    assert code == 1
    assert str(out) in _one_line(err)
    assert afile.read_text() == "x"


def test_demo_refuses_a_file_as_output_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["demo", "xor", "--out", str(afile)]) == 1
    assert str(afile) in _one_line(capsys.readouterr().err)
    assert afile.read_text() == "x"


def test_a_given_data_path_that_does_not_exist_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no-such-folder"
    args = ["--data", "fashion-mnist", "--data-path", str(missing), "--epochs", "1"]
    code, _, err = _train(capsys, *args, "--out", str(tmp_path / "run"), "--quiet")
    assert code == 1
    assert str(missing) in _one_line(err)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--lr", "inf"], "--lr"),
        (["--lr", "1e300"], "--lr"),
        (["--lr", "0"], "--lr"),
        (["--lr", "abc"], "--lr"),
        (["--momentum", "1.5"], "--momentum"),
        (["--momentum", "nan"], "--momentum"),
        (["--weight-decay", "-1"], "--weight-decay"),
        (["--weight-decay", "inf"], "--weight-decay"),
        (["--grad-tol", "inf"], "--grad-tol"),
        (["--max-norm", "-3"], "--max-norm"),
        (["--seed", "-1"], "--seed"),
        (["--seed", "1.5"], "--seed"),
        (["--epochs", "abc"], "--epochs"),
        (["--batch-size", "2.5"], "--batch-size"),
        (["--hidden", ","], "--hidden"),
    ],
)
def test_bad_values_are_refused_at_parsing_naming_the_flag(
    args: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["train", *args])
    assert caught.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert flag in last
    assert "_positive_int" not in last and "_seed" not in last and "_number" not in last


@pytest.mark.parametrize("command", [["gradcheck"], ["demo", "xor"]])
def test_negative_seed_is_refused_by_every_command(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main([*command, "--seed", "-1"])
    assert caught.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--seed" in last and "non-negative" in last


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--optimizer", "adam", "--momentum", "0.9"], "--momentum"),
        (["--momentum", "0.9"], "--momentum"),  # adam by default
        (["--data", "digits", "--data-path", "/tmp"], "--data-path"),
        (["--data", "moons", "--data-path", "/tmp"], "--data-path"),
    ],
)
def test_a_flag_that_would_do_nothing_is_refused(
    args: list[str],
    mentions: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_training: None,
) -> None:
    code, _, err = _train(capsys, *args, "--out", str(tmp_path / "run"), "--quiet")
    assert code == 1
    assert mentions in _one_line(err)
    assert not (tmp_path / "run").exists()


def test_animate_on_data_that_is_not_2d_is_announced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--data", "digits", "--animate", "--epochs", "1", "--hidden", "8"]
    code, _, err = _train(capsys, *args, "--out", str(tmp_path), "--quiet")
    assert code == 0
    assert "--animate" in err and "ignored" in err
    assert not (tmp_path / "boundary.gif").exists()


def test_a_network_too_large_for_memory_is_refused_with_the_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code, _, err = _train(capsys, "--hidden", "100000000", "--out", str(tmp_path / "r"), "--quiet")
    line = _one_line(err)
    assert code == 1
    assert "GB" in line and "--hidden 100000000" in line
    assert time.monotonic() - started < 10
    assert not (tmp_path / "r").exists()


def test_training_bytes_counts_parameters_gradients_and_state() -> None:
    config = experiment.RunConfig(optimizer="adam", batch_size=1)
    widths = [10, 20, 3]
    parameters = 10 * 20 + 20 + 20 * 3 + 3
    # parameter, gradient, checkpoint copy (3) and Adam's two moments with their copies (4);
    # activations of the larger of a batch and an evaluation chunk of 1024 rows
    expected = (parameters * 7 + 1024 * sum(widths) * 4) * 4
    assert experiment.training_bytes(widths, config) == expected
    big_batches = experiment.RunConfig(optimizer="adam", batch_size=100_000_000)
    capped = (parameters * 7 + 5000 * sum(widths) * 4) * 4  # a batch is at most the data
    assert experiment.training_bytes(widths, big_batches, samples=5000) == capped


def test_a_batch_larger_than_the_data_is_not_counted_as_memory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--data", "xor", "--epochs", "1", "--batch-size", "100000000"]
    code, _, err = _train(capsys, *args, "--out", str(tmp_path / "r"), "--quiet")
    assert code == 0, err


def test_the_boundary_of_a_wide_network_is_drawn_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    from chainrule.plots import training as plots

    seen: list[int] = []

    def model(inputs: cr.Tensor) -> cr.Tensor:
        seen.append(len(inputs.data))
        return cr.tensor(inputs.data[:, :1])

    points = np.random.default_rng(0).normal(size=(40_000, 2))
    labels = plots._predict_classes(model, points)
    assert max(seen) <= 1024 and sum(seen) == 40_000
    np.testing.assert_array_equal(labels, (points[:, 0] > 0).astype(int))


def test_divergence_advice_suggests_only_finite_positive_rates() -> None:
    from chainrule.train.loop import divergence_advice

    assert "e.g. 0.01" in divergence_advice(0.1, first_batch=False)
    for lr in (float("inf"), float("nan"), 0.0, 5e-324):
        advice = divergence_advice(lr, first_batch=False)
        assert "e.g. inf" not in advice and "e.g. nan" not in advice and "e.g. 0)" not in advice
    assert "NaN" in divergence_advice(0.1, first_batch=True)


def test_a_run_diverging_from_its_weight_decay_is_told_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--data", "moons", "--optimizer", "sgd", "--lr", "1", "--weight-decay", "1000"]
    code, _, err = _train(capsys, *args, "--epochs", "5", "--out", str(tmp_path / "r"), "--quiet")
    line = _one_line(err)
    assert code == 1
    assert (
        "diverged" in line and "weight decay" in line and "smaller learning rate (e.g" not in line
    )


def test_fit_refuses_bad_epochs_and_an_optimizer_of_another_model() -> None:
    import chainrule as cr
    from chainrule import nn, optim

    X = np.zeros((8, 2), np.float32)
    y = np.zeros(8, np.int64)
    model, other = nn.mlp(2, [3], 2), nn.mlp(2, [3], 2)
    loss_fn = nn.CrossEntropyLoss()
    for epochs, error in ((-1, ValueError), (0, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="epochs"):
            cr.train.fit(
                model, loss_fn, optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=epochs
            )
    with pytest.raises(ValueError, match="another model"):
        cr.train.fit(model, loss_fn, optim.SGD(other.parameters(), lr=0.1), (X, y), epochs=1)
