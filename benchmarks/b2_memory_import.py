"""B2: import time and peak memory, side by side with the peers that are installed.

Import time: ``python -c "import X"`` for chainrule, numpy, torch, jax, sklearn and autograd,
each in a fresh process, interleaved over rounds (one untimed run of each first, so that every
library's files are in the page cache and its bytecode compiled). Prints the wall time of the
whole process (interpreter start-up included) and the time of the import statement alone
(measured inside the process), median and min-max, next to a bare ``python -c pass``.
``--importtime`` adds the top contributors of ``python -X importtime -c "import chainrule"``.

Peak memory: B1's training (Fashion-MNIST, MLP 784-256-128-10, Adam, batch 128) of one library
per fresh process, reading the peak resident set size (VmHWM of /proc/self/status) at the end.
Every process first loads the same float32 arrays of the data set from .npy files written by
this script, so the loader's temporary copies are not counted; the baseline row is a process that
does only that (Python + NumPy + the data set in float32, 219 MB of arrays). Prints MB per
library, MB above the baseline, and the ratio to PyTorch eager. Run:
python benchmarks/b2_memory_import.py [--rounds 5] [--epochs 1] [--threads 2] [--importtime]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import versions  # noqa: E402

HERE = Path(__file__).parent
IMPORTS = ("chainrule", "numpy", "torch", "jax", "sklearn", "autograd")
ARRAYS = ("X_train", "y_train", "X_test", "y_test")
TORCH_NAMES = ("pytorch eager", "pytorch eager fused adam")

IMPORT_CHILD = (
    "import time; start = time.perf_counter(); import {module}; print(time.perf_counter() - start)"
)


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def time_imports(modules: list[str], rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    """(wall seconds of the process, seconds of the import inside it) per round, per module;
    "(python -c pass)" is the bare interpreter."""
    commands = {"(python -c pass)": "pass"}
    commands.update({module: IMPORT_CHILD.format(module=module) for module in modules})
    results: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in commands}
    for timed in [False] + [True] * rounds:
        for name, code in commands.items():
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            )
            wall = time.perf_counter() - start
            if timed:
                results[name][0].append(wall)
                results[name][1].append(float(done.stdout) if done.stdout.strip() else 0.0)
    return results


def import_profile(module: str, top: int) -> str:
    """The largest entries of ``python -X importtime -c "import module"`` by own and by
    cumulative time, leaving out NumPy's import (its share is printed on its own)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []  # (own us, cumulative us, depth, name), children before their parent
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((int(own), int(cumulative), depth, name.strip()))
    in_numpy = set()
    for index, (_, _, depth, name) in enumerate(rows):
        if name == "numpy":
            in_numpy.add(index)
            before = index - 1
            while before >= 0 and rows[before][2] > depth:
                in_numpy.add(before)
                before -= 1
    total = max(row[1] for row in rows)
    numpy_total = sum(row[1] for row in rows if row[3] == "numpy")
    outside = [row for index, row in enumerate(rows) if index not in in_numpy]
    by_own = sorted(outside, key=lambda row: -row[0])[:top]
    by_cumulative = sorted(outside, key=lambda row: -row[1])[:top]
    lines = [
        f"python -X importtime -c 'import {module}' (one run): {total / 1e3:.1f} ms in all, "
        f"of which numpy {numpy_total / 1e3:.1f} ms"
    ]
    lines.append(f"  {'own ms (outside numpy)':<40} cumulative ms (outside numpy)")
    for (own, _, _, own_name), (_, cumulative, depth, name) in zip(by_own, by_cumulative):
        lines.append(
            f"  {own / 1e3:6.1f} {own_name:<33.33} {cumulative / 1e3:6.1f} {'  ' * depth}{name}"
        )
    return "\n".join(lines)


def _status(field: str) -> float:
    """A field of /proc/self/status in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(name: str, folder: str, epochs: int, threads: int) -> None:
    """Train B1's contestant ``name`` (or only load the data, for "baseline") and print the
    process's peak and current memory as JSON."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    X, y, X_test, y_test = (np.load(Path(folder) / f"{array}.npy") for array in ARRAYS)
    after_data = _status("VmRSS")
    accuracy = None
    if name != "baseline":
        import b1_mlp_training as b1

        if name in TORCH_NAMES:
            import torch

            torch.set_num_threads(threads)
        contestant = b1.MAKERS[name][1](X, y, X_test, y_test)
        for _ in range(epochs):
            contestant.epoch()
        accuracy = contestant.accuracy()
    print(
        json.dumps(
            {"peak": _status("VmHWM"), "after_data": after_data, "accuracy": accuracy},
        )
    )


