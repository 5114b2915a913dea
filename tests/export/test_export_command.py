"""``chainrule export MODEL [--format onnx] [--out FILE]`` and ``chainrule info [--json] MODEL``.

``export`` writes a new file (by default MODEL with the suffix .onnx) that onnxruntime runs: a
model trained on a built-in data set takes one float ``input`` and gives the class ``label``
and ``probabilities``; a model saved from Python gives its raw ``output``. Anything it cannot
do (no model file, a file that is no model, an --out that exists or whose folder does not, a
layer ONNX has no operator for, no onnx package) ends with exit code 1 and one line on
standard error starting "chainrule export:", no traceback, and no file written. ``info``
prints the PyTorch code that loads the model, and ``--json`` one JSON object; run with torch,
that code must compute what chainrule computes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

import chainrule as cr
from chainrule import io, nn
from chainrule.cli import main
from chainrule.data.table import MISSING_MARKERS
from chainrule.data.table.columns import Where
from chainrule.data.table.preprocessing import TablePreprocessor

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
palmerpenguins = pytest.importorskip("palmerpenguins")

PENGUINS = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``chainrule ARGS`` in this process: the exit code, standard output and error."""
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line(err: str) -> str:
    """The only line of ``err``, which must hold no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _forward(model: nn.Module, X: np.ndarray) -> np.ndarray:
    model.eval()
    with cr.no_grad():
        return np.asarray(model(cr.tensor(X)).data)


def _train(folder: Path, *args: str) -> Path:
    out = folder / "run"
    assert main(["train", *args, "--epochs", "2", "--out", str(out), "--quiet", "--no-plots"]) == 0
    return out / "model.safetensors"


@pytest.fixture(scope="module")
def species_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier of the penguins' species, trained on penguins.csv."""
    folder = tmp_path_factory.mktemp("species")
    return _train(folder, "--data", str(PENGUINS), "--target", "species")


@pytest.fixture(scope="module")
def moons_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier trained on the built-in two moons."""
    return _train(tmp_path_factory.mktemp("moons"), "--data", "moons")


@pytest.fixture
def model_copy(species_model: Path, tmp_path: Path) -> Path:
    """The species model, alone in a folder of its own."""
    copy = tmp_path / "model.safetensors"
    copy.write_bytes(species_model.read_bytes())
    return copy


def _save(model: nn.Module, path: Path) -> Path:
    cr.save(model, path)
    return path


def _nested_float64(rng: np.random.Generator) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(4, 6, dtype=np.float64, rng=rng),
        nn.LeakyReLU(0.3),
        nn.Dropout(0.2),
        nn.Sequential(nn.Linear(6, 5, bias=False, dtype=np.float64, rng=rng), nn.Sigmoid()),
        nn.Linear(5, 3, dtype=np.float64, rng=rng),
        nn.Softmax(dim=1),
    )


# ------------------------------------------------------------------------ what export writes
def test_export_writes_model_dot_onnx_beside_the_model(
    capsys: pytest.CaptureFixture[str], model_copy: Path
) -> None:
    code, out, err = _run(capsys, "export", str(model_copy))
    assert code == 0 and out == ""
    written = model_copy.with_suffix(".onnx")
    line = _one_line(err)
    assert line.startswith(f"chainrule export: wrote {written} (ONNX opset 17; inputs: ")
    assert line.endswith("; outputs: label, probabilities)")
    session = ort.InferenceSession(str(written))
    inputs = ", ".join(graph_input.name for graph_input in session.get_inputs())
    assert f"inputs: {inputs};" in line
    assert sorted(p.name for p in model_copy.parent.iterdir()) == [
        "model.onnx",
        "model.safetensors",
    ]

    # A second export would replace it: refused, and the file is left as it was.
    content = written.read_bytes()
    code, out, err = _run(capsys, "export", str(model_copy), "--format", "onnx")
    assert code == 1 and "export never replaces a file" in _one_line(err)
    assert written.read_bytes() == content


def test_a_built_in_data_set_model_gives_the_class_index(
    capsys: pytest.CaptureFixture[str], moons_model: Path, tmp_path: Path
) -> None:
    """One float input of the data set's width; the label is the class ``predict`` prints."""
    path = tmp_path / "moons.onnx"
    assert _run(capsys, "export", str(moons_model), "--out", str(path))[0] == 0
    session = ort.InferenceSession(str(path))
    [graph_input] = session.get_inputs()
    assert (graph_input.name, graph_input.type, graph_input.shape) == (
        "input",
        "tensor(float)",
        ["N", 2],
    )
    outputs = [(o.name, o.type, o.shape) for o in session.get_outputs()]
    assert outputs == [
        ("label", "tensor(int64)", ["N"]),
        ("probabilities", "tensor(float)", ["N", 2]),
    ]

    X = np.random.default_rng(0).uniform(-2, 3, size=(200, 2))
    np.savetxt(tmp_path / "points.csv", X, delimiter=",")
    code, printed, _ = _run(capsys, "predict", str(moons_model), str(tmp_path / "points.csv"))
    assert code == 0
    label, probabilities = session.run(None, {"input": X.astype(np.float32)})
    assert label.tolist() == [int(line) for line in printed.split()]

    logits = _forward(io.load(moons_model), X.astype(np.float32))
    softmax = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        probabilities, softmax / softmax.sum(axis=1, keepdims=True), rtol=1e-5, atol=1e-6
    )


