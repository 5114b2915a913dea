"""B9: the networks learners train, eager against compiled, side by side in one process.

The XOR, moons and spirals demonstrations (their own networks, data, optimiser, batch size and
epochs, through ``fit``) and the playground's 6x8 tanh network (spirals, 250 training points,
batch 10, SGD lr 0.03, through the playground's own ``Network.train_epoch``). Each round trains
every case eagerly (``compile=False``; the playground without its compiled step) and compiled,
in turn, from the same initial weights; prints milliseconds per run (per epoch for the
playground), median and min-max over rounds, and the median of the rounds' ratios. Issue 19's
target: compiled at least 3x faster than eager. Run:
python benchmarks/b9_small_training.py [--threads 1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import limit_threads, versions  # noqa: E402


def demo_case(name: str) -> Callable[[bool], float]:
    """A function training the demonstration ``name`` once (compiled or not); returns the
    final training loss, which both modes must agree on."""
    from chainrule import data, nn, optim
    from chainrule.demos import _boundary_training, moons, spirals, xor
    from chainrule.train import fit

    if name == "xor":
        X, y = data.make_xor(xor.N_SAMPLES, seed=0)
        hidden, activation = (xor.HIDDEN,), "tanh"
        lr, epochs, batch = xor.LEARNING_RATE, xor.NETWORK_EPOCHS, 32
    else:
        setup = moons.SETUP if name == "moons" else spirals.SETUP
        maker = data.make_moons if name == "moons" else data.make_spirals
        X, y = maker(200 if name == "moons" else 300, noise=0.2, seed=0)
        hidden, activation, lr, epochs = setup.hidden, setup.activation, setup.lr, setup.epochs
        batch = _boundary_training.BATCH_SIZE

    def train(compiled: bool) -> float:
        model = nn.mlp(2, list(hidden), 2, activation, rng=np.random.default_rng(0))
        history = fit(
            model,
            nn.CrossEntropyLoss(),
            optim.Adam(model.parameters(), lr=lr),
            data.DataLoader(data.TensorDataset(X, y), batch_size=batch, shuffle=True, seed=0),
            epochs=epochs,
            progress=False,
            compile=compiled,
        )
        return float(history.train_loss[-1])

    return train


def playground_case(epochs: int) -> Callable[[bool], float]:
    """``epochs`` epochs of the playground's 6x8 tanh network on its spirals."""
    from chainrule import data
    from chainrule.playground.network import Network, outputs_for
    from chainrule.playground.settings import Settings

    settings = dataclasses.replace(
        Settings(), dataset="spiral", hidden=(8,) * 6, activations=("tanh",) * 6, batch=10
    )

    X, labels = data.make_spirals(500, seed=0)
    X, labels = X[:250].astype(np.float32), labels[:250]

    def train(compiled: bool) -> float:
        network = Network(settings, 2, outputs_for(settings, "classification", 2), "classification")
        if not compiled:
            network._compiled_step = lambda: None  # type: ignore[method-assign,assignment,return-value]
        targets = network.targets(labels)
        for _ in range(epochs):
            network.train_epoch(X, targets, settings)
        return network.loss(X, targets)

    return train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--playground-epochs", type=int, default=100)
    args = parser.parse_args()
    limit_threads(args.threads)
    from chainrule.compiler import fused

    fused.wait_for_loops()
    cases: dict[str, tuple[Callable[[bool], float], float, str]] = {
        "xor 2-8-2 tanh, Adam, batch 32": (demo_case("xor"), 1.0, "ms/run"),
        "moons 2-16-16-2 tanh, Adam, batch 32": (demo_case("moons"), 1.0, "ms/run"),
        "spirals 2-32-32-2 relu, Adam, batch 32": (demo_case("spirals"), 1.0, "ms/run"),
        "playground 6x8 tanh, SGD, batch 10": (
            playground_case(args.playground_epochs),
            1.0 / args.playground_epochs,
            "ms/epoch",
        ),
    }
    print(
        f"B9: demos and playground, eager against compiled, {args.rounds} rounds, "
        f"{args.threads} thread(s)"
    )
    import chainrule

    print(versions({"chainrule": chainrule.__version__}))
    print(f"{'case':<42} {'unit':>8} {'eager':>16} {'compiled':>16} {'speed-up':>9} {'losses':>22}")
    for name, (train, per, unit) in cases.items():
        train(False), train(True)  # warm-up: first allocations, the compiled loops' cache
        times: dict[bool, list[float]] = {False: [], True: []}
        losses = {}
        for _ in range(args.rounds):
            for compiled in (False, True):
                start = time.perf_counter()
                losses[compiled] = train(compiled)
                times[compiled].append((time.perf_counter() - start) * per * 1e3)
        ratios = [e / c for e, c in zip(times[False], times[True])]
        eager, compiled_ = statistics.median(times[False]), statistics.median(times[True])
        print(
            f"{name:<42} {unit:>8} {eager:>8.2f} ({min(times[False]):.1f}) "
            f"{compiled_:>8.2f} ({min(times[True]):.1f}) {statistics.median(ratios):>8.2f}x "
            f"{losses[False]:>10.4g} {losses[True]:>10.4g}"
        )


if __name__ == "__main__":
    main()
