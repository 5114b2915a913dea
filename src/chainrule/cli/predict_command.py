"""What ``chainrule predict`` and ``chainrule info`` do with a saved model.

A table model (trained with ``--data FILE --target COL``) reads a table with a header, applies
the preprocessing saved in the model, and writes a CSV: a ``prediction`` column and, for
classification, one ``proba_<class>`` column per class, a row per input row in order. Other
models read numeric rows (``read_matrix``) and print one class per line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from .._atomic import atomic_write
from .._text import counted, one_line
from ..engine.graph import no_grad


class PredictError(ValueError):
    """Input that the model cannot predict from; the message names the file and the place."""


def predict(model_path: str, input_path: str, out: str | None = None) -> int:
    """Predict every row of ``input_path`` with the model in ``model_path``, to standard
    output or to the new file ``out`` ('-' is standard output); the exit code."""
    target = None if out in (None, "-") else Path(out)
    try:
        if target is not None:
            _check_new_file(target)
        model, metadata = io.load_with_metadata(model_path)
        io.check_finite(model, model_path)
        if "table" in metadata:
            text = _predict_table(model, metadata, model_path, input_path)
        else:
            text = _predict_rows(model, metadata, model_path, input_path)
        if target is not None:
            data = text.encode()
            try:
                atomic_write(target, lambda file: file.write(data))
            except OSError as error:
                reason = error.strerror or str(error)
                raise PredictError(f"--out {target}: cannot be written ({reason})") from None
    except (OSError, ValueError, ImportError) as error:
        print(f"chainrule predict: {one_line(error)}", file=sys.stderr)
        return 1
    if target is None:
        sys.stdout.write(text)
    else:
        rows = max(text.count("\n") - ("table" in metadata), 0)
        print(
            f"chainrule predict: wrote {counted(rows, 'prediction')} to {target}", file=sys.stderr
        )
    return 0


def _check_new_file(target: Path, command: str = "predict") -> None:
    """Refuse an --out that exists (``command`` never replaces a file) or whose folder does
    not."""
    if target.is_dir():
        raise PredictError(f"--out {target}: is a folder; give the path of a new file")
    if target.exists() or target.is_symlink():
        raise PredictError(
            f"--out {target}: exists, and {command} never replaces a file; choose a new name"
        )
    folder = target.parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise PredictError(f"--out {target}: {folder} {what}")


def _predict_table(model: Any, metadata: dict[str, Any], model_path: str, input_path: str) -> str:
    from ..data.table import read_table, unseen_note
    from ..data.table.columns import Where
    from ..data.table.preprocessing import MISSING
    from ..train.loop import predict_outputs

    preprocessor = _table_preprocessor(model, metadata, model_path)
    frame, label = read_table(input_path)
    X, unseen = preprocessor.transform(frame, Where(label, True))
    kinds = {column.name: column for column in preprocessor.columns}
    for name, count in preprocessor.missing_counts(frame).items():
        filled = (
            f"filled with the training median {kinds[name].median:.6g}"
            if hasattr(kinds[name], "median")
            else "sent to its (missing) column"
            if kinds[name].missing
            else "sent to its (other) column"
        )
        print(
            f"chainrule predict: note: {label}: {counted(count, 'missing value')} of {name!r} "
            f"{filled}",
            file=sys.stderr,
        )
    for column, found in unseen.items():
        if found.examples != [MISSING]:  # missing values alone were noted above
            print(
                f"chainrule predict: note: {unseen_note('input', column, found)}", file=sys.stderr
            )
    with np.errstate(over="ignore", invalid="ignore"):
        outputs = predict_outputs(model, X.astype(_parameter_dtype(model)))
    if not np.isfinite(outputs).all():
        row = int(np.argwhere(~np.isfinite(outputs))[0][0])
        raise PredictError(
            f"{input_path}: the model's outputs are not finite for row {row + 1} (values far "
            "outside the training range?)"
        )
    return _table_csv(preprocessor, outputs)


def _table_preprocessor(model: Any, metadata: dict[str, Any], model_path: str) -> Any:
    """The model's saved preprocessing, checked against its network: as many inputs as the
    preprocessing makes, as many outputs as it has classes (or one value)."""
    from ..data.table.preprocessing import TablePreprocessor

    try:
        preprocessor = TablePreprocessor.from_dict(metadata["table"], model_path)
    except ValueError as error:
        raise io.ModelFileError(f"{error}; the file was changed or damaged") from None
    architecture = io.describe(model)
    for what, network, saved in (
        ("inputs", _input_width(architecture), len(preprocessor.feature_names)),
        ("outputs", _output_width(architecture), preprocessor.n_outputs),
    ):
        if network is not None and network != saved:
            raise io.ModelFileError(
                f"{model_path}: its network has {network} {what}, and its saved preprocessing "
                f"{saved}; the file was changed or damaged"
            )
    return preprocessor


def _table_csv(preprocessor: Any, outputs: np.ndarray) -> str:
    """The predictions as CSV text: ``prediction``, then ``proba_<class>`` per class."""
    from ..data.table.reading import import_polars

    pl = import_polars()
    predictions, probabilities = preprocessor.decode(outputs)
    columns = {"prediction": predictions}
    if probabilities is not None:
        for index, name in enumerate(preprocessor.target.classes):
            columns[f"proba_{name}"] = probabilities[:, index]
    return str(pl.DataFrame(columns).write_csv(float_precision=6))


def _predict_rows(model: Any, metadata: dict[str, Any], model_path: str, input_path: str) -> str:
    """One class per line for the numeric rows of ``input_path`` (models of the built-in
    data sets, and any model whose first layer is Linear)."""
    from ..data import read_matrix

    inputs = read_matrix(input_path)
    features = metadata.get("inputs") if "playground" in metadata else None
    if features is not None and inputs.shape[1] == 2 and len(features) != 2:
        # Rows of (x1, x2) for a playground model of other features: computed as the page did.
        from ..playground.points import feature_matrix

        inputs = feature_matrix(inputs.astype(np.float64), tuple(features))
    expected = _input_width(io.describe(model))
    if expected is not None and inputs.shape[1] != expected:
        raise PredictError(
            f"{input_path}: each row has {counted(inputs.shape[1], 'value')}, and the model "
            f"{model_path} takes {counted(expected, 'input')}"
        )
    dtype = _parameter_dtype(model)
    problem = _outside_range(inputs, dtype)
    if problem:
        raise PredictError(f"{input_path}: {problem}")
    # Overflow shows in the outputs, which are checked below; NumPy's warning adds nothing.
    with no_grad(), np.errstate(over="ignore", invalid="ignore"):
        scores = model.eval()(inputs.astype(dtype)).data
    problem = _unusable_scores(scores, metadata.get("classes"))
    if problem:
        raise PredictError(f"{model_path}: {problem}")
    if metadata.get("problem") == "regression":
        return "".join(f"{float(value):.6g}\n" for value in scores.reshape(-1))
    # One output: a probability (a model ending in Sigmoid) splits at 0.5, a score or logit at 0.
    threshold = 0.5 if _last_layer(io.describe(model)) == "Sigmoid" else 0.0
    labels = (
        scores.argmax(axis=1) if scores.ndim == 2 and scores.shape[1] > 1 else scores > threshold
    )
    return "".join(f"{int(label)}\n" for label in labels.reshape(-1))


def _outside_range(inputs: np.ndarray, dtype: np.dtype[Any]) -> str:
    """Why ``inputs`` cannot be given to a model computing in ``dtype`` (a value beyond its
    largest number would become infinite), or ''."""
    if dtype.kind != "f":
        return ""
    largest = float(np.finfo(dtype).max)
    beyond = np.abs(inputs) > largest
    if not beyond.any():
        return ""
    row, column = (int(i) for i in np.argwhere(beyond)[0])
    return (
        f"row {row + 1}, column {column + 1}: {inputs[row, column]:g} is beyond the largest "
        f"{dtype} number ({largest:.3g}) the model computes with "
        f"({counted(int(beyond.sum()), 'such value')})"
    )


def _unusable_scores(scores: np.ndarray, classes: object) -> str:
    """Why the model's outputs give no class labels (not finite, or fewer or more outputs
    than the classes its metadata names), or ''."""
    if not np.isfinite(scores).all():
        row = int(np.argwhere(~np.isfinite(scores))[0][0])
        return (
            f"its outputs are not finite for input row {row + 1} (values too large for it?), so "
            "no class can be given"
        )
    width = scores.shape[1] if scores.ndim == 2 else 1
    if isinstance(classes, int) and not isinstance(classes, bool) and classes >= 2:
        if width != (1 if classes == 2 and width == 1 else classes):
            return f"the network has {width} outputs, but its metadata names {classes} classes"
    return ""


def _last_layer(architecture: object) -> str | None:
    """The type of a described model's last layer (None for a custom Module)."""
    while isinstance(architecture, dict) and architecture.get("type") == "Sequential":
        layers = architecture.get("layers") or [None]
        architecture = layers[-1]
    return architecture.get("type") if isinstance(architecture, dict) else None


