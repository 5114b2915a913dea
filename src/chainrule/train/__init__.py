"""Training: ``fit`` and its ``History``, the callbacks (early stopping, checkpoints, max-norm,
stopping rules), resumable checkpoints, and data-parallel training on MPI (``distributed``)."""

from .loop import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientNormMonitor,
    History,
    MaxNorm,
    StopOnGradientNorm,
    StopOnParameterChange,
    TrainingDiverged,
    TrainingState,
    evaluate,
    fit,
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
)

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
    "read_checkpoint_info",
    "save_checkpoint",
]
