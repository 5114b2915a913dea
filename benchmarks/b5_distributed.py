"""B5: B1 (Fashion-MNIST MLP training) on K MPI processes with ``chainrule.distributed``.

784-256-128-10 ReLU MLP, softmax cross-entropy, Adam lr 1e-3, global batch 128 shuffled every
epoch (each of K ranks computes on its 128 / K samples per step), float32, one BLAS thread per
process. For each K (default 1 and 2) this script starts ``mpirun -n K`` on itself and reports,
over the epochs after the first (which includes compiling the Adam kernel): epoch seconds
(median, min-max), throughput in samples per second, the speed-up over K = 1, where a step's
time goes on rank 0 (forward and backward on the shard, the gradient allreduce including any
wait for the slower rank, the optimiser's update of all parameters), and the test accuracy after
the last epoch. It also times the allreduce of the 235,146-float32 gradient buffer alone (200
calls, ranks in step): the pure cost of communication. Run:

    pip install -e ".[mpi,bench]"
    python benchmarks/b5_distributed.py [--ranks 1,2] [--epochs 3] [--batch 128]

Open MPI refuses to run as root unless told; as root this script tells it, for its own mpirun.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _harness import limit_threads, versions  # noqa: E402
from b1_mlp_training import SIZES, load  # noqa: E402

PURE_CALLS = 200


def _mpirun() -> str:
    beside = Path(sys.executable).parent / "mpirun"  # the one of this venv's [mpi] extra
    found = str(beside) if beside.exists() else shutil.which("mpirun")
    if found is None:
        raise SystemExit('mpirun not found: pip install "chainrule[mpi]"')
    return found


def launch(ranks: int, epochs: int, batch: int) -> dict[str, Any]:
    """Run the worker on ``ranks`` processes; return rank 0's JSON report."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    command = [_mpirun(), "-n", str(ranks), sys.executable, __file__, "--worker"]
    command += ["--epochs", str(epochs), "--batch", str(batch)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"mpirun -n {ranks} failed:\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def worker(epochs: int, batch: int) -> None:
    """One rank: train, time every epoch and its parts, print rank 0's report as JSON."""
    limit_threads(1, pin=False)  # the ranks share the machine's cores
    from mpi4py import MPI

    import chainrule as cr
    from chainrule import distributed, nn, optim
    from chainrule.data import DataLoader, TensorDataset

    X, y, X_test, y_test = load()
    cr.manual_seed(0)
    model = nn.mlp(784, list(SIZES[1:-1]), 10, "relu")
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(X, y), batch_size=batch, shuffle=True, seed=0)
    parallel = distributed.distribute(model, optimizer)
    comm = parallel.comm
    epochs_seen: list[dict[str, float]] = []
    for _ in range(epochs):
        comm.Barrier()
        optimizer_seconds = 0.0
        started, before = time.perf_counter(), parallel.allreduce_seconds
        for inputs, targets in loader:
            inputs, targets = parallel.shard(inputs, targets)
            optimizer.zero_grad()
            loss_fn(model(inputs), targets).backward()
            parallel.allreduce_gradients()  # what parallel.step() does, timed in two parts
            stepped = time.perf_counter()
            optimizer.step()
            optimizer_seconds += time.perf_counter() - stepped
        seconds = time.perf_counter() - started
        allreduce = parallel.allreduce_seconds - before
        epochs_seen.append(
            {
                "seconds": seconds,
                "allreduce": allreduce / seconds,
                "optimizer": optimizer_seconds / seconds,
            }
        )
    with cr.no_grad():
        accuracy = float((model(X_test).data.argmax(axis=1) == y_test).mean())
    # The allreduce alone, on the same buffer, ranks in step: the cost of communication
    # without any waiting for a slower rank.
    flat = parallel.buffer[: parallel.numel]
    comm.Barrier()
    started = time.perf_counter()
    for _ in range(PURE_CALLS):
        comm.Allreduce(MPI.IN_PLACE, flat)
    pure = (time.perf_counter() - started) / PURE_CALLS
    everyone = comm.gather(epochs_seen, root=0)
    if parallel.is_main:
        report = {
            "ranks": parallel.world_size,
            "epochs": everyone,
            "steps": len(loader),
            "samples": len(X),
            "parameters": parallel.numel,
            "pure_allreduce_seconds": pure,
            "test_accuracy": accuracy,
            "mpi": MPI.Get_library_version().splitlines()[0].strip(),
            "versions": versions({"chainrule": cr.__version__}),
        }
        print(json.dumps(report))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ranks", default="1,2", help="comma-separated process counts")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=128, help="global batch size")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.epochs, args.batch)
        return 0
    reports = [launch(int(k), args.epochs, args.batch) for k in args.ranks.split(",")]
    first = reports[0]
    print(
        f"B5: Fashion-MNIST, MLP 784-256-128-10 ReLU, Adam 1e-3, global batch {args.batch}, "
        f"{args.epochs} epochs (epoch 1 not counted), 1 thread per process"
    )
    print(f"{first['versions']}; {first['mpi']}")
    print(
        f"gradient buffer: {first['parameters']:,} float32 = {first['parameters'] * 4 / 1e6:.2f}"
        f" MB, {first['steps']} allreduces per epoch"
    )
    print(
        f"{'K':>2}{'epoch s':>9}{'min-max':>12}{'samples/s':>11}{'speed-up':>10}"
        f"{'compute':>9}{'allreduce':>11}{'optimiser':>11}{'allreduce alone':>17}{'test acc':>10}"
    )
    base = None
    for report in reports:
        rank0 = report["epochs"][0][1:] or report["epochs"][0]
        seconds = [epoch["seconds"] for epoch in rank0]
        median = statistics.median(seconds)
        throughput = report["samples"] / median
        base = base or throughput
        allreduce = statistics.median(epoch["allreduce"] for epoch in rank0)
        optimiser = statistics.median(epoch["optimizer"] for epoch in rank0)
        print(
            f"{report['ranks']:>2}{median:>9.2f}{min(seconds):>6.2f}-{max(seconds):<5.2f}"
            f"{throughput:>11.0f}{throughput / base:>9.2f}x"
            f"{100 * (1 - allreduce - optimiser):>8.1f}%{100 * allreduce:>10.1f}%"
            f"{100 * optimiser:>10.1f}%{1e3 * report['pure_allreduce_seconds']:>14.3f} ms"
            f"{report['test_accuracy']:>10.4f}"
        )
    print(
        "compute, allreduce, optimiser: shares of rank 0's epoch time (forward + backward on "
        "its shard;\nthe allreduce with any wait for the slower rank; Adam's update of all "
        "parameters)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
