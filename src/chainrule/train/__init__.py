"""Training: ``fit`` (``loop.py``) over one step function (``step.py``), its ``History``
(``history.py``), the callbacks (``callbacks.py``: early stopping, checkpoints, max-norm,
stopping rules), resumable checkpoints (``checkpoint.py``), and data-parallel training on MPI
(``distributed.py``)."""

from .callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientNormMonitor,
    MaxNorm,
    StopOnGradientNorm,
    StopOnParameterChange,
)
from .checkpoint import load_checkpoint, read_checkpoint_info, save_checkpoint
from .history import History, TrainingDiverged, TrainingState
from .loop import evaluate, fit, predict_outputs

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "GradientNormMonitor",
    "History",
    "MaxNorm",
    "StopOnGradientNorm",
    "StopOnParameterChange",
    "TrainingDiverged",
    "TrainingState",
    "evaluate",
    "fit",
    "load_checkpoint",
    "predict_outputs",
    "read_checkpoint_info",
    "save_checkpoint",
]
