"""Run a tutorial's source (a jupytext percent script) as a Jupyter notebook.

The docs build and the test suite both execute tutorials through `execute`, so a page can never
show code that the suite did not run the same way.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

# Seconds one cell may take before the run is abandoned as hung.
CELL_TIMEOUT = 300


def read(source: Path) -> nbformat.NotebookNode:
    """The notebook written in `source`, with the Python 3 kernel named in it."""
    notebook = jupytext.read(source)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


def kernel_environment() -> dict[str, str]:
    """The environment a tutorial runs in: this interpreter's scripts first on PATH (so shell
    lines such as `!chainrule train` find the installed command) and a non-interactive plotting
    backend that still shows figures inline."""
    env = dict(os.environ)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    env.pop("MPLBACKEND", None)
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # CI builds as root, which Open MPI refuses unless told (the MPI recipe runs mpirun).
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return env


def execute(source: Path, workdir: Path | None = None) -> nbformat.NotebookNode:
    """Execute every cell of `source` in a fresh kernel, in `workdir` (a new temporary folder
    when None, so a tutorial's files never land in the project), and return the notebook with
    its outputs. A failing cell raises nbclient's CellExecutionError naming the cell."""
    notebook = read(source)
    with tempfile.TemporaryDirectory(prefix="chainrule-tutorial-") as scratch:
        where = workdir if workdir is not None else Path(scratch) / "work"
        where.mkdir(exist_ok=True)
        # The kernel talks over Unix sockets in the scratch folder: no TCP port open to other
        # users of the machine, and nothing left behind.
        manager = KernelManager(
            kernel_name="python3", transport="ipc", ip=str(Path(scratch) / "kernel")
        )
        client = NotebookClient(
            notebook,
            km=manager,
            timeout=CELL_TIMEOUT,
            resources={"metadata": {"path": str(where)}},
        )
        client.execute(env=kernel_environment())
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = merged_streams(cell.outputs)
    return notebook


def merged_streams(outputs: list[nbformat.NotebookNode]) -> list[nbformat.NotebookNode]:
    """Consecutive pieces of the same stream as one output: a loop that prints between slow
    steps arrives in several messages, which a page would show as separate blocks."""
    merged: list[nbformat.NotebookNode] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and output.get("output_type") == "stream"
            and previous.get("output_type") == "stream"
            and previous.get("name") == output.get("name")
        ):
            previous["text"] += output["text"]
        else:
            merged.append(output)
    return merged
