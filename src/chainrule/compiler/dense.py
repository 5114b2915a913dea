"""Small dense layers in loops of our own, where a BLAS call costs more than its arithmetic.

The networks of the demos and the playground train on minibatches of 10 to 32 rows through
layers of 2 to 32 units: the playground's 8x8 layer on 10 rows is 640 multiply-adds, and
NumPy's matmul, bias and activation take about 2.5 µs for its forward pass and 3 µs for its
backward, nearly all of it in the calls. A ``DenseUnit`` runs such a layer as two compiled
loops: the forward pass (product, bias, and a ReLU or leaky ReLU when there is one), 0.5 µs,
and the whole backward pass (the activation's derivative, the weight's and the bias's
gradients, the input's gradient), 1 µs. Tanh and the sigmoid stay with NumPy, whose vectorised
tanh and exp are many times faster than a libm call per element. On larger batches BLAS wins:
the loops vectorise only over one short axis (Numba leaves its SLP vectoriser off), so at 256
rows a 16x16 layer takes 12 µs in them against 2.5 µs in OpenBLAS; ``small`` holds the
measured crossover.

Every sum here adds its products (each rounded) first to last, and the NumPy twins compute the
same order with ``np.add.accumulate`` (sequential by definition, where a reduce may go pairwise),
so the loops and the twins give the same bits, and a run does not depend on when Numba finished
loading. Both differ from a BLAS product, which blocks its sums in another order, by float32
rounding: a compiled step equals the eager one to rounding, as it does elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import fused
from .units import LeakyReLUUnit, LinearUnit, ReLUUnit, SigmoidUnit, TanhUnit, Unit

__all__ = ["MAX_WIDTH", "DenseUnit", "define_loops", "densify", "small"]

# The widest layer (inputs or outputs) run in these loops; wider ones go to BLAS, which is
# faster from about this size on (see docs/performance.md).
MAX_WIDTH = 32
# The activations the loops know, by number (what the loops are compiled with).
NONE, RELU, LEAKY, TANH, SIGMOID = range(5)
# The layers the loops take, by multiply-adds per pass (rows x inputs x outputs): up to
# SMALL_BATCH_WORK on batches of at most SMALL_BATCH rows, up to BATCH_WORK on at most MAX_ROWS
# rows. Measured in the plan against the BLAS units (docs/performance.md); beyond, BLAS wins
# or the two are level within the noise.
SMALL_BATCH = 64
SMALL_BATCH_WORK = 32768
BATCH_WORK = 16384
MAX_ROWS = 128
# Elements of the twins' scratch: they work in blocks of rows that fit in it.
TWIN_SCRATCH = 1 << 16
# The backward loop's flags: which gradients to compute.
WEIGHT, BIAS, INPUT = 1, 2, 4


def define_loops(jit: Callable[[Any], Any]) -> dict[str, Callable[..., Any]]:
    """The two loops, compiled by ``jit`` (``fused`` loads them with its own)."""

    def dense_forward(x: Any, wt: Any, bias: Any, out: Any, code: int, c: Any) -> None:
        # out = act(x Wᵀ + b) with Wᵀ given (inputs, outputs), row-major: each product
        # rounded and added in the order of k, the loop over the outputs j contiguous so that
        # it vectorises
        rows, inputs = x.shape
        outputs = wt.shape[1]
        slope, zero = c[0], c[2]
        for i in range(rows):
            first = x[i, 0]
            for j in range(outputs):
                out[i, j] = first * wt[0, j]
            for k in range(1, inputs):
                xk = x[i, k]
                for j in range(outputs):
                    out[i, j] += xk * wt[k, j]
            for j in range(outputs):
                value = out[i, j] + bias[j]
                if code == RELU:
                    value = value if value > 0 or value != value else zero
                elif code == LEAKY:
                    value = value if value > 0 else value * slope
                out[i, j] = value

    def dense_backward(
        g: Any,
        h: Any,
        code: int,
        c: Any,
        x: Any,
        wt: Any,
        weight: Any,
        delta: Any,
        gwt: Any,
        grad_bias: Any,
        grad_in: Any,
        flags: int,
    ) -> None:
        # δ = g·act'(h), rounded as the eager rules round it; then the weight's gradient
        # (transposed, gwt[k, j] = Σ_i δ_ij x_ik), the bias's Σ_i δ_ij and the input's
        # Σ_j δ_ij W_jk, each sum added first to last; ``weight`` is scratch for W row-major
        rows, outputs = g.shape
        inputs = x.shape[1]
        slope, one, zero = c[0], c[1], c[2]
        for i in range(rows):
            for j in range(outputs):
                value = g[i, j]
                if code == RELU:
                    value = value if h[i, j] > 0 else zero
                elif code == LEAKY:
                    value = value if h[i, j] > 0 else value * slope
                elif code == TANH:
                    value = value * (one - h[i, j] * h[i, j])
                elif code == SIGMOID:
                    value = (value * h[i, j]) * (one - h[i, j])
                delta[i, j] = value
        if flags & WEIGHT:
            for k in range(inputs):
                xk = x[0, k]
                for j in range(outputs):
                    gwt[k, j] = delta[0, j] * xk
            for i in range(1, rows):
                for k in range(inputs):
                    xk = x[i, k]
                    for j in range(outputs):
                        gwt[k, j] += delta[i, j] * xk
        if flags & BIAS:
            for j in range(outputs):
                grad_bias[j] = delta[0, j]
            for i in range(1, rows):
                for j in range(outputs):
                    grad_bias[j] += delta[i, j]
        if flags & INPUT:
            for j in range(outputs):
                for k in range(inputs):
                    weight[j, k] = wt[k, j]
            for i in range(rows):
                d = delta[i, 0]
                for k in range(inputs):
                    grad_in[i, k] = d * weight[0, k]
                for j in range(1, outputs):
                    d = delta[i, j]
                    for k in range(inputs):
                        grad_in[i, k] += d * weight[j, k]

    return {"dense_forward": jit(dense_forward), "dense_backward": jit(dense_backward)}


def warm_up(loops: dict[str, Callable[..., Any]], dtype: Any) -> None:
    """Compile (or load) both loops for ``dtype`` on a tiny layer."""
    x, wt = np.ones((2, 2), dtype), np.ones((2, 2), dtype)
    c = np.array([0.5, 1, 0], dtype)
    out = np.empty((2, 2), dtype)
    loops["dense_forward"](x, wt, np.ones(2, dtype), out, RELU, c)
    grads = [np.empty((2, 2), dtype) for _ in range(4)]
    loops["dense_backward"](
        out, out, TANH, c, x, wt, grads[0], grads[1], grads[2], np.empty(2, dtype), grads[3], 7
    )


class DenseUnit(Unit):
    """A Linear and the activation after it (none, ReLU, leaky ReLU, Tanh or Sigmoid) as two
    compiled loops, forward and backward, on the Linear's buffers."""

    def __init__(self, linear: LinearUnit, code: int, activation: Unit | None, slope: float):
        self.linear = linear
        self.code = code
        self.activation = activation  # Tanh or Sigmoid: NumPy's, after the loop
        weight = linear.weight.data
        dtype = weight.dtype
        self.constants = np.array([slope, 1, 0], dtype)
        # The loops read Wᵀ row-major and write the weight's gradient transposed: views of a
        # column-major weight (Linear's own layout) and of its gradient, else copies.
        self.copied = not weight.flags.f_contiguous
        self.wt = np.empty(weight.shape[::-1], dtype) if self.copied else weight.T
        self.gwt = np.empty(weight.shape[::-1], dtype) if self.copied else linear.grad_weight.T
        self.weight_rows = np.empty(weight.shape, dtype)  # W row-major, for the input's gradient
        self.output: np.ndarray = getattr(activation, "out", linear.out)
        self.delta = np.empty_like(linear.out)
        self.scratch = np.empty_like(linear.out)
        self.x = linear.x
        self.parameters = linear.parameters
        assert linear.bias is not None
        # The gradients to compute: the parameters' that train, and the input's when asked.
        self.flags = (WEIGHT if linear.weight.requires_grad else 0) | (
            BIAS if linear.bias.requires_grad else 0
        )

    def gradients(self) -> tuple[np.ndarray | None, ...]:
        return self.linear.gradients()

    def forward(self, x: np.ndarray) -> np.ndarray:
        linear = self.linear
        if not x.flags.c_contiguous:  # the loops are compiled for row-major arrays
            x = np.ascontiguousarray(x)
        self.x = x
        assert linear.bias is not None
        if self.copied:
            np.copyto(self.wt, linear.weight.data.T)
        loop = fused.dense_loop("dense_forward", x.dtype)
        if loop is not None:
            loop(x, self.wt, linear.bias.data, linear.out, self.code, self.constants)
        else:
            self._forward_twin(x)
        if self.activation is not None:
            return self.activation.forward(linear.out)
        return linear.out

    def backward(self, g: np.ndarray, needs_input: bool) -> np.ndarray | None:
        linear = self.linear
        flags = self.flags | INPUT if needs_input else self.flags
        loop = fused.dense_loop("dense_backward", g.dtype)
        if loop is not None:
            loop(
                g,
                self.output,
                self.code,
                self.constants,
                self.x,
                self.wt,
                self.weight_rows,
                self.delta,
                self.gwt,
                linear.grad_bias,
                linear.grad_in,
                flags,
            )
        else:
            self._backward_twin(g, flags)
        if self.copied and flags & WEIGHT:
            np.copyto(linear.grad_weight, self.gwt.T)
        return linear.grad_in if needs_input else None

    # ---------------------------------------------------------------- the NumPy twins
    def _blocks(self, width: int) -> list[tuple[int, int]]:
        rows = self.delta.shape[0]
        step = max(1, TWIN_SCRATCH // width)
        return [(start, min(rows, start + step)) for start in range(0, rows, step)]

    def _forward_twin(self, x: np.ndarray) -> None:
        linear = self.linear
        weight = linear.weight.data
        assert linear.bias is not None
        outputs, inputs = weight.shape
        out = linear.out
        products = _scratch(weight.dtype)
        for start, stop in self._blocks(inputs * outputs):
            block = products[: (stop - start) * inputs * outputs].reshape(-1, inputs, outputs)
            np.multiply(x[start:stop, :, None], self.wt[None, :, :], out=block)
            np.add.accumulate(block, axis=1, out=block)
            np.add(block[:, -1, :], linear.bias.data, out=out[start:stop])
        if self.code == RELU:
            np.maximum(out, 0, out=out)
        elif self.code == LEAKY:
            positive = out > 0
            np.multiply(out, self.constants[0], out=out, where=~positive)

    def _backward_twin(self, g: np.ndarray, flags: int) -> None:
        linear, code, delta, h = self.linear, self.code, self.delta, self.output
        scratch = self.scratch
        if code == RELU:
            np.copyto(delta, g)
            np.copyto(delta, 0, where=~(h > 0))
        elif code == LEAKY:
            np.multiply(g, self.constants[0], out=delta)
            np.copyto(delta, g, where=h > 0)
        elif code == TANH:
            np.multiply(h, h, out=scratch)
            np.subtract(self.constants[1], scratch, out=scratch)
            np.multiply(g, scratch, out=delta)
        elif code == SIGMOID:
            np.multiply(g, h, out=delta)
            np.subtract(self.constants[1], h, out=scratch)
            np.multiply(delta, scratch, out=delta)
        else:
            np.copyto(delta, g)
        weight, x = linear.weight.data, self.x
        outputs, inputs = weight.shape
        products = _scratch(weight.dtype)
        if flags & WEIGHT:
            total = self.gwt
            for start, stop in self._blocks(inputs * outputs):
                block = products[: (stop - start) * outputs * inputs].reshape(-1, inputs, outputs)
                np.multiply(x[start:stop, :, None], delta[start:stop, None, :], out=block)
                if start:
                    block[0] += total
                np.add.accumulate(block, axis=0, out=block)
                total[...] = block[-1]
        if flags & BIAS:
            assert linear.grad_bias is not None
            np.add.accumulate(delta, axis=0, out=scratch)
            linear.grad_bias[...] = scratch[-1]
        if flags & INPUT:
            for start, stop in self._blocks(inputs * outputs):
                block = products[: (stop - start) * outputs * inputs].reshape(-1, outputs, inputs)
                np.multiply(delta[start:stop, :, None], weight[None, :, :], out=block)
                np.add.accumulate(block, axis=1, out=block)
                linear.grad_in[start:stop] = block[:, -1, :]


_SCRATCH: dict[str, np.ndarray] = {}


def _scratch(dtype: np.dtype[Any]) -> np.ndarray:
    """The twins' products, shared (they run one at a time, on the training thread)."""
    buffer = _SCRATCH.get(dtype.char)
    if buffer is None:
        buffer = _SCRATCH[dtype.char] = np.empty(TWIN_SCRATCH, dtype)
    return buffer


def densify(units: list[Unit], rows: int) -> list[Unit]:
    """The units with each small Linear (``small``), and the ReLU, leaky ReLU (slope >= 0),
    Tanh or Sigmoid after it, as one DenseUnit; the others as they were."""
    result: list[Unit] = []
    position = 0
    while position < len(units):
        unit = units[position]
        position += 1
        if not isinstance(unit, LinearUnit) or not small(unit, rows):
            result.append(unit)
            continue
        following = units[position] if position < len(units) else None
        code, slope = NONE, 0.0
        activation: Unit | None = None
        if unit.relu:
            code = RELU
        elif isinstance(following, ReLUUnit):
            code = RELU
        elif isinstance(following, LeakyReLUUnit) and following.slope >= 0:
            code, slope = LEAKY, following.slope
        elif isinstance(following, TanhUnit):
            code, activation = TANH, following
        elif isinstance(following, SigmoidUnit):
            code, activation = SIGMOID, following
        if code != NONE and not unit.relu:
            position += 1  # the activation's unit is part of this one
        result.append(DenseUnit(unit, code, activation, slope))
    return result


def small(linear: LinearUnit, rows: int) -> bool:
    """Whether the loops beat BLAS on this layer and batch (measured on 2 cores of an AMD EPYC
    with AVX-512, OpenBLAS 0.3.31: docs/performance.md), and can run it (a bias, a contiguous
    float weight)."""
    weight = linear.weight.data
    outputs, inputs = map(int, weight.shape)
    if linear.bias is None or weight.dtype not in (np.float32, np.float64):
        return False
    if not (weight.flags.c_contiguous or weight.flags.f_contiguous) or min(weight.shape) < 1:
        return False
    if rows < 1 or max(weight.shape) > MAX_WIDTH:
        return False
    work = rows * inputs * outputs
    if rows <= SMALL_BATCH:
        return work <= SMALL_BATCH_WORK
    return rows <= MAX_ROWS and work <= BATCH_WORK
