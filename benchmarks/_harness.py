"""Shared benchmark plumbing: interleaved rounds, medians, ratios and version lines."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np


def time_call(function: Callable[[], object], repeat: int) -> float:
    """Seconds per call of ``function``, the best of three batches of ``repeat`` calls."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def interleave(
    contestants: dict[str, Callable[[], object]], rounds: int, repeat: int
) -> dict[str, list[float]]:
    """Time each contestant once per round, in turn (A B C A B C ...), so noise hits all alike."""
    results: dict[str, list[float]] = {name: [] for name in contestants}
    for _ in range(rounds):
        for name, function in contestants.items():
            results[name].append(time_call(function, repeat))
    return results


def report(
    results: dict[str, list[float]], reference: str, unit: str, scale: float, per: str
) -> str:
    """A table of median (min-max) per contestant and its ratio to ``reference`` per round."""
    lines = [f"{'library':<22} {unit + ' ' + per + ' median':>22} {'min-max':>18} {'ratio':>14}"]
    for name, times in results.items():
        values = [t * scale for t in times]
        ratios = [a / b for a, b in zip(times, results[reference])]
        lines.append(
            f"{name:<22} {statistics.median(values):>22.2f} "
            f"{min(values):>8.2f}-{max(values):<9.2f} "
            f"{statistics.median(ratios):>8.2f}x {reference.split()[0]}"
        )
    return "\n".join(lines)


def limit_threads(threads: int, pin: bool = True) -> None:
    """Give NumPy's BLAS, PyTorch and JAX the same number of threads.

    With ``pin`` (the default) the process (every thread of it) is also bound to ``threads``
    cores when that is fewer than it may use: a library whose thread pool ignores the limits
    (XLA's CPU runtime ignores ``XLA_FLAGS``' thread settings and ran 1.75 cores busy in a
    "1-thread" epoch) then still gets no more cores than the others. ``pin=False`` is for
    processes that share the machine with siblings, such as MPI ranks, which must not all be
    bound to the same core.
    Call it before the peers are imported (JAX reads XLA_FLAGS when it starts) and again after
    (a BLAS that a peer loads later, such as SciPy's, is limited only then).
    """
    if threads == 1 and "XLA_FLAGS" not in os.environ:
        # XLA's CPU backend runs its own thread pool, which threadpoolctl does not see.
        os.environ["XLA_FLAGS"] = (
            "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if pin and 0 < threads < len(allowed):
        _bind_process(allowed[:threads])
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _bind_process(cores: list[int]) -> None:
    """Bind every thread of this process to ``cores``: on Linux an affinity belongs to a thread,
    and threads started before (OpenBLAS's, at ``import numpy``) keep their own; threads started
    later inherit the caller's."""
    tasks = "/proc/self/task"
    for thread in os.listdir(tasks) if os.path.isdir(tasks) else ["0"]:
        try:
            os.sched_setaffinity(int(thread), cores)
        except ProcessLookupError:  # the thread ended meanwhile
            pass


def versions(extra: dict[str, str]) -> str:
    """Python, NumPy, the BLAS NumPy runs and each peer's version, for the record."""
    parts = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            if pool.get("user_api") == "blas":
                parts.append(
                    f"BLAS {pool.get('internal_api')} {pool.get('version')} "
                    f"({pool.get('architecture')}, {pool.get('num_threads')} threads)"
                )
    except ImportError:
        parts.append("BLAS unknown (pip install threadpoolctl)")
    parts += [f"{name} {version}" for name, version in extra.items()]
    return "; ".join(parts)