def measure_memory(names: list[str], epochs: int, threads: int, rounds: int) -> dict[str, list]:
    """Peak MB of each contestant's process, per round, in interleaved fresh processes."""
    import b1_mlp_training as b1

    results: dict[str, list] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as folder:
        for array, values in zip(ARRAYS, b1.load()):
            np.save(Path(folder) / f"{array}.npy", values)
        for _ in range(rounds):
            for name in names:
                done = subprocess.run(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--child",
                        name,
                        "--data",
                        folder,
                        "--epochs",
                        str(epochs),
                        "--threads",
                        str(threads),
                    ],
                    capture_output=True,
                    text=True,
                )
                if done.returncode:
                    raise SystemExit(f"{name} failed:\n{done.stderr}")
                results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return results


def summary(values: list[float], digits: int = 1) -> str:
    return (
        f"{statistics.median(values):>9.{digits}f} "
        f"{min(values):>8.{digits}f}-{max(values):<8.{digits}f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the import timings")
    parser.add_argument("--memory-rounds", type=int, default=1, help="rounds of the memory runs")
    parser.add_argument("--epochs", type=int, default=1, help="B1 epochs per memory run")
    parser.add_argument("--threads", type=int, default=2, help="BLAS and PyTorch threads")
    parser.add_argument("--importtime", action="store_true", help="-X importtime of chainrule")
    parser.add_argument("--top", type=int, default=12, help="rows of the -X importtime table")
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.epochs, args.threads)
        return 0

    peers = {}
    for module in IMPORTS[2:]:
        if installed(module):
            from importlib.metadata import version

            peers[module] = version("scikit-learn" if module == "sklearn" else module)
    import chainrule

    print(versions({"chainrule": chainrule.__version__, **peers}))

    if not args.skip_imports:
        modules = [module for module in IMPORTS if installed(module)]
        imports = time_imports(modules, args.rounds)
        print(f"\nB2a: import time, fresh process each, {args.rounds} interleaved rounds")
        print(f"{'import':<18}{'process s':>9} {'min-max':>17}   {'import s':>9} {'min-max':>17}")
        for name, (walls, inner) in imports.items():
            print(f"{name:<18}{summary(walls, 3)}   {summary(inner, 3)}")
        if args.importtime:
            print()
            print(import_profile("chainrule", args.top))

    if not args.skip_memory:
        import b1_mlp_training as b1

        names = ["baseline"] + [
            name
            for name, (module, _) in b1.MAKERS.items()
            if module == "chainrule" or installed(module)
        ]
        memory = measure_memory(names, args.epochs, args.threads, args.memory_rounds)
        peaks = {name: [run["peak"] for run in runs] for name, runs in memory.items()}
        base = statistics.median(peaks["baseline"])
        reference = "pytorch eager" if "pytorch eager" in peaks else "chainrule"
        print(
            f"\nB2b: peak RSS of B1's training ({args.epochs} epoch(s), fresh process each, "
            f"{args.memory_rounds} round(s), {args.threads} thread(s)); baseline = Python + "
            "NumPy + Fashion-MNIST in float32"
        )
        print(
            f"{'library':<26}{'peak MB':>9}{'min-max':>17}{'above base':>12}"
            f"{'ratio':>8}{'ratio above base':>18}{'test acc':>10}"
        )
        for name, values in peaks.items():
            ratios = [a / b for a, b in zip(values, peaks[reference])]
            above = statistics.median(values) - base
            above_reference = statistics.median(peaks[reference]) - base
            accuracy = memory[name][-1]["accuracy"]
            print(
                f"{name:<26}{summary(values)}{above:>12.1f}"
                f"{statistics.median(ratios):>7.2f}x"
                f"{above / above_reference if name != 'baseline' else float('nan'):>17.2f}x"
                f"{accuracy if accuracy is not None else float('nan'):>10.4f}"
            )
        print(f"ratios to {reference}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
