"""B1: MLP training throughput on Fashion-MNIST, side by side with the installed peers.

784-256-128-10 ReLU MLP, softmax cross-entropy, Adam lr 1e-3, batch 128, shuffled every epoch,
5 epochs, float32. Epochs are interleaved across libraries (epoch 1 of each, then epoch 2 of
each, ...). Prints first-epoch seconds (for JAX this includes compiling the train step), the
median of epochs 2-5 with min-max, the ratio to PyTorch eager within each round, test accuracy
after the last epoch, and the GEMM floor: the time of only the matrix products one epoch needs.
Contestants: chainrule, pytorch eager, pytorch eager fused adam, jax jit, scikit-learn (peers
that are not installed are left out), and the same training written by hand on NumPy with
chainrule's compiled passes and no engine (the least a NumPy-based library can spend). Run:
python benchmarks/b1_mlp_training.py [--threads 2] [--epochs 5] [--only chainrule,jax jit]

Each library is imported only when its contestant is built, so that ``b2_memory_import.py`` can
train one library per process without the others' imports in its peak memory.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import limit_threads, versions  # noqa: E402

SIZES = (784, 256, 128, 10)
BATCH = 128


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from chainrule import data

    X_train, y_train = data.load_fashion_mnist("train")
    X_test, y_test = data.load_fashion_mnist("test")
    scale = np.float32(1 / 255)
    return (
        X_train.reshape(-1, 784).astype(np.float32) * scale,
        y_train,
        X_test.reshape(-1, 784).astype(np.float32) * scale,
        y_test,
    )


class Contestant:
    """One library: ``epoch()`` trains one epoch, ``accuracy()`` scores the test set."""

    name = ""

    def epoch(self) -> None: ...

    def accuracy(self) -> float: ...


class Chainrule(Contestant):
    name = "chainrule"

    def __init__(self, X, y, X_test, y_test) -> None:
        import chainrule as cr
        from chainrule import data, nn, optim

        self.cr = cr
        cr.manual_seed(0)
        self.model = nn.mlp(784, [256, 128], 10)
        self.optimizer = optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss = nn.CrossEntropyLoss()
        self.loader = data.DataLoader(data.TensorDataset(X, y), BATCH, shuffle=True, seed=0)
        self.X_test, self.y_test = X_test, y_test

    def epoch(self) -> None:
        for inputs, targets in self.loader:
            self.optimizer.zero_grad()
            self.loss(self.model(inputs), targets).backward()
            self.optimizer.step()

    def accuracy(self) -> float:
        with self.cr.no_grad():
            scores = self.model(self.X_test).data
        return float((scores.argmax(axis=1) == self.y_test).mean())


class ChainruleCompiled(Chainrule):
    """The same model, loss and optimiser, each batch through ``cr.compile``."""

    name = "chainrule compiled"

    def __init__(self, X, y, X_test, y_test) -> None:
        super().__init__(X, y, X_test, y_test)
        self.step = self.cr.compile(self.model, self.loss, self.optimizer)

    def epoch(self) -> None:
        step = self.step
        for inputs, targets in self.loader:
            step(inputs, targets)


class ByHand(Contestant):
    """The same training written out by hand: NumPy's GEMMs, chainrule's compiled passes (bias
    with ReLU, ReLU's backward, softmax cross-entropy, Adam), the activations, gradients and
    constant vectors allocated once (only the gathered batch is new each step), no graph and no
    modules. A reference for what a NumPy-based program needs at the least: its gap to chainrule
    is about what chainrule's engine costs, its gap to the GEMM floor the elementwise work."""

    name = "numpy by hand (fused)"

    def __init__(self, X, y, X_test, y_test) -> None:
        from chainrule.engine import kernels as _kernels

        rng = np.random.default_rng(0)
        self.params: list[np.ndarray] = []
        for n_in, n_out in zip(SIZES, SIZES[1:]):
            bound = 1 / np.sqrt(n_in)  # PyTorch's Linear initialisation, weights (in, out)
            self.params.append(rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32))
            self.params.append(rng.uniform(-bound, bound, n_out).astype(np.float32))
        self.grads = [np.zeros_like(p) for p in self.params]
        self.moments = [(np.zeros_like(p), np.zeros_like(p)) for p in self.params]
        self.kernel = {
            # an array above the kernels' least sizes, so that each is handed out
            name: _kernels.kernel(name, np.zeros((64, 64), np.float32))
            for name in ("adam", "bias_relu", "relu_backward", "softmax_cross_entropy")
        }
        self.adam_settings = _kernels.adam_settings
        self.buffers: dict[tuple[str, int], np.ndarray] = {}
        self.X, self.y, self.X_test, self.y_test = X, y, X_test, y_test
        self.rng = np.random.default_rng(0)
        self.steps = 0

    def buffer(self, name: str, rows: int, columns: int) -> np.ndarray:
        key = (name, rows)
        if key not in self.buffers:
            self.buffers[key] = np.empty((rows, columns), np.float32)
        return self.buffers[key]

    def constant(self, kind: str, n: int) -> np.ndarray:
        """Row numbers (kind "rows") or ones of length n, made once."""
        key = (kind, n)
        if key not in self.buffers:
            self.buffers[key] = np.arange(n) if kind == "rows" else np.ones(n, np.float32)
        return self.buffers[key]

    def step(self, x: np.ndarray, labels: np.ndarray) -> None:
        (w1, b1, w2, b2, w3, b3), grads, kernel = self.params, self.grads, self.kernel
        n = len(labels)
        h1 = np.matmul(x, w1, out=self.buffer("h1", n, SIZES[1]))
        kernel["bias_relu"](h1, b1)
        h2 = np.matmul(h1, w2, out=self.buffer("h2", n, SIZES[2]))
        kernel["bias_relu"](h2, b2)
        z = np.matmul(h2, w3, out=self.buffer("z", n, SIZES[3]))
        z += b3
        delta = self.buffer("delta", n, SIZES[3])
        losses = self.buffer("losses", n, 1).reshape(-1)
        kernel["softmax_cross_entropy"](z, labels, delta, losses)
        delta[self.constant("rows", n), labels] -= 1
        delta *= np.float32(1 / n)
        ones = self.constant("ones", n)
        for layer, (inputs, weight) in reversed(list(enumerate(((x, w1), (h1, w2), (h2, w3))))):
            np.matmul(inputs.T, delta, out=grads[2 * layer])
            np.matmul(ones, delta, out=grads[2 * layer + 1])
            if layer:
                back = np.matmul(delta, weight.T, out=self.buffer(f"back{layer}", n, len(weight)))
                # Into another buffer: in place, the compiled loop could not be vectorised.
                delta = self.buffer(f"delta{layer}", n, len(weight))
                kernel["relu_backward"](back.reshape(-1), inputs.reshape(-1), delta.reshape(-1))
        self.steps += 1
        beta1, beta2 = 0.9, 0.999
        settings = self.adam_settings(
            np.dtype(np.float32),
            step_size=1e-3 / (1 - beta1**self.steps),
            beta1=beta1,
            beta2=beta2,
            eps=1e-8,
            inv_sqrt_bias_correction2=1 / np.sqrt(1 - beta2**self.steps),
            weight_decay=0.0,
            shrink=1.0,
            flush_below=float(np.finfo(np.float32).tiny),
        )
        for p, g, (m, v) in zip(self.params, grads, self.moments):
            kernel["adam"](p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1), settings)

    def epoch(self) -> None:
        order = self.rng.permutation(len(self.X))
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            self.step(np.take(self.X, batch, axis=0), np.take(self.y, batch).astype(np.intp))

    def accuracy(self) -> float:
        w1, b1, w2, b2, w3, b3 = self.params
        hidden = np.maximum(np.maximum(self.X_test @ w1 + b1, 0) @ w2 + b2, 0)
        return float(((hidden @ w3 + b3).argmax(axis=1) == self.y_test).mean())


