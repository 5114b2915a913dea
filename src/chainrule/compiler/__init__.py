"""The compiled training step (``cr.compile``): the eager step's forward, loss and backward
replayed on buffers allocated once per input signature, for ``fit``, the CLI, the scikit-learn
estimators and the playground; the eager engine stays what ``explain`` and ``viz`` show."""

from .step import CompiledStep, CompileWarning, compile

__all__ = ["CompileWarning", "CompiledStep", "compile"]