def _input_width(architecture: object) -> int | None:
    """How many inputs a described model takes: its first Linear layer's in_features."""
    stack = [architecture]
    while stack:
        entry = stack.pop()
        if isinstance(entry, dict):
            if entry.get("type") == "Linear":
                width = entry.get("in_features")
                return width if isinstance(width, int) else None
            if entry.get("type") == "Sequential":
                stack.extend(reversed(entry.get("layers", [])))
    return None


def _output_width(architecture: object) -> int | None:
    """How many outputs a described model gives: its last Linear layer's out_features."""
    linears: list[dict[str, Any]] = []
    stack = [architecture]
    while stack:
        entry = stack.pop()
        if isinstance(entry, dict):
            if entry.get("type") == "Linear":
                linears.append(entry)
            if entry.get("type") == "Sequential":
                stack.extend(reversed(entry.get("layers", [])))
    width = linears[-1].get("out_features") if linears else None
    return width if isinstance(width, int) else None


def _parameter_dtype(model: object) -> np.dtype[Any]:
    parameters = list(model.parameters())  # type: ignore[attr-defined]
    return np.dtype(parameters[0].dtype if parameters else np.float32)


def _shown(value: object) -> str:
    """A metadata value on one line: a mapping as key=value pairs (unset ones left out),
    numbers to 4 significant digits."""
    if isinstance(value, dict):
        return ", ".join(f"{key}={_shown(item)}" for key, item in value.items() if item is not None)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(_shown(item) for item in value)
    return str(value)


