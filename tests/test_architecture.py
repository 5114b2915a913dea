"""The package's layers: imports point down, never up, so that each room can be read (and
changed) knowing only the rooms below it. The rule is checked on the source, statically."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import chainrule

PACKAGE = Path(chainrule.__file__).parent

# Rooms from the bottom up; a module may import its own room and the rooms of lower layers.
LAYERS: list[tuple[str, ...]] = [
    ("chainrule._atomic", "chainrule._safetensors", "chainrule._text", "chainrule._version"),
    ("chainrule.engine", "chainrule.ops"),
    ("chainrule.check", "chainrule.nn", "chainrule.optim", "chainrule.data"),
    ("chainrule.io",),
    ("chainrule.compiler",),
    (
        "chainrule.classic",
        "chainrule.train",
        "chainrule.viz",
        "chainrule.plots",
        "chainrule.export",
    ),
    (
        "chainrule.sklearn",
        "chainrule.demos",
        "chainrule.diagnostics",
        "chainrule.distributed",
        "chainrule.playground",
    ),
    ("chainrule.cli",),
    ("chainrule", "chainrule.__main__"),
]
# The one pair of rooms on one layer that use each other: a Tensor's operators are the ops, and
# the ops are built on the Tensor (tensor.py imports them at its end, which says why).
MUTUAL = {("chainrule.engine", "chainrule.ops"), ("chainrule.ops", "chainrule.engine")}
LAYER_OF = {room: number for number, rooms in enumerate(LAYERS) for room in rooms}


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ["chainrule", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _room(module: str) -> str:
    matches = [room for room in LAYER_OF if module == room or module.startswith(room + ".")]
    if not matches:
        raise AssertionError(f"{module} belongs to no room of LAYERS; add it to the table")
    return max(matches, key=len)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str) -> list[tuple[int, str]]:
    """(line, module) for every chainrule module that ``module`` imports at run time, at any
    depth of its code (imports inside functions count; ``if TYPE_CHECKING:`` ones do not)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("chainrule")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            elif (node.module or "").startswith("chainrule"):
                target = node.module or ""
            else:
                continue
            for alias in node.names:
                name = f"{target}.{alias.name}"
                found.append((node.lineno, name if name in MODULES else target))
    return found


def upward_imports() -> list[str]:
    problems = []
    for module in MODULES:
        room = _room(module)
        for line, imported in imports_of(module):
            other = _room(imported)
            if other == room or (room, other) in MUTUAL:
                continue
            if LAYER_OF[other] >= LAYER_OF[room]:
                where = "up" if LAYER_OF[other] > LAYER_OF[room] else "across its layer"
                problems.append(
                    f"{MODULES[module].name}:{line} {module} imports {imported} ({where})"
                )
    return problems


def test_no_module_imports_up_or_across_its_layer() -> None:
    assert upward_imports() == []


def test_the_graph_walk_imports_nothing_of_chainrule() -> None:
    assert imports_of("chainrule.engine.graph") == []


def test_the_check_finds_an_upward_import(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The checker itself can fail: an op that imports the command line is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from ..cli import main\n")
    monkeypatch.setitem(MODULES, "chainrule.ops.bad", bad)
    assert upward_imports() == ["bad.py:1 chainrule.ops.bad imports chainrule.cli (up)"]


def test_every_module_is_in_a_room() -> None:
    for module in MODULES:
        _room(module)
