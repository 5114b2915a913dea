"""B3: small-network training steps, side by side with the peers that are installed.

Two moons (256 points, seed 0), MLP 2-16-16-1 tanh, sigmoid output with binary cross-entropy
(computed from the logits), full-batch gradient descent lr 0.5, 2000 steps, float32. Every
library starts from the same weights, drawn once with NumPy. The first step of each library is
timed on its own (warm-up: JIT compilation, first allocations); then each round trains every
library in turn (A B C A B C ...) for the full 2000 steps from the same initial weights. Prints
microseconds per step, median and min-max over rounds, the ratios to PyTorch eager and to NumPy
by hand within each round, and each library's final loss and training accuracy, which agree
because everyone starts identical. Run:
python benchmarks/b3_small_network.py [--threads 2] [--rounds 3] [--steps 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import limit_threads, versions  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import data, nn, optim  # noqa: E402

SIZES = (2, 16, 16, 1)
N_POINTS = 256
LR = 0.5
NAMES = ("0", "2", "4")  # positions of the Linear layers in Sequential(Linear, Tanh, ...)


def initial_weights() -> dict[str, np.ndarray]:
    """Weights (out, in) and biases uniform in ±1/sqrt(in), as PyTorch's Linear, float32."""
    rng = np.random.default_rng(0)
    weights = {}
    for name, n_in, n_out in zip(NAMES, SIZES, SIZES[1:]):
        bound = 1 / np.sqrt(n_in)
        weights[f"{name}.weight"] = rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32)
        weights[f"{name}.bias"] = rng.uniform(-bound, bound, n_out).astype(np.float32)
    return weights


def _bce_logits(np_module, z, t):
    """Mean binary cross-entropy of sigmoid(z), from the logits, without overflow."""
    return np_module.mean(
        np_module.maximum(z, 0) - z * t + np_module.log1p(np_module.exp(-np_module.abs(z)))
    )


class Contestant:
    """One library: ``reset()`` restores the initial weights, ``steps(n)`` trains n steps and
    waits for the result, ``loss()`` and ``accuracy()`` score the training set."""

    name = ""

    def reset(self) -> None: ...

    def steps(self, n: int) -> None: ...

    def logits(self) -> np.ndarray: ...

    def finish(self, y: np.ndarray) -> tuple[float, float]:
        """Final (loss, accuracy) on the training set, computed the same way for everyone."""
        z = np.asarray(self.logits(), dtype=np.float64).reshape(-1)
        return float(_bce_logits(np, z, y)), float(np.mean((z > 0) == (y > 0.5)))


class ModuleContestant(Contestant):
    """A library with modules, a loss module and an optimiser (chainrule, PyTorch eager): the
    same training loop, written once for both."""

    def reset(self) -> None:
        self.model.load_state_dict(self.weights)

    def steps(self, n: int) -> None:
        model, optimizer, loss, X, y = self.model, self.optimizer, self.loss, self.X, self.y
        for _ in range(n):
            optimizer.zero_grad()
            loss(model(X), y).backward()
            optimizer.step()


class Chainrule(ModuleContestant):
    name = "chainrule"

    def __init__(self, X, y, weights) -> None:
        self.model = nn.Sequential(
            nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)
        )
        self.optimizer = optim.SGD(self.model.parameters(), lr=LR)
        self.loss = nn.BCEWithLogitsLoss()
        self.X, self.y = cr.tensor(X), cr.tensor(y.reshape(-1, 1))
        self.weights = weights

    def logits(self) -> np.ndarray:
        with cr.no_grad():
            return self.model(self.X).data


class ChainruleCompiled(Chainrule):
    """The same model, loss and optimiser through ``cr.compile``: one plan of buffers."""

    name = "chainrule compiled"

    def __init__(self, X, y, weights) -> None:
        super().__init__(X, y, weights)
        self.step = cr.compile(self.model, self.loss, self.optimizer)
        self.X_array, self.y_array = X, y.reshape(-1, 1)

    def steps(self, n: int) -> None:
        step, X, y = self.step, self.X_array, self.y_array
        for _ in range(n):
            step(X, y)


