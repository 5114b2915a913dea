"""Neural-network building blocks: modules, layers, activations, losses, penalties, init."""

from . import functional, init
from .constraints import max_norm_
from .layers import (
    Dropout,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Sign,
    Softmax,
    Step,
    Tanh,
)
from .losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HingeLoss,
    MSELoss,
    MultiMarginLoss,
)
from .models import mlp
from .module import Module, Parameter
from .penalties import elastic_net_penalty, l1_penalty, l2_penalty

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Dropout",
    "HingeLoss",
    "Identity",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "Module",
    "MultiMarginLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Sign",
    "Softmax",
    "Step",
    "Tanh",
    "elastic_net_penalty",
    "functional",
    "init",
    "l1_penalty",
    "l2_penalty",
    "max_norm_",
    "mlp",
]
