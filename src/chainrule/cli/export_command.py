"""What ``chainrule export`` does: a saved model as an ONNX file that runs without chainrule
(``export.to_onnx``), a table model's preprocessing inside."""

from __future__ import annotations

import sys
from pathlib import Path

from .. import io
from .._text import one_line
from .predict_command import PredictError, _check_new_file, _table_preprocessor

FORMATS = ("onnx",)


def export(model_path: str, format: str, out: str | None) -> int:
    """Write the model in ``model_path`` as ``format`` to the new file ``out`` (default: the
    model's path with the format's suffix); the exit code."""
    target = Path(out) if out is not None else Path(model_path).with_suffix(f".{format}")
    try:
        from ..export import to_onnx
        from ..export.to_onnx import OPSET

        _check_new_file(target, "export")
        model, metadata = io.load_with_metadata(model_path)
        io.check_finite(model, model_path)
        preprocessor = (
            _table_preprocessor(model, metadata, model_path) if "table" in metadata else None
        )
        # A run on a built-in data set classifies; a model saved from Python says nothing.
        classification = preprocessor is None and "config" in metadata
        try:
            proto = to_onnx(model, target, preprocessor=preprocessor, classification=classification)
        except OSError as error:  # the one write; reading errors keep their own words
            reason = error.strerror or str(error)
            raise PredictError(f"--out {target}: cannot be written ({reason})") from None
    except (OSError, ValueError, ImportError) as error:
        print(f"chainrule export: {one_line(error)}", file=sys.stderr)
        return 1
    inputs = ", ".join(value.name for value in proto.graph.input)
    outputs = ", ".join(value.name for value in proto.graph.output)
    print(
        f"chainrule export: wrote {target} (ONNX opset {OPSET}; inputs: {inputs}; outputs: "
        f"{outputs})",
        file=sys.stderr,
    )
    return 0
