"""The PyTorch code that rebuilds a saved model: its ``torch.nn.Sequential`` and the line
that loads the parameters from the safetensors file, whose names are PyTorch's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# chainrule's layer -> the torch.nn module and the settings it takes, by name.
_MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ReLU": ("ReLU", ()),
    "Tanh": ("Tanh", ()),
    "Sigmoid": ("Sigmoid", ()),
    "Identity": ("Identity", ()),
    "LeakyReLU": ("LeakyReLU", ("negative_slope",)),
    "Softmax": ("Softmax", ("dim",)),
    "Dropout": ("Dropout", ("p",)),
}


def pytorch_source(architecture: Mapping[str, Any] | None, path: str) -> str:
    """Python code that builds the model ``architecture`` (``io.describe``'s data) in PyTorch
    and loads the file at ``path`` into it; ValueError for a model PyTorch has no modules for
    (a custom Module, or chainrule's Sign)."""
    if architecture is None:
        raise ValueError("a custom Module has no stored architecture to write as PyTorch code")
    lines = [
        "import torch",
        "from safetensors.torch import load_file",
        "",
        f"model = {_module(architecture, 0)}",
        f"model.load_state_dict(load_file({path!r}))",
        "model.eval()",
    ]
    return "\n".join(lines)


def _module(spec: Mapping[str, Any], depth: int) -> str:
    kind = spec.get("type")
    if kind == "Sequential":
        indent = "    " * (depth + 1)
        inner = "".join(f"{indent}{_module(layer, depth + 1)},\n" for layer in spec["layers"])
        return f"torch.nn.Sequential(\n{inner}{'    ' * depth})"
    if kind == "Linear":
        arguments = [str(spec["in_features"]), str(spec["out_features"])]
        if not spec.get("bias", True):
            arguments.append("bias=False")
        if spec.get("dtype", "float32") != "float32":
            arguments.append(f"dtype=torch.{spec['dtype']}")
        return f"torch.nn.Linear({', '.join(arguments)})"
    if kind in _MODULES:
        name, settings = _MODULES[str(kind)]
        arguments = [f"{key}={spec[key]!r}" for key in settings if key in spec]
        return f"torch.nn.{name}({', '.join(arguments)})"
    raise ValueError(f"torch.nn has no module for chainrule's {kind} layer")
