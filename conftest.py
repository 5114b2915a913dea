"""Test collection: modules whose optional dependency is not installed are not imported by the
doctest collector (their own tests skip with a reason instead)."""

import importlib.util

collect_ignore = [
    path
    for path, module in (
        ("src/chainrule/sklearn", "sklearn"),
        ("src/chainrule/distributed.py", "mpi4py"),
    )
    if importlib.util.find_spec(module) is None
]
