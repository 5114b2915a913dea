"""B4: autodiff per-operation overhead, side by side with the peers that are installed.

A chain of 200 elementwise operations (alternating x*1.0001, x+0.001, tanh) on a float64 vector
of length 16, then sum and backward. Prints microseconds per operation (forward + backward) and
the ratio to PyTorch eager (or to chainrule when PyTorch is missing), median of interleaved
rounds. Run: python benchmarks/b4_op_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import interleave, limit_threads, report, versions  # noqa: E402

import chainrule as cr  # noqa: E402

N_OPS = 200
LENGTH = 16


def chain_steps() -> list[str]:
    return [("mul", "add", "tanh")[i % 3] for i in range(N_OPS)]


def chainrule_run(x0: np.ndarray) -> Callable[[], float]:
    steps = chain_steps()

    def run() -> float:
        x = cr.tensor(x0, requires_grad=True)
        y = x
        for step in steps:
            if step == "mul":
                y = y * 1.0001
            elif step == "add":
                y = y + 0.001
            else:
                y = y.tanh()
        y.sum().backward()
        return float(x.grad.data[0])

    return run


def numpy_run(x0: np.ndarray) -> Callable[[], float]:
    steps = chain_steps()

    def run() -> float:
        y = x0
        saved = []
        for step in steps:
            if step == "mul":
                y = y * 1.0001
            elif step == "add":
                y = y + 0.001
            else:
                y = np.tanh(y)
                saved.append(y)
        g = np.ones_like(y)
        for step in reversed(steps):
            if step == "mul":
                g = g * 1.0001
            elif step == "tanh":
                out = saved.pop()
                g = g * (1 - out * out)
        return float(g[0])

    return run


def torch_run(x0: np.ndarray) -> Callable[[], float] | None:
    try:
        import torch
    except ImportError:
        return None
    steps = chain_steps()
    base = torch.from_numpy(x0.copy())

    def run() -> float:
        x = base.clone().requires_grad_(True)
        y = x
        for step in steps:
            if step == "mul":
                y = y * 1.0001
            elif step == "add":
                y = y + 0.001
            else:
                y = y.tanh()
        y.sum().backward()
        return float(x.grad[0])

    return run


def autograd_run(x0: np.ndarray) -> Callable[[], float] | None:
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    steps = chain_steps()

    def loss(x: np.ndarray) -> float:
        y = x
        for step in steps:
            if step == "mul":
                y = y * 1.0001
            elif step == "add":
                y = y + 0.001
            else:
                y = anp.tanh(y)
        return anp.sum(y)

    gradient = autograd.grad(loss)

    def run() -> float:
        return float(gradient(x0)[0])

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="BLAS and PyTorch threads")
    args = parser.parse_args()
    limit_threads(args.threads)
    x0 = np.random.default_rng(0).standard_normal(LENGTH)
    candidates = {
        "chainrule": chainrule_run(x0),
        "pytorch eager": torch_run(x0),
        "hips autograd": autograd_run(x0),
        "numpy by hand": numpy_run(x0),
    }
    contestants = {name: run for name, run in candidates.items() if run is not None}
    answers = {name: run() for name, run in contestants.items()}
    reference_answer = answers["numpy by hand"]
    for name, answer in answers.items():
        if not np.isclose(answer, reference_answer, rtol=1e-10):
            raise SystemExit(f"{name} computed {answer}, numpy by hand {reference_answer}")
    results = interleave(contestants, args.rounds, args.repeat)
    reference = "pytorch eager" if "pytorch eager" in results else "chainrule"
    peers = {}
    for module in ("torch", "autograd"):
        try:
            peers[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            pass
    print(
        f"B4 per-op overhead: {N_OPS}-op chain on float64[{LENGTH}], forward + backward, "
        f"{args.threads} thread(s)"
    )
    print(versions({"chainrule": cr.__version__, **peers}))
    print(f"result check: d(sum)/dx[0] = {reference_answer:.12f} for every library")
    print(report(results, reference, "us", 1e6 / N_OPS, "per op"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
