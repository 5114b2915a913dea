"""Weight penalties to add to a loss: L1 (sparsity), L2 (small weights), elastic net (both)."""

from __future__ import annotations

from collections.abc import Iterable

from .. import ops
from ..engine.tensor import Tensor


def _total(terms: list[Tensor]) -> Tensor:
    if not terms:
        raise ValueError("penalty: no parameters given")
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def l1_penalty(params: Iterable[Tensor]) -> Tensor:
    """Σ |w| over all parameters. Gradient sign(w) (0 at w = 0): a pull of the same size on
    every weight, however small, which drives the unneeded ones towards zero. Plain gradient
    descent then makes them hop around zero by about lr·λ rather than land on it; a decaying
    learning rate (or a proximal step) brings them to zero."""
    return _total([ops.abs(p).sum() for p in params])


def l2_penalty(params: Iterable[Tensor]) -> Tensor:
    """Σ w² over all parameters (sum of squares, not halved). Gradient 2w: weight decay."""
    return _total([(p * p).sum() for p in params])


def elastic_net_penalty(params: Iterable[Tensor], beta: float) -> Tensor:
    """beta · L2 + L1, the elastic net."""
    params = list(params)
    return beta * l2_penalty(params) + l1_penalty(params)