def test_a_model_saved_from_python_gives_its_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    model = _nested_float64(np.random.default_rng(1))
    saved = _save(model, tmp_path / "mine.safetensors")
    code, _, err = _run(capsys, "export", str(saved))
    assert code == 0 and _one_line(err).endswith("; inputs: input; outputs: output)")
    session = ort.InferenceSession(str(tmp_path / "mine.onnx"))
    assert [(o.name, o.type) for o in session.get_outputs()] == [("output", "tensor(double)")]
    X = np.random.default_rng(2).normal(size=(30, 4))
    [got] = session.run(None, {"input": X})
    np.testing.assert_allclose(got, _forward(model, X), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------ refusals
def _refused(
    capsys: pytest.CaptureFixture[str], folder: Path, model: Path | str, out: Path, *fragments: str
) -> str:
    """``export MODEL --out OUT``: exit code 1, one line naming each of ``fragments``, and
    nothing new in ``folder``."""
    before = sorted(os.listdir(folder))
    code, printed, err = _run(capsys, "export", str(model), "--out", str(out))
    line = _one_line(err)
    assert code == 1 and printed == ""
    assert line.startswith("chainrule export: "), line
    for fragment in fragments:
        assert fragment in line, line
    assert sorted(os.listdir(folder)) == before
    return line


def test_a_missing_model_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.safetensors"
    _refused(capsys, tmp_path, missing, tmp_path / "out.onnx", str(missing))


@pytest.mark.parametrize(
    "name, content",
    [
        ("rows.csv", b"a,b\n1,2\n"),
        ("metrics.json", b'{"test_accuracy": 0.9}\n'),
        ("empty.safetensors", b""),
        ("noise.safetensors", bytes(range(256)) * 4),
        ("model.npz", b"PK\x03\x04 not really a zip"),
    ],
)
def test_a_file_that_is_no_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, content: bytes
) -> None:
    (tmp_path / name).write_bytes(content)
    _refused(capsys, tmp_path, tmp_path / name, tmp_path / "out.onnx", name)


def test_a_training_checkpoint(
    capsys: pytest.CaptureFixture[str], species_model: Path, tmp_path: Path
) -> None:
    checkpoint = species_model.parent / "checkpoint.safetensors"
    _refused(capsys, tmp_path, checkpoint, tmp_path / "out.onnx", "checkpoint", "model.safetensors")


def test_an_out_that_exists_is_left_untouched(
    capsys: pytest.CaptureFixture[str], model_copy: Path
) -> None:
    out = model_copy.parent / "taken.onnx"
    out.write_bytes(b"someone else's file")
    stamp = out.stat().st_mtime_ns
    _refused(capsys, model_copy.parent, model_copy, out, str(out), "export never replaces a file")
    assert out.read_bytes() == b"someone else's file" and out.stat().st_mtime_ns == stamp


def test_an_out_in_a_missing_folder(capsys: pytest.CaptureFixture[str], model_copy: Path) -> None:
    out = model_copy.parent / "missing" / "model.onnx"
    _refused(capsys, model_copy.parent, model_copy, out, "does not exist")
    assert not out.parent.exists()


def test_an_out_under_a_file_or_that_is_a_folder(
    capsys: pytest.CaptureFixture[str], model_copy: Path
) -> None:
    folder = model_copy.parent
    _refused(capsys, folder, model_copy, model_copy / "model.onnx", "is not a folder")
    (folder / "sub").mkdir()
    _refused(capsys, folder, model_copy, folder / "sub", "is a folder")
    assert list((folder / "sub").iterdir()) == []


