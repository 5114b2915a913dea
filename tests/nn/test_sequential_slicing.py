"""Slicing a Sequential gives a Sequential of the same layers, as in PyTorch."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn


def test_a_slice_is_a_sequential_that_shares_the_layers() -> None:
    cr.manual_seed(0)
    model = nn.mlp(3, [4, 5], 2)
    head = model[:2]
    assert isinstance(head, nn.Sequential)
    assert [id(layer) for layer in head] == [id(layer) for layer in list(model)[:2]]
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    expected = np.maximum(x @ model[0].weight.data.T + model[0].bias.data, 0)
    np.testing.assert_allclose(head(x).data, expected, rtol=1e-6)
    # The whole model equals its parts run one after the other.
    np.testing.assert_allclose(model[2:](head(x)).data, model(x).data, rtol=1e-6)


def test_a_slice_keeps_the_fuse_setting_and_an_index_a_layer() -> None:
    model = nn.mlp(2, [3], 1)
    model.fuse = False
    assert model[0:2].fuse is False
    assert isinstance(model[-1], nn.Linear)
    assert len(model[1:1]) == 0