class Torch(Contestant):
    def __init__(self, X, y, X_test, y_test, fused: bool) -> None:
        import torch

        torch.manual_seed(0)
        self.torch = torch
        self.name = "pytorch eager" + (" fused adam" if fused else "")
        self.model = torch.nn.Sequential(
            torch.nn.Linear(784, 256),
            torch.nn.ReLU(),
            torch.nn.Linear(256, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, 10),
        )
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3, fused=fused or None)
        self.loss = torch.nn.CrossEntropyLoss()
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.X_test, self.y_test = torch.from_numpy(X_test), torch.from_numpy(y_test)
        self.generator = torch.Generator().manual_seed(0)

    def epoch(self) -> None:
        order = self.torch.randperm(len(self.X), generator=self.generator)
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            self.optimizer.zero_grad()
            self.loss(self.model(self.X[batch]), self.y[batch]).backward()
            self.optimizer.step()

    def accuracy(self) -> float:
        with self.torch.no_grad():
            scores = self.model(self.X_test)
        return float((scores.argmax(dim=1) == self.y_test).float().mean())


class Jax(Contestant):
    """The whole train step (forward, backward, Adam written in jax.numpy) jitted; batches
    gathered with NumPy in the order of a NumPy permutation per epoch."""

    name = "jax jit"

    def __init__(self, X, y, X_test, y_test) -> None:
        import jax
        import jax.numpy as jnp

        rng = np.random.default_rng(0)
        params = []
        for n_in, n_out in zip(SIZES, SIZES[1:]):
            bound = 1 / np.sqrt(n_in)  # PyTorch's Linear initialisation
            params.append(
                (
                    jnp.asarray(rng.uniform(-bound, bound, (n_in, n_out)).astype(np.float32)),
                    jnp.asarray(rng.uniform(-bound, bound, n_out).astype(np.float32)),
                )
            )
        self.params = params
        m, v = (jax.tree_util.tree_map(jnp.zeros_like, params) for _ in range(2))
        self.state = (m, v, jnp.zeros((), jnp.float32))
        lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-8

        def forward(params, X):
            for w, b in params[:-1]:
                X = jax.nn.relu(X @ w + b)
            w, b = params[-1]
            return X @ w + b

        def loss(params, X, y):
            log_p = jax.nn.log_softmax(forward(params, X))
            return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

        def step(params, state, X, y):
            m, v, t = state
            grads = jax.grad(loss)(params, X, y)
            t = t + 1
            m = jax.tree_util.tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, m, grads)
            v = jax.tree_util.tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, v, grads)
            step_size = lr / (1 - beta1**t)
            correction = jnp.sqrt(1 - beta2**t)
            params = jax.tree_util.tree_map(
                lambda p, m, v: p - step_size * m / (jnp.sqrt(v) / correction + eps), params, m, v
            )
            return params, (m, v, t)

        self.jax = jax
        self.step = jax.jit(step, donate_argnums=(0, 1))
        self.forward = jax.jit(forward)
        self.X, self.y, self.X_test, self.y_test = X, y, X_test, y_test
        self.rng = np.random.default_rng(0)

    def epoch(self) -> None:
        order = self.rng.permutation(len(self.X))
        params, state, step, X, y = self.params, self.state, self.step, self.X, self.y
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            params, state = step(params, state, X[batch], y[batch])
        self.params, self.state = self.jax.block_until_ready((params, state))

    def accuracy(self) -> float:
        scores = np.asarray(self.forward(self.params, self.X_test))
        return float((scores.argmax(axis=1) == self.y_test).mean())


