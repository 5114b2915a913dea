"""Run one tutorial or recipe and write its page and figures to a folder, to look at them
without building the whole site:

    python docs/_build/preview.py docs/tutorials/01-perceptron.py OUT
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from nbconvert import MarkdownExporter

sys.path.insert(0, str(Path(__file__).resolve().parent))
import notebooks  # noqa: E402


def main() -> None:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    notebook = notebooks.execute(source)
    seconds = time.perf_counter() - started
    body, resources = MarkdownExporter().from_notebook_node(
        notebook, resources={"output_files_dir": f"{source.stem}_files"}
    )
    (out / f"{source.stem}.md").write_text(body)
    for name, data in resources.get("outputs", {}).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    print(f"ran {source} in {seconds:.1f} s; page and figures in {out}")


if __name__ == "__main__":
    main()