@pytest.fixture(scope="module")
def step_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained with ``--activation step``: Step has no ONNX operator in export."""
    folder = tmp_path_factory.mktemp("step")
    return _train(folder, "--data", "moons", "--activation", "step")


def test_a_layer_onnx_cannot_express(
    capsys: pytest.CaptureFixture[str], step_model: Path, tmp_path: Path
) -> None:
    _refused(capsys, tmp_path, step_model, tmp_path / "step.onnx")


def test_a_layer_onnx_cannot_express_is_named(
    capsys: pytest.CaptureFixture[str], step_model: Path, tmp_path: Path
) -> None:
    _refused(capsys, tmp_path, step_model, tmp_path / "step.onnx", "Step")


def test_a_model_with_non_finite_parameters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    model = nn.Sequential(nn.Linear(3, 2, rng=np.random.default_rng(0)))
    model.layers[0].weight.data[0, 0] = np.nan
    saved = _save(model, tmp_path / "nan.safetensors")
    _refused(capsys, tmp_path, saved, tmp_path / "nan.onnx", "NaN")


def test_without_onnx_it_says_what_to_install(
    capsys: pytest.CaptureFixture[str], model_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    out = model_copy.parent / "model.onnx"
    _refused(capsys, model_copy.parent, model_copy, out, "pip install 'chainrule[onnx]'")


# ------------------------------------------------------------------------ column names
def _renamed_penguins(folder: Path, renames: dict[str, str]) -> Path:
    path = folder / "penguins.csv"
    pl.read_csv(PENGUINS, null_values=list(MISSING_MARKERS)).rename(renames).write_csv(path)
    return path


@pytest.mark.parametrize(
    "target, column",
    [("species", "label"), ("species", "probabilities"), ("body_mass_g", "prediction")],
)
def test_an_input_column_named_like_an_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str, column: str
) -> None:
    """Either a graph that runs, or a one-line refusal naming the column."""
    data = _renamed_penguins(tmp_path, {"island": column})
    model = _train(tmp_path, "--data", str(data), "--target", target)
    out = tmp_path / "model.onnx"
    code, _, err = _run(capsys, "export", str(model), "--out", str(out))
    if code == 0:
        session = ort.InferenceSession(str(out))
        assert column in [graph_input.name for graph_input in session.get_inputs()]
    else:
        assert code == 1 and column in _one_line(err) and not out.exists()


def test_a_column_named_like_an_inner_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = _renamed_penguins(tmp_path, {"sex": "chainrule/isnan"})
    model = _train(tmp_path, "--data", str(data), "--target", "species")
    code, _, err = _run(capsys, "export", str(model), "--out", str(tmp_path / "model.onnx"))
    assert code == 0, err


# ------------------------------------------------------------------------ info
def test_info_prints_the_pytorch_code(
    capsys: pytest.CaptureFixture[str], species_model: Path
) -> None:
    code, out, err = _run(capsys, "info", str(species_model))
    assert code == 0 and err == ""
    assert "torch.nn.Sequential(" in out and "load_file(" in out
    assert repr(str(species_model)) in out


def test_info_json_is_one_object(capsys: pytest.CaptureFixture[str], species_model: Path) -> None:
    code, out, _ = _run(capsys, "info", "--json", str(species_model))
    assert code == 0
    document = json.loads(out)
    assert set(document) == {"architecture", "parameters", "metadata", "pytorch"}
    model, metadata = io.load_with_metadata(species_model)
    assert document["parameters"] == model.num_parameters()
    assert document["architecture"] == io.describe(model)
    assert document["metadata"]["table"] == metadata["table"]
    assert "torch.nn.Sequential(" in document["pytorch"]


def test_info_of_a_model_pytorch_has_no_module_for(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    model = nn.Sequential(nn.Linear(3, 2, rng=np.random.default_rng(0)), nn.Sign())
    saved = _save(model, tmp_path / "sign.safetensors")
    code, out, _ = _run(capsys, "info", "--json", str(saved))
    assert code == 0 and json.loads(out)["pytorch"] is None
    code, out, _ = _run(capsys, "info", str(saved))
    assert code == 0 and "PyTorch: " in out and "Sign" in out


def _table_inputs(model_path: Path) -> np.ndarray:
    """penguins.csv preprocessed as ``predict`` does, and as many random rows."""
    _, metadata = io.load_with_metadata(model_path)
    preprocessor = TablePreprocessor.from_dict(metadata["table"], str(model_path))
    frame = pl.read_csv(PENGUINS, null_values=list(MISSING_MARKERS))
    X, _ = preprocessor.transform(frame, Where("penguins", False))
    noise = np.random.default_rng(3).normal(size=X.shape).astype(np.float32)
    return np.concatenate([X, noise])


@pytest.mark.parametrize("which", ["table", "nested-float64"])
def test_the_pytorch_code_computes_what_chainrule_computes(
    capsys: pytest.CaptureFixture[str], species_model: Path, tmp_path: Path, which: str
) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    if which == "table":
        path, X = species_model, _table_inputs(species_model)
    else:
        path = _save(_nested_float64(np.random.default_rng(4)), tmp_path / "nested.safetensors")
        X = np.random.default_rng(5).normal(size=(50, 4)) * 3
    code, out, _ = _run(capsys, "info", "--json", str(path))
    assert code == 0
    namespace: dict[str, Any] = {}
    exec(json.loads(out)["pytorch"], namespace)
    with torch.no_grad():
        got = namespace["model"](torch.from_numpy(X)).numpy()
    expected = _forward(io.load(path), X)
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