class Torch(ModuleContestant):
    name = "pytorch eager"

    def __init__(self, X, y, weights) -> None:
        import torch

        self.torch = torch
        self.model = torch.nn.Sequential(
            torch.nn.Linear(2, 16),
            torch.nn.Tanh(),
            torch.nn.Linear(16, 16),
            torch.nn.Tanh(),
            torch.nn.Linear(16, 1),
        )
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=LR)
        self.loss = torch.nn.BCEWithLogitsLoss()
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y.reshape(-1, 1))
        self.weights = {name: torch.from_numpy(w) for name, w in weights.items()}

    def logits(self) -> np.ndarray:
        with self.torch.no_grad():
            return self.model(self.X).numpy()


class Jax(Contestant):
    name = "jax jit"

    def __init__(self, X, y, weights) -> None:
        import jax
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        self.weights = weights

        def forward(params, X):
            (w1, b1), (w2, b2), (w3, b3) = params
            h = jnp.tanh(X @ w1.T + b1)
            h = jnp.tanh(h @ w2.T + b2)
            return h @ w3.T + b3

        def loss(params, X, y):
            return _bce_logits(jnp, forward(params, X), y)

        @jax.jit
        def step(params, X, y):
            value, grads = jax.value_and_grad(loss)(params, X, y)
            params = jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)
            return params, value

        self.forward, self.step = jax.jit(forward), step
        self.X, self.y = jnp.asarray(X), jnp.asarray(y.reshape(-1, 1))

    def reset(self) -> None:
        w = self.weights
        self.params = tuple(
            (self.jnp.asarray(w[f"{n}.weight"]), self.jnp.asarray(w[f"{n}.bias"])) for n in NAMES
        )

    def steps(self, n: int) -> None:
        params, step, X, y = self.params, self.step, self.X, self.y
        for _ in range(n):
            params, value = step(params, X, y)
        self.params = self.jax.block_until_ready(params)

    def logits(self) -> np.ndarray:
        return np.asarray(self.forward(self.params, self.X))


class Autograd(Contestant):
    name = "hips autograd"

    def __init__(self, X, y, weights) -> None:
        import autograd
        import autograd.numpy as anp

        def loss(params, X, y):
            (w1, b1), (w2, b2), (w3, b3) = params
            h = anp.tanh(anp.dot(X, w1.T) + b1)
            h = anp.tanh(anp.dot(h, w2.T) + b2)
            return _bce_logits(anp, anp.dot(h, w3.T) + b3, y)

        self.gradient = autograd.grad(loss)
        self.X, self.y = X, y.reshape(-1, 1)
        self.weights = weights

    def reset(self) -> None:
        w = self.weights
        self.params = [[w[f"{n}.weight"].copy(), w[f"{n}.bias"].copy()] for n in NAMES]

    def steps(self, n: int) -> None:
        params, gradient, X, y = self.params, self.gradient, self.X, self.y
        for _ in range(n):
            grads = gradient(params, X, y)
            for layer, layer_grads in zip(params, grads):
                for p, g in zip(layer, layer_grads):
                    p -= LR * g

    def logits(self) -> np.ndarray:
        (w1, b1), (w2, b2), (w3, b3) = self.params
        h = np.tanh(self.X @ w1.T + b1)
        h = np.tanh(h @ w2.T + b2)
        return h @ w3.T + b3


