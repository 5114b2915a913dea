"""The API reference is rendered from docstrings: each differentiable function must state its
gradient there, and each optimiser its update equations."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F

DIFFERENTIABLE = (
    "exp log sqrt abs tanh sigmoid relu sign maximum minimum clip where matmul sum mean max min"
    " var reshape transpose swapaxes expand_dims squeeze concatenate stack logsumexp softmax"
    " log_softmax add subtract multiply divide power negative sin cos broadcast_to"
).split()
LOSSES = "MSELoss CrossEntropyLoss BCELoss BCEWithLogitsLoss HingeLoss MultiMarginLoss".split()


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_each_operation_states_its_gradient(name: str) -> None:
    assert "Gradient:" in (getattr(cr, name).__doc__ or "")


@pytest.mark.parametrize("name", F.__all__)
def test_each_functional_states_its_gradient(name: str) -> None:
    assert "Gradient:" in (getattr(F, name).__doc__ or "")


@pytest.mark.parametrize("name", LOSSES)
def test_each_loss_states_its_gradient(name: str) -> None:
    assert "Gradient:" in (getattr(nn, name).__doc__ or "")


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_each_optimizer_states_its_update(name: str) -> None:
    doc = getattr(optim, name).__doc__ or ""
    assert "w ←" in doc or "w ← " in doc, f"{name}'s docstring has no update of the weights"
