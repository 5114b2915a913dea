"""A saved model as an ONNX graph that any ONNX runtime runs without chainrule.

The network becomes standard operators (Gemm, Relu, Tanh, Sigmoid, LeakyRelu, Sign, Softmax;
Dropout is the identity at inference), with a dynamic batch size ``N``. A table model's graph
also holds its preprocessing, so that a server gets from raw rows to predictions alone:

- one input per table column, shape (N, 1): numbers as ``double`` (NaN where a value is
  missing; true/false columns as 1.0/0.0), categories as ``string`` (the empty string where a
  value is missing; spaces around a value are the caller's to strip, as chainrule's readers
  do);
- numbers: the missing ones filled with the training median (``IsNaN``, ``Where``), then
  standardised in double precision and cast to float, exactly as ``predict`` computes them,
  plus the 0/1 missing indicator where training had missing values;
- categories: a ``LabelEncoder`` (``ai.onnx.ml``) maps each value to its one-hot position,
  values training never saw to "(other)", and ``Equal`` against the positions makes the
  one-hot block;
- outputs: ``label`` (the class, as text) and ``probabilities`` (softmax) for classification;
  ``prediction`` (mapped back to the target's scale, in double) for regression.

A model trained on a built-in data set takes one float input ``input`` (N, features) and gives
``label`` (the class index) and ``probabilities``; any other model gives its raw ``output``.
The graph is checked by ``onnx.checker`` (with shape inference) before it is written,
atomically: a model ONNX cannot express is refused, naming the module, and no file is left.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import nn
from .._atomic import atomic_write
from .._version import __version__
from ..data.table.preprocessing import CategoricalColumn, NumericColumn, TablePreprocessor

if TYPE_CHECKING:
    import onnx

# The operator sets the graph is written for: onnxruntime 1.17 (2024) and later run them.
OPSET = 17
ML_OPSET = 3
# The ONNX names of the activations (chainrule's class -> ONNX operator).
_ACTIVATIONS = {
    nn.ReLU: "Relu",
    nn.Tanh: "Tanh",
    nn.Sigmoid: "Sigmoid",
    nn.Sign: "Sign",
    nn.Identity: "Identity",
}


class ExportError(ValueError):
    """A model that cannot become ONNX; the message names the module and why."""


def import_onnx() -> Any:
    """The onnx package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "exporting to ONNX needs the onnx package: pip install 'chainrule[onnx]'"
        ) from None
    return onnx


def to_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    preprocessor: TablePreprocessor | None = None,
    classification: bool | None = None,
) -> onnx.ModelProto:
    """Write ``model`` to ``path`` as a checked ONNX file (atomically) and return the graph.

    ``preprocessor`` (a table model's, ``TableData.preprocessor``) puts the table's
    preprocessing and the decoding of the outputs in the graph. Without it,
    ``classification=True`` adds ``label`` and ``probabilities`` outputs to the network's
    logits; otherwise the graph's output is the network's ``output``.
    """
    library = import_onnx()
    graph = _Graph(library)
    if preprocessor is not None:
        clash = set(preprocessor.input_columns) & {"label", "probabilities", "prediction"}
        if clash:
            raise ExportError(
                f"the column {sorted(clash)[0]!r} has the name of one of the graph's outputs "
                "(label, probabilities, prediction); rename it in the table and train again"
            )
        graph.names.update(preprocessor.input_columns)  # internal names keep clear of them
    layers = _layers(model)
    dtype = _network_dtype(layers)
    if preprocessor is not None:
        features = graph.preprocessing(preprocessor)
        if dtype == np.float64:
            features = graph.node("Cast", [features], to=library.TensorProto.DOUBLE)
    else:
        width = _input_width(layers)
        features = graph.input("input", _TENSOR_TYPE[np.dtype(dtype)], [width])
    logits = graph.network(layers, features)
    if preprocessor is not None:
        graph.table_outputs(preprocessor, logits, _TENSOR_TYPE[np.dtype(dtype)])
    elif classification:
        graph.class_outputs(logits, None, _TENSOR_TYPE[np.dtype(dtype)])
    else:
        graph.output(logits, "output", _TENSOR_TYPE[np.dtype(dtype)], ["outputs"])
    proto = graph.model(
        {
            "producer": "chainrule",
            "task": preprocessor.task if preprocessor is not None else "",
            "classes": "\n".join(preprocessor.target.classes) if preprocessor else "",
        }
    )
    try:
        library.checker.check_model(proto, full_check=True)
    except Exception as error:  # noqa: BLE001  (onnx's ValidationError and inference errors)
        raise ExportError(f"the ONNX graph does not pass onnx.checker: {error}") from None
    content = proto.SerializeToString()
    atomic_write(Path(path), lambda file: file.write(content))
    checked: onnx.ModelProto = proto
    return checked


