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
from chainrule.demos import DEMOS, DemoResult, templates
from chainrule.demos._boundary_training import BoundaryTrainingResult
from chainrule.demos.activations import ACTIVATIONS, CONDITIONS, ActivationsResult, curve
from chainrule.demos.encoder import EncoderResult
from chainrule.demos.learning_rate import LearningRateResult
from chainrule.demos.nearest_mean import NearestMeanResult
from chainrule.demos.perceptron import PerceptronResult
from chainrule.demos.templates import TemplatesResult
from chainrule.demos.tree import TreeResult
from chainrule.demos.xor import XorResult

# The demonstrations draw with matplotlib (the cli extra); their modules import it only to draw.
image_io = pytest.importorskip("matplotlib.image")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ACTIVATIONS_BY_NAME = {activation.name: activation for activation in ACTIVATIONS}


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
        if name == "tree":
            pytest.importorskip("sklearn.tree")
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


def test_activations_that_cannot_train_do_not_and_the_good_ones_do(
    demo_run: Callable[[str], CliRun],
) -> None:
    run = demo_run("activations")
    result = run.result
    assert isinstance(result, ActivationsResult)
    units = result.unit_runs
    assert list(units) == ["sigmoid", "tanh", "ReLU", "shifted ReLU", "step", "sin(100z)"]
    for name in ("shifted ReLU", "step"):
        # No gradient reaches any weight (the output unit applies the activation too), so the
        # weights never move and every epoch's loss is the first one's.
        assert all(norm == 0.0 for norm in units[name].first_layer_norms), name
        assert all(norm == 0.0 for norm in units[name].layer_grad_norms), name
        np.testing.assert_allclose(units[name].train_loss, units[name].train_loss[0], atol=1e-6)
    for name in ("tanh", "ReLU"):
        assert units[name].train_loss[-1] < 0.06, name
        assert units[name].train_accuracy >= 0.95, name
        assert units["sin(100z)"].train_loss[-1] > 5 * units[name].train_loss[-1]
    assert units["sin(100z)"].layer_grad_norms[0] > 1e3, "its gradient is large, not absent"
    assert result.breaks == {
        "sigmoid": "",
        "tanh": "",
        "ReLU": "",
        "shifted ReLU": CONDITIONS[1],
        "step": CONDITIONS[1],
        "sin(100z)": CONDITIONS[2],
    }
    summary = _flat(result.summary())
    for condition in CONDITIONS:
        assert condition in summary
    assert "activations_training.png" in run.stdout
    assert "shifted ReLU  non-zero on much of the domain" in run.stdout


def test_derivatives_of_the_activations_that_cannot_train_match_their_formulas() -> None:
    expected = {
        "shifted ReLU": lambda z: (z > 100).astype(float),
        "step": np.zeros_like,
        "sin(100z)": lambda z: 100 * np.cos(100 * z),
    }
    for name, derivative_of in expected.items():
        z, _, derivative = curve(ACTIVATIONS_BY_NAME[name])
        np.testing.assert_allclose(derivative, derivative_of(z), atol=1e-9, err_msg=name)


def test_the_demo_sine_has_a_second_derivative() -> None:
    import chainrule as cr

    sine = ACTIVATIONS_BY_NAME["sin(100z)"].function
    z = np.linspace(-0.1, 0.1, 7)
    second = cr.grad(lambda x: cr.ops.sum(cr.grad(lambda y: cr.ops.sum(sine(y)))(x)))(z)
    np.testing.assert_allclose(np.asarray(second.data), -1e4 * np.sin(100 * z), atol=1e-7)


def test_templates_are_one_image_per_class_and_the_linear_model_classifies_well(
    demo_run: Callable[[str], CliRun],
) -> None:
    run = demo_run("templates")
    result = run.result
    assert isinstance(result, TemplatesResult)
    fashion = result.dataset == "Fashion-MNIST"
    side = 28 if fashion else 8
    assert result.templates.shape == (10, side, side)
    assert np.all(np.abs(result.templates).reshape(10, -1).max(axis=1) > 0)
    if fashion:
        assert result.class_names[0] == "T-shirt/top"
        assert result.class_names[9] == "Ankle boot"
        assert "Fashion-MNIST" in _flat(run.stdout)
    assert result.linear_accuracy > (0.7 if fashion else 0.85)
    assert result.mlp_accuracy >= result.linear_accuracy - 0.02
    assert f"{result.epochs} epochs" in _flat(run.stdout)
    assert f"{result.n_train:,}" in _flat(run.stdout)


