"""``chainrule demo NAME``: every demonstration runs through the command line, writes valid
figures, says what they show, and the facts it states are true."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.demos import DEMOS, DemoResult
from chainrule.demos._boundary_training import BoundaryTrainingResult
from chainrule.demos.activations import ACTIVATIONS, ActivationsResult, curve
from chainrule.demos.encoder import EncoderResult
from chainrule.demos.learning_rate import LearningRateResult
from chainrule.demos.nearest_mean import NearestMeanResult
from chainrule.demos.perceptron import PerceptronResult
from chainrule.demos.xor import XorResult

# The demonstrations draw with matplotlib (the cli extra); their modules import it only to draw.
image_io = pytest.importorskip("matplotlib.image")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclasses.dataclass
class CliRun:
    """One ``chainrule demo`` call: the result object the demo returned, and what it printed."""

    result: DemoResult
    stdout: str
    stderr: str
    out: Path


def run_cli(name: str, argv: list[str]) -> CliRun:
    """Run ``main(["demo", name, *argv])`` and keep the result the demo function returned."""
    demo = DEMOS[name]
    returned: list[DemoResult] = []

    def spy(out: Path, *, seed: int = 0, animate: bool = False) -> DemoResult:
        result = demo.run(out, seed=seed, animate=animate)
        returned.append(result)
        return result

    stdout, stderr = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(DEMOS, name, dataclasses.replace(demo, run=spy))
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(["demo", name, *argv])
    assert code == 0, stderr.getvalue()
    assert len(returned) == 1
    out = Path(argv[argv.index("--out") + 1]) if "--out" in argv else Path(f"demo-{name}")
    return CliRun(returned[0], stdout.getvalue(), stderr.getvalue(), out)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], CliRun]:
    """Each demonstration run once per test module (the perceptron with --animate), on demand."""
    runs: dict[str, CliRun] = {}

    def get(name: str) -> CliRun:
        if name not in runs:
            out = tmp_path_factory.mktemp(name) / "figures"
            extra = ["--animate"] if name == "perceptron" else []
            runs[name] = run_cli(name, ["--out", str(out), "--seed", "0", *extra])
        return runs[name]

    return get


def _flat(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------ every demonstration
@pytest.mark.parametrize("name", list(DEMOS))
def test_demo_writes_valid_pngs_and_says_what_they_show(
    name: str, demo_run: Callable[[str], CliRun]
) -> None:
    from PIL import Image

    run = demo_run(name)
    pngs = [path for path in run.result.files if path.suffix == ".png"]
    assert pngs, "a demonstration writes at least one PNG"
    for path in run.result.files:
        assert path.parent == run.out
        assert path.stat().st_size > 10_000
        assert str(path) in run.stdout
    for path in pngs:
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        pixels = image_io.imread(path)
        height, width = pixels.shape[:2]
        assert height >= 400 and width >= 500, (path, pixels.shape)
        assert pixels.std() > 0.05, "the figure is not blank"
        dpi = Image.open(path).info["dpi"]
        assert 100 <= round(dpi[0]) <= 150
    summary = run.result.summary()
    assert _flat(summary) in _flat(run.stdout)
    sentences = re.findall(r"[.!?](?:\s|$)", summary)
    assert 2 <= len(sentences) <= 3, summary


def test_every_demo_is_listed_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--list"]) == 0
    listed = capsys.readouterr().out
    assert main(["demo"]) == 0
    assert capsys.readouterr().out == listed
    for name, demo in DEMOS.items():
        assert f"  {name}  " in listed or f"  {name} " in listed
        assert demo.description in listed
    assert "perceptron, moons and spirals" in listed


def test_unknown_demo_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["demo", "frobnicate"])
    assert stopped.value.code == 2
    assert "frobnicate" in capsys.readouterr().err


def test_default_folder_and_animate_where_there_is_nothing_to_animate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = run_cli("nearest-mean", ["--animate"])
    assert "no animation" in run.stderr
    assert [path.suffix for path in run.result.files] == [".png"]
    assert (tmp_path / "demo-nearest-mean" / "nearest_mean_vs_perceptron.png").is_file()


# ------------------------------------------------------------------ the facts they claim
def test_perceptron_converges_with_zero_errors_and_animates_each_update(
    demo_run: Callable[[str], CliRun],
) -> None:
    from PIL import Image

    result = demo_run("perceptron").result
    assert isinstance(result, PerceptronResult)
    assert result.converged
    assert result.training_errors == 0
    assert result.n_updates >= 2
    gif = next(path for path in result.files if path.suffix == ".gif")
    assert gif.read_bytes()[:6] == b"GIF89a"
    with Image.open(gif) as image:
        assert image.n_frames == result.n_updates


def test_nearest_mean_gets_a_large_share_wrong_where_the_perceptron_gets_none(
    demo_run: Callable[[str], CliRun],
) -> None:
    result = demo_run("nearest-mean").result
    assert isinstance(result, NearestMeanResult)
    assert result.nearest_mean_error_rate > 0.2
    assert result.perceptron_converged
    assert result.perceptron_errors == 0
    # The means sit on opposite sides of the separating line y = 0, shifted along x.
    assert result.means[0, 1] > 0 > result.means[1, 1]
    assert result.means[0, 0] < result.means[1, 0]


def test_xor_perceptron_fails_and_the_network_succeeds(
    demo_run: Callable[[str], CliRun],
) -> None:
    run = demo_run("xor")
    result = run.result
    assert isinstance(result, XorResult)
    assert result.perceptron_converged is False
    assert "converged_ is False" in _flat(run.stdout)
    assert result.perceptron_accuracy < 0.8
    assert result.network_accuracy == 1.0


def test_encoder_reconstructs_all_eight_and_prints_the_hidden_table(
    demo_run: Callable[[str], CliRun],
) -> None:
    run = demo_run("encoder")
    result = run.result
    assert isinstance(result, EncoderResult)
    assert result.n_reconstructed == 8
    assert result.hidden.shape == (8, 3)
    assert np.all((result.hidden > 0) & (result.hidden < 1))
    np.testing.assert_array_equal(result.outputs.argmax(axis=1), np.arange(8))
    lines = run.stdout.splitlines()
    for k in range(8):
        pattern = "0" * k + "1" + "0" * (7 - k)
        row = next(line for line in lines if line.startswith(pattern))
        values = [float(value) for value in row.split()[1:4]]
        np.testing.assert_allclose(values, result.hidden[k], atol=0.006)
        assert row.split()[-1] == pattern, "reconstructed as itself"


@pytest.mark.parametrize("name", ["moons", "spirals"])
def test_boundary_demos_learn_their_data(name: str, demo_run: Callable[[str], CliRun]) -> None:
    result = demo_run(name).result
    assert isinstance(result, BoundaryTrainingResult)
    assert result.dataset == name
    assert result.train_accuracy >= 0.95
    assert result.train_loss[-1] < result.train_loss[0] / 5
    assert result.snapshot_epochs[0] == 1
    assert result.snapshot_epochs[-1] == result.epochs == len(result.train_loss)


def test_activations_sigmoid_gradients_vanish_in_the_first_layer(
    demo_run: Callable[[str], CliRun],
) -> None:
    result = demo_run("activations").result
    assert isinstance(result, ActivationsResult)
    sigmoid, relu = result.runs["sigmoid"], result.runs["ReLU"]
    assert result.first_layer_grad_norm("sigmoid") < 0.01 * result.first_layer_grad_norm("ReLU")
    # Vanishing: the sigmoid network's gradient shrinks layer by layer towards the input.
    assert all(np.diff(sigmoid.layer_grad_norms) > 0)
    assert sigmoid.layer_grad_norms[0] < 0.01 * sigmoid.layer_grad_norms[-1]
    assert relu.train_loss[-1] < 0.5 * sigmoid.train_loss[-1]
    assert relu.train_accuracy > sigmoid.train_accuracy


def test_activation_derivatives_drawn_by_backprop_match_their_formulas() -> None:
    expected = {
        "sigmoid": lambda z, f: f * (1 - f),
        "tanh": lambda z, f: 1 - f**2,
        "ReLU": lambda z, f: (z > 0).astype(float),
        "sign": lambda z, f: np.zeros_like(z),
    }
    assert [activation.name for activation in ACTIVATIONS][:4] == list(expected)
    for activation in ACTIVATIONS[:4]:
        z, values, derivative = curve(activation)
        np.testing.assert_allclose(
            derivative, expected[activation.name](z, values), atol=1e-12, err_msg=activation.name
        )


def test_learning_rate_large_diverges_and_good_beats_small(
    demo_run: Callable[[str], CliRun],
) -> None:
    run = demo_run("learning-rate")
    result = run.result
    assert isinstance(result, LearningRateResult)
    small, good, large = result.runs["too small"], result.runs["good"], result.runs["too large"]
    assert large.diverged
    assert f"learning rate {large.lr:g}" in large.message
    assert large.final_loss > 1e3 * max(large.losses[0], 1.0), "the plotted stop is past the guard"
    assert not small.diverged and not good.diverged
    assert good.final_loss < small.final_loss / 5
    assert len(small.losses) == len(good.losses)
    assert "TrainingDiverged" in run.stdout