# ------------------------------------------------------------------------ the network
def _layers(model: nn.Module) -> list[nn.Module]:
    """The model's layers in order, refusing any ONNX cannot express."""
    layers = list(model.layers) if type(model) is nn.Sequential else [model]
    flat: list[nn.Module] = []
    for position, layer in enumerate(layers):
        if type(layer) is nn.Sequential:
            flat += _layers(layer)
        elif type(layer) in (nn.Linear, nn.LeakyReLU, nn.Softmax, nn.Dropout, *_ACTIVATIONS):
            # The exact classes: a subclass may have a forward of its own.
            flat.append(layer)
        else:
            raise ExportError(
                f"layer {position} is a {type(layer).__name__}, which chainrule cannot write "
                "as ONNX operators (a Module of your own runs Python code; export supports "
                "Sequential models of Linear, ReLU, Tanh, Sigmoid, LeakyReLU, Sign, Identity, "
                "Softmax and Dropout)"
            )
    return flat


def _network_dtype(layers: Sequence[nn.Module]) -> type[np.floating[Any]]:
    dtypes = {np.dtype(layer.weight.dtype) for layer in layers if isinstance(layer, nn.Linear)}
    if len(dtypes) > 1:
        raise ExportError(
            f"the Linear layers mix {' and '.join(sorted(map(str, dtypes)))}; ONNX needs one"
        )
    return np.float64 if dtypes == {np.dtype(np.float64)} else np.float32


def _input_width(layers: Sequence[nn.Module]) -> int:
    for layer in layers:
        if isinstance(layer, nn.Linear):
            return int(layer.in_features)
    raise ExportError("the model has no Linear layer, so its input width is unknown")


