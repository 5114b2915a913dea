"""chainrule: neural networks from first principles, on NumPy.

Tensors record the operations applied to them; ``backward()`` runs reverse-mode automatic
differentiation over that graph, and ``gradcheck`` checks any gradient against finite
differences.
"""

# The Tensor must exist before the ops (which it uses for its methods) and everything above them.
from .engine import tensor as _tensor  # noqa: F401

# isort: split
from . import classic, data, nn, optim, viz
from ._version import __version__
from .check.gradcheck import GradcheckReport, gradcheck, numerical_grad
from .check.model import gradcheck_model
from .compiler import CompiledStep, CompileWarning, compile
from .engine.creation import (
    arange,
    eye,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .engine.derivatives import grad, hessian, hvp, jacobian, value_and_grad
from .engine.dtypes import get_default_dtype, set_default_dtype
from .engine.graph import FreedGraphError, enable_grad, is_grad_enabled, no_grad
from .engine.kernels import get_kernels, set_kernels
from .engine.random import manual_seed
from .engine.tensor import Tensor, as_tensor
from .io import load, save
from .ops import (
    abs,
    add,
    broadcast_to,
    clip,
    concatenate,
    cos,
    divide,
    exp,
    expand_dims,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    power,
    relu,
    reshape,
    sigmoid,
    sign,
    sin,
    softmax,
    sqrt,
    squeeze,
    stack,
    subtract,
    sum,
    swapaxes,
    tanh,
    transpose,
    var,
    where,
)
from .viz.explain import Explanation, explain

__all__ = [
    "CompileWarning",
    "CompiledStep",
    "FreedGraphError",
    "GradcheckReport",
    "Tensor",
    "__version__",
    "abs",
    "add",
    "arange",
    "as_tensor",
    "broadcast_to",
    "classic",
    "clip",
    "compile",
    "cos",
    "concatenate",
    "data",
    "divide",
    "enable_grad",
    "exp",
    "expand_dims",
    "eye",
    "full",
    "get_default_dtype",
    "get_kernels",
    "grad",
    "explain",
    "Explanation",
    "gradcheck",
    "gradcheck_model",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jacobian",
    "load",
    "log",
    "log_softmax",
    "logsumexp",
    "manual_seed",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "multiply",
    "negative",
    "nn",
    "no_grad",
    "numerical_grad",
    "ones",
    "ones_like",
    "optim",
    "power",
    "rand",
    "randn",
    "relu",
    "reshape",
    "save",
    "set_default_dtype",
    "set_kernels",
    "sigmoid",
    "sign",
    "sin",
    "softmax",
    "sqrt",
    "squeeze",
    "stack",
    "subtract",
    "sum",
    "swapaxes",
    "tanh",
    "tensor",
    "transpose",
    "value_and_grad",
    "var",
    "viz",
    "where",
    "zeros",
    "zeros_like",
]