class Sklearn(Contestant):
    name = "scikit-learn"

    def __init__(self, X, y, X_test, y_test) -> None:
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier(
            hidden_layer_sizes=(256, 128),
            solver="adam",
            learning_rate_init=1e-3,
            batch_size=BATCH,
            max_iter=1,
            shuffle=True,
            random_state=0,
            alpha=0.0,
        )
        self.X, self.y, self.X_test, self.y_test = X, y, X_test, y_test
        self.classes = np.arange(10)

    def epoch(self) -> None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model.partial_fit(self.X, self.y, classes=self.classes)

    def accuracy(self) -> float:
        return float(self.model.score(self.X_test, self.y_test))


# name -> (module that must be importable, maker taking X, y, X_test, y_test), in table order.
MAKERS: dict[str, tuple[str, Callable[..., Contestant]]] = {
    "chainrule": ("chainrule", Chainrule),
    "chainrule compiled": ("chainrule", ChainruleCompiled),
    "pytorch eager": ("torch", functools.partial(Torch, fused=False)),
    "pytorch eager fused adam": ("torch", functools.partial(Torch, fused=True)),
    "jax jit": ("jax", Jax),
    "scikit-learn": ("sklearn", Sklearn),
    "numpy by hand (fused)": ("chainrule", ByHand),
}