class _Graph:
    """The nodes, initialisers, inputs and outputs of a graph under construction, with
    fresh names for the values between them."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self.names: set[str] = set()

    def _name(self, hint: str) -> str:
        base = f"chainrule/{hint}"
        name, count = base, 0
        while name in self.names:
            count += 1
            name = f"{base}.{count}"
        self.names.add(name)
        return name

    def node(self, op: str, inputs: Sequence[str], *, domain: str = "", **attributes: Any) -> str:
        out = self._name(op.lower())
        self.nodes.append(
            self.onnx.helper.make_node(op, list(inputs), [out], domain=domain, **attributes)
        )
        return out

    def constant(self, value: np.ndarray, hint: str) -> str:
        name = self._name(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(value, name))
        return name

    def input(self, name: str, elem_type: int, shape: Sequence[int | str]) -> str:
        if name in {value.name for value in self.inputs}:
            raise ExportError(f"two inputs would be named {name!r}")
        self.names.add(name)
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, elem_type, ["N", *shape]))
        return name

    def output(self, value: str, name: str, elem_type: int, shape: Sequence[Any]) -> None:
        """A graph output of shape (N, *shape)."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name]))
        self.names.add(name)
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, elem_type, ["N", *shape]))

    def network(self, layers: Sequence[nn.Module], x: str) -> str:
        for index, layer in enumerate(layers):
            if isinstance(layer, nn.Linear):
                weight = self.constant(np.asarray(layer.weight.data), f"{index}.weight")
                arguments = [x, weight]
                if layer.bias is not None:
                    arguments.append(self.constant(np.asarray(layer.bias.data), f"{index}.bias"))
                x = self.node("Gemm", arguments, transB=1)
            elif isinstance(layer, nn.LeakyReLU):
                x = self.node("LeakyRelu", [x], alpha=float(layer.negative_slope))
            elif isinstance(layer, nn.Softmax):
                x = self.node("Softmax", [x], axis=int(layer.dim))
            elif isinstance(layer, nn.Dropout):
                continue  # the identity at inference
            else:
                x = self.node(_ACTIVATIONS[type(layer)], [x])
        return x

    # -- a table's preprocessing and outputs ----------------------------------------------

    def preprocessing(self, preprocessor: TablePreprocessor) -> str:
        """One input per column; the float32 (N, features) matrix ``transform`` makes."""
        tensor = self.onnx.TensorProto
        blocks: list[str] = []
        for column in preprocessor.columns:
            if isinstance(column, NumericColumn):
                x = self.input(column.name, tensor.DOUBLE, [1])
                missing = self.node("IsNaN", [x])
                median = self.constant(np.array([column.median]), "median")
                filled = self.node("Where", [missing, median, x])
                centred = self.node("Sub", [filled, self.constant(np.array([column.mean]), "m")])
                scale = self.constant(np.array([column.scale]), "scale")
                scaled = self.node("Div", [centred, scale])
                blocks.append(self.node("Cast", [scaled], to=tensor.FLOAT))
                if column.indicator:
                    blocks.append(self.node("Cast", [missing], to=tensor.FLOAT))
            else:
                blocks.append(self._one_hot(column, self.input(column.name, tensor.STRING, [1])))
        return self.node("Concat", blocks, axis=1)

    def _one_hot(self, column: CategoricalColumn, text: str) -> str:
        width = len(column.outputs)
        other = width - 1
        keys = list(column.levels)
        values = list(range(len(column.levels)))
        # The empty string is a missing value (the readers never keep it as a category).
        keys.append("")
        values.append(len(column.levels) if column.missing else other)
        codes = self.node(
            "LabelEncoder",
            [text],
            domain="ai.onnx.ml",
            keys_strings=keys,
            values_int64s=values,
            default_int64=other,
        )
        positions = self.constant(np.arange(width, dtype=np.int64).reshape(1, width), "positions")
        hot = self.node("Equal", [codes, positions])
        return self.node("Cast", [hot], to=self.onnx.TensorProto.FLOAT)

    def table_outputs(self, preprocessor: TablePreprocessor, logits: str, elem_type: int) -> None:
        if preprocessor.task == "classification":
            classes = np.array(preprocessor.target.classes, dtype=object)
            self.class_outputs(logits, classes, elem_type)
            return
        tensor = self.onnx.TensorProto
        values = self.node("Cast", [logits], to=tensor.DOUBLE)
        target = preprocessor.target
        scaled = self.node("Mul", [values, self.constant(np.array([target.scale]), "scale")])
        shifted = self.node("Add", [scaled, self.constant(np.array([target.mean]), "mean")])
        flat = self.node("Reshape", [shifted, self.constant(np.array([-1]), "shape")])
        self.output(flat, "prediction", tensor.DOUBLE, [])

    def class_outputs(self, logits: str, classes: np.ndarray | None, elem_type: int) -> None:
        tensor = self.onnx.TensorProto
        probabilities = self.node("Softmax", [logits], axis=1)
        index = self.node("ArgMax", [logits], axis=1, keepdims=0)
        if classes is None:
            self.output(index, "label", tensor.INT64, [])
        else:
            label = self.node("Gather", [self.constant(classes, "classes"), index], axis=0)
            self.output(label, "label", tensor.STRING, [])
        self.output(probabilities, "probabilities", elem_type, ["classes"])

    def model(self, properties: Mapping[str, str]) -> Any:
        helper = self.onnx.helper
        graph = helper.make_graph(
            self.nodes, "chainrule", self.inputs, self.outputs, self.initializers
        )
        proto = helper.make_model(
            graph,
            producer_name="chainrule",
            producer_version=__version__,
            opset_imports=[
                helper.make_opsetid("", OPSET),
                helper.make_opsetid("ai.onnx.ml", ML_OPSET),
            ],
        )
        proto.ir_version = 8  # what onnxruntime 1.17 and later read, with opset 17
        helper.set_model_props(proto, {k: v for k, v in properties.items() if v})
        return proto


_TENSOR_TYPE = {np.dtype(np.float32): 1, np.dtype(np.float64): 11}