def info(model_path: str, as_json: bool = False) -> int:
    """Print a saved model's architecture, size and metadata; for a table model, the columns
    it expects, their kinds and their preprocessing; then the PyTorch code that loads it
    (``as_json``: all of it as one JSON object). The exit code."""
    from ..export import pytorch_source

    try:
        model, metadata = io.load_with_metadata(model_path)
        io.check_finite(model, model_path)
        preprocessor = (
            _table_preprocessor(model, metadata, model_path) if "table" in metadata else None
        )
    except (OSError, ValueError) as error:
        print(f"chainrule info: {one_line(error)}", file=sys.stderr)
        return 1
    architecture = io.describe(model)
    source = model_path
    if Path(model_path).suffix.lower() == ".npz":  # PyTorch reads the safetensors file
        source = str(Path(model_path).with_suffix(".safetensors"))
    try:
        code = pytorch_source(architecture, source)
        pytorch: str | None = code
        if source != model_path:
            pytorch = "\n".join(
                [
                    f"# {model_path} is in chainrule's first format; write the safetensors "
                    "file once with",
                    "# import chainrule; model, metadata = chainrule.io.load_with_metadata("
                    f"{model_path!r}); chainrule.save(model, {source!r}, metadata)",
                    code,
                ]
            )
        no_pytorch = ""
    except ValueError as error:
        pytorch, no_pytorch = None, str(error)
    if as_json:
        import json

        document = {
            "architecture": architecture,
            "parameters": model.num_parameters(),
            "metadata": metadata,
            "pytorch": pytorch,
        }
        print(json.dumps(document, indent=2))
        return 0
    print(model)
    print(f"parameters: {model.num_parameters():,}")
    for key, value in metadata.items():
        if key != "table":
            print(f"{key}: {_shown(value)}")
    if preprocessor is not None:
        print(
            f"input columns ({len(preprocessor.columns)}, matched by name; others are ignored), "
            f"making {len(preprocessor.feature_names)} network inputs:"
        )
        for line in preprocessor.describe():
            print(line)
    if pytorch is None:
        print(f"PyTorch: {no_pytorch}")
    else:
        after = " (on inputs preprocessed as above)" if preprocessor is not None else ""
        print(f"PyTorch{after}:")
        print("\n".join(f"    {line}" if line else "" for line in pytorch.splitlines()))
    return 0