LABELS = {"sklearn": "scikit-learn"}


def available(names: list[str] | None = None) -> dict[str, tuple[str, Callable[..., Contestant]]]:
    """The makers of ``names`` (all by default) whose library imports, after checking the
    names."""
    if names is not None:
        unknown = [name for name in names if name not in MAKERS]
        if unknown:
            raise SystemExit(f"unknown contestant(s) {unknown}; choose from {list(MAKERS)}")
    chosen = {}
    for name, (module, maker) in MAKERS.items():
        if names is not None and name not in names:
            continue
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        chosen[name] = (module, maker)
    return chosen


def gemm_floor(X: np.ndarray, repeat: int = 3) -> float:
    """Seconds of only the matrix products of one epoch, with the same shapes, in NumPy: forward
    X @ W per layer, dW = Xᵀ @ G per layer, dX = G @ Wᵀ for every layer but the first. W is
    stored (in, out) row-major, so the forward product is BLAS's plain NN one, the fastest
    layout for it (the transposed NT form, x @ Wᵀ with W (out, in), takes about 8% longer)."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((i, o)).astype(np.float32) for i, o in zip(SIZES, SIZES[1:])]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for begin in range(0, len(X), BATCH):
            activation = X[begin : begin + BATCH]
            inputs = []
            for w in weights:
                inputs.append(activation)
                activation = activation @ w
            g = activation
            for layer in reversed(range(len(weights))):
                _ = inputs[layer].T @ g
                if layer:
                    g = g @ weights[layer].T
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--only", help="comma-separated contestant names")
    args = parser.parse_args()
    limit_threads(args.threads)
    import chainrule as cr

    chosen = available(args.only.split(",") if args.only else None)
    X, y, X_test, y_test = load()
    peers = {
        LABELS.get(module, module): importlib.import_module(module).__version__
        for module, _ in chosen.values()
        if module != "chainrule"
    }
    contestants = [maker(X, y, X_test, y_test) for _, maker in chosen.values()]
    limit_threads(args.threads)  # again: a BLAS loaded by a peer since (SciPy's) is limited now
    times: dict[str, list[float]] = {c.name: [] for c in contestants}
    floors: list[float] = []
    for _ in range(args.epochs):
        for contestant in contestants:
            start = time.perf_counter()
            contestant.epoch()
            times[contestant.name].append(time.perf_counter() - start)
        floors.append(gemm_floor(X, repeat=1))  # in every round, so noise hits it alike
    floor = statistics.median(floors[1:] or floors)
    reference = "pytorch eager" if "pytorch eager" in times else contestants[0].name
    print(
        f"B1: Fashion-MNIST, MLP 784-256-128-10 ReLU, Adam 1e-3, batch {BATCH}, "
        f"{args.epochs} epochs, {args.threads} thread(s)"
    )
    print(versions({"chainrule": cr.__version__, **peers}))
    print(
        f"{'library':<28}{'epoch 1 s':>10}{'median s':>10}{'min-max':>14}"
        f"{'ratio':>16}{'x floor':>9}{'test acc':>10}"
    )
    for contestant in contestants:
        series = times[contestant.name]
        later = series[1:] or series
        ratios = [a / b for a, b in zip(series[1:], times[reference][1:])] or [1.0]
        over_floor = [a / b for a, b in zip(series[1:], floors[1:])] or [series[0] / floors[0]]
        print(
            f"{contestant.name:<28}{series[0]:>10.2f}{statistics.median(later):>10.2f}"
            f"{min(later):>7.2f}-{max(later):<6.2f}"
            f"{statistics.median(ratios):>9.2f}x torch"
            f"{statistics.median(over_floor):>9.2f}{contestant.accuracy():>10.4f}"
        )
    print(
        f"GEMM floor (NumPy, one epoch's matrix products, measured in every round): median "
        f"{floor:.2f} s ({min(floors):.2f}-{max(floors):.2f}); 'x floor' is the median of the "
        "per-round ratios"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
