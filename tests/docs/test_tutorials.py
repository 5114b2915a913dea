"""Every tutorial and recipe of the documentation runs top to bottom as a Jupyter notebook, in a
fresh kernel and an empty folder, exactly as the docs build runs it (docs/_build/notebooks.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
SOURCES = sorted(DOCS.glob("tutorials/[0-9]*.py")) + sorted(DOCS.glob("recipes/[0-9]*.py"))

pytest.importorskip("ipykernel", reason="the [test] extra installs ipykernel")


def _notebooks():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "docs_notebooks", DOCS / "_build" / "notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_tutorials_and_recipes() -> None:
    assert len(list(DOCS.glob("tutorials/[0-9]*.py"))) >= 13
    assert len(list(DOCS.glob("recipes/[0-9]*.py"))) >= 6


@pytest.mark.notebook
@pytest.mark.parametrize("source", SOURCES, ids=[f"{p.parent.name}/{p.stem}" for p in SOURCES])
def test_runs_as_a_notebook(source: Path, tmp_path: Path) -> None:
    notebook = _notebooks().execute(source, workdir=tmp_path)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code_cells, f"{source.name} has no code"
    errors = [
        output
        for cell in code_cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    # A page shows no warning: whatever a tutorial prints on stderr is a defect to fix.
    stderr = [
        output["text"]
        for cell in code_cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream" and output.get("name") == "stderr"
    ]
    assert not stderr, f"{source.name} wrote to stderr: {stderr}"


@pytest.mark.notebook
def test_each_source_opens_as_the_same_notebook_in_jupyter() -> None:
    """jupytext turns the source into a notebook and back without losing a cell, so students
    can open the .py itself in Jupyter or the .ipynb the site offers."""
    import jupytext

    for source in SOURCES:
        notebook = jupytext.read(source)
        assert notebook.cells[0].cell_type == "markdown", source.name
        assert notebook.cells[0].source.startswith("# "), (
            f"{source.name}: first cell is not a title"
        )
        again = jupytext.reads(jupytext.writes(notebook, fmt="py:percent"), fmt="py:percent")
        assert [c.source for c in again.cells] == [c.source for c in notebook.cells], source.name
