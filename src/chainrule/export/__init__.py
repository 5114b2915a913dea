"""Models that leave chainrule: an ONNX graph with the preprocessing inside (``to_onnx``),
and the PyTorch module that loads a saved model's safetensors file (``pytorch_source``)."""

from .to_onnx import ExportError, to_onnx
from .to_pytorch import pytorch_source

__all__ = ["ExportError", "pytorch_source", "to_onnx"]