class NumpyByHand(Contestant):
    """Forward, the loss, the backward pass written out, and the SGD update, in plain NumPy."""

    name = "numpy by hand"

    def __init__(self, X, y, weights) -> None:
        self.X, self.y = X, y.reshape(-1, 1)
        self.weights = weights

    def reset(self) -> None:
        w = self.weights
        self.params = [w[f"{n}.{kind}"].copy() for n in NAMES for kind in ("weight", "bias")]

    def steps(self, n: int) -> None:
        w1, b1, w2, b2, w3, b3 = self.params
        X, y = self.X, self.y
        scale = np.float32(1 / len(X))
        for _ in range(n):
            h1 = np.tanh(X @ w1.T + b1)
            h2 = np.tanh(h1 @ w2.T + b2)
            z = h2 @ w3.T + b3
            _ = _bce_logits(np, z, y)
            p = 0.5 * (1 + np.tanh(0.5 * z))  # sigmoid(z), without overflow
            dz = (p - y) * scale
            dw3, db3 = dz.T @ h2, dz.sum(axis=0)
            da2 = (dz @ w3) * (1 - h2 * h2)
            dw2, db2 = da2.T @ h1, da2.sum(axis=0)
            da1 = (da2 @ w2) * (1 - h1 * h1)
            dw1, db1 = da1.T @ X, da1.sum(axis=0)
            for param, grad in zip(self.params, (dw1, db1, dw2, db2, dw3, db3)):
                param -= LR * grad

    def logits(self) -> np.ndarray:
        w1, b1, w2, b2, w3, b3 = self.params
        h = np.tanh(self.X @ w1.T + b1)
        h = np.tanh(h @ w2.T + b2)
        return h @ w3.T + b3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2, help="BLAS and PyTorch threads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2000, help="training steps per round")
    parser.add_argument("--only", help="comma-separated contestant names")
    args = parser.parse_args()
    limit_threads(args.threads)
    X, labels = data.make_moons(N_POINTS, seed=0)
    y = labels.astype(np.float32)
    weights = initial_weights()
    makers = {"chainrule": Chainrule, "chainrule compiled": ChainruleCompiled}
    peers = {}
    for module, name, maker in (
        ("torch", "pytorch eager", Torch),
        ("jax", "jax jit", Jax),
        ("autograd", "hips autograd", Autograd),
    ):
        try:
            imported = __import__(module)
        except ImportError:
            continue
        peers[module] = getattr(imported, "__version__", None) or _dist_version(module)
        makers[name] = maker
    makers["numpy by hand"] = NumpyByHand
    if args.only:
        wanted = set(args.only.split(","))
        makers = {name: maker for name, maker in makers.items() if name in wanted}
    contestants = [maker(X, y, weights) for maker in makers.values()]

    warmup: dict[str, float] = {}
    for contestant in contestants:
        contestant.reset()
        start = time.perf_counter()
        contestant.steps(1)
        warmup[contestant.name] = time.perf_counter() - start
    times: dict[str, list[float]] = {c.name: [] for c in contestants}
    finals: dict[str, list[tuple[float, float]]] = {c.name: [] for c in contestants}
    for _ in range(args.rounds):
        for contestant in contestants:
            contestant.reset()
            start = time.perf_counter()
            contestant.steps(args.steps)
            times[contestant.name].append((time.perf_counter() - start) / args.steps)
            finals[contestant.name].append(contestant.finish(y))

    references = [name for name in ("pytorch eager", "numpy by hand") if name in times]
    print(
        f"B3: two moons ({N_POINTS} points), MLP 2-16-16-1 tanh, BCE with logits, full-batch GD "
        f"lr {LR}, {args.steps} steps per round, {args.rounds} rounds, {args.threads} thread(s)"
    )
    print(versions({"chainrule": cr.__version__, **peers}))
    header = f"{'library':<20}{'warm-up us':>12}{'us/step':>10}{'min-max':>18}"
    header += "".join(f"{'x ' + name.split()[0]:>10}" for name in references)
    print(header + f"{'final loss':>12}{'train acc':>11}")
    for contestant in contestants:
        series = [t * 1e6 for t in times[contestant.name]]
        line = (
            f"{contestant.name:<20}{warmup[contestant.name] * 1e6:>12.0f}"
            f"{statistics.median(series):>10.1f}{min(series):>9.1f}-{max(series):<8.1f}"
        )
        for reference in references:
            ratios = [a / b for a, b in zip(times[contestant.name], times[reference])]
            line += f"{statistics.median(ratios):>9.2f}x"
        loss, accuracy = finals[contestant.name][-1]
        note = "" if len(set(finals[contestant.name])) == 1 else "  (differs between rounds!)"
        print(line + f"{loss:>12.4e}{accuracy:>11.4f}{note}")
    return 0


def _dist_version(module: str) -> str:
    from importlib.metadata import version

    return version(module)


if __name__ == "__main__":
    raise SystemExit(main())
