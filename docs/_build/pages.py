"""Build the tutorial and recipe pages: run each source as a notebook, then write the page
(Markdown with the figures it drew) and the notebook students download.

mkdocs-gen-files runs this during `mkdocs build`; nothing it writes lands in the source tree.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import mkdocs_gen_files
import nbformat
from nbconvert import MarkdownExporter

DOCS = Path(__file__).resolve().parent.parent
SECTIONS = ("tutorials", "recipes")


def _notebooks_module():  # type: ignore[no-untyped-def]
    """docs/_build/notebooks.py, loaded by path (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "chainrule_docs_notebooks", DOCS / "_build" / "notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _download_note(stem: str) -> str:
    return (
        f"\n\n---\n\nThis page was executed when the site was built. Run it yourself: "
        f"[{stem}.ipynb]({stem}.ipynb) (Jupyter) or [{stem}.py]({stem}.py) (plain Python, "
        f"or open it in Jupyter with jupytext).\n"
    )


def build(section: str) -> None:
    notebooks = _notebooks_module()
    exporter = MarkdownExporter()
    for source in sorted((DOCS / section).glob("[0-9]*.py")):
        started = time.perf_counter()
        notebook = notebooks.execute(source)
        stem = source.stem
        body, resources = exporter.from_notebook_node(
            notebook, resources={"output_files_dir": f"{stem}_files"}
        )
        with mkdocs_gen_files.open(f"{section}/{stem}.md", "w") as page:
            page.write(body + _download_note(stem))
        for name, data in resources.get("outputs", {}).items():
            with mkdocs_gen_files.open(f"{section}/{name}", "wb") as figure:
                figure.write(data)
        with mkdocs_gen_files.open(f"{section}/{stem}.ipynb", "w") as download:
            nbformat.write(notebook, download)
        mkdocs_gen_files.set_edit_path(f"{section}/{stem}.md", f"{section}/{source.name}")
        print(
            f"docs: ran {section}/{source.name} in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )


for _section in SECTIONS:
    build(_section)