def test_templates_fall_back_to_the_built_in_digits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def not_installed(*args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        raise FileNotFoundError("fashion-mnist: not here")

    monkeypatch.setattr(templates, "load_fashion_mnist", not_installed)
    result = templates.run(tmp_path, seed=0)
    assert result.dataset == "digits"
    assert result.templates.shape == (10, 8, 8)
    assert result.linear_accuracy > 0.85
    assert result.mlp_accuracy >= result.linear_accuracy - 0.02
    assert "8x8 digits" in result.summary()
    assert "Fashion-MNIST is not installed" in result.summary()
    assert (tmp_path / "templates.png").stat().st_size > 10_000


def test_tree_network_agrees_with_the_tree_and_fine_tuning_keeps_its_accuracy(
    demo_run: Callable[[str], CliRun],
) -> None:
    run = demo_run("tree")
    result = run.result
    assert isinstance(result, TreeResult)
    assert result.grid_agreement == 1.0
    assert result.grid_points >= 200 * 200
    assert "agree with the tree's on 100% of a" in _flat(run.stdout)
    assert result.step_train_accuracy == result.tree_train_accuracy
    assert result.step_test_accuracy == result.tree_test_accuracy
    assert result.tuned_train_accuracy >= result.tree_train_accuracy - 0.02
    assert result.fine_tune_loss[-1] < result.fine_tune_loss[0]
    assert result.max_depth <= 4 and result.n_leaves >= 4


def test_tree_demo_without_scikit_learn_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    # None in sys.modules makes the import fail, as when the package is not installed.
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.tree", None)
    assert main(["demo", "tree", "--out", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert 'pip install "chainrule[sklearn]"' in error
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------ with and without data sets
def _write_idx(path: Path, values: np.ndarray) -> None:
    """An IDX file of unsigned bytes: the magic 0 0 0x08 ndim, the sizes, the values."""
    header = bytes([0, 0, 0x08, values.ndim]) + np.asarray(values.shape, ">u4").tobytes()
    path.write_bytes(header + values.astype(np.uint8).tobytes())


@pytest.fixture(params=["without-data-sets", "with-fashion-mnist"])
def data_search_path(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Where Fashion-MNIST is looked for, set explicitly: nowhere (an empty HOME and cache, no
    system folder), or a folder of small IDX files given in $CHAINRULE_DATA, whatever the
    machine has installed."""
    from chainrule.data import idx

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setattr(idx, "_SYSTEM_DIRS", {"fashion-mnist": tmp_path / "none", "mnist": None})
    if request.param == "with-fashion-mnist":
        folder = tmp_path / "data"
        folder.mkdir()
        rng = np.random.default_rng(0)
        for prefix, count in (("train", 600), ("t10k", 200)):
            labels = np.arange(count) % 10
            # Each class lights its own band of rows, so a linear model can tell them apart.
            images = rng.integers(0, 60, size=(count, 28, 28))
            for k in range(10):
                images[labels == k, 2 * k + 4 : 2 * k + 7, :] += 180
            _write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
            _write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
        monkeypatch.setenv("CHAINRULE_DATA", str(folder))
    return str(request.param)


def test_templates_demo_prints_its_summary_whole_with_or_without_the_data(
    data_search_path: str, tmp_path: Path
) -> None:
    run = run_cli("templates", ["--out", str(tmp_path / "figures")])
    result = run.result
    assert isinstance(result, TemplatesResult)
    expected = "digits" if data_search_path == "without-data-sets" else "Fashion-MNIST"
    assert result.dataset == expected
    assert _flat(result.summary()) in _flat(run.stdout)
    if expected == "digits":
        assert "dataset-fashion-mnist" in run.stdout  # never broken at its hyphens
        assert "~/.cache/chainrule/fashion-mnist" in run.stdout


def test_demo_summaries_are_wrapped_at_spaces_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    long_words = "see dataset-fashion-mnist-and-a-very-long-hyphenated-package-name " * 6

    @dataclasses.dataclass
    class Result(DemoResult):
        files: list[Path]

        def summary(self) -> str:
            return long_words.strip() + "."

    def fake(out: Path, *, seed: int = 0, animate: bool = False) -> DemoResult:
        return Result(files=[])

    monkeypatch.setitem(DEMOS, "xor", dataclasses.replace(DEMOS["xor"], run=fake))
    assert main(["demo", "xor", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("dataset-fashion-mnist-and-a-very-long-hyphenated-package-name") == 6
