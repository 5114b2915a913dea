"""Build the API reference: one page per public module, one entry per public name.

The names come from each module's ``__all__`` (or, where a module has none, what it defines), so
a name added to the library appears here without anyone remembering to list it; mkdocstrings
renders each from its docstring (signature, parameters, the "Gradient:" line of each op, each
optimizer's update equations).
"""

from __future__ import annotations

import importlib
import inspect
import types

import mkdocs_gen_files

# module -> (page, what the page is for); the page's title is the module's name.
PAGES = {
    "chainrule": (
        "tensors",
        "Tensors, their operations and reverse-mode differentiation; gradient checks;"
        " compile, save and load.",
    ),
    "chainrule.nn": (
        "nn",
        "Modules, layers, activations, losses and penalties (PyTorch's conventions).",
    ),
    "chainrule.nn.functional": (
        "functional",
        "The layers and losses as functions of tensors.",
    ),
    "chainrule.nn.init": (
        "init",
        "Initialising parameters in place.",
    ),
    "chainrule.optim": (
        "optim",
        "Optimisers, each with its update equations, and gradient clipping.",
    ),
    "chainrule.optim.lr_scheduler": (
        "lr_scheduler",
        "Learning-rate schedules.",
    ),
    "chainrule.data": (
        "data",
        "Data sets, loaders, toy problems and tables.",
    ),
    "chainrule.classic": (
        "classic",
        "The perceptron, the nearest-mean classifier and the decision tree as a network.",
    ),
    "chainrule.train": (
        "train",
        "The training loop, its history, callbacks and stopping rules.",
    ),
    "chainrule.viz": (
        "viz",
        "Seeing a computation: the graph as Graphviz DOT, the backward pass explained.",
    ),
    "chainrule.diagnostics": (
        "diagnostics",
        "Vanishing and exploding gradients, dead ReLU units.",
    ),
    "chainrule.sklearn": (
        "sklearn",
        "scikit-learn estimators (extra `chainrule[sklearn]`).",
    ),
    "chainrule.distributed": (
        "distributed",
        "Data-parallel training on MPI (extra `chainrule[mpi]`).",
    ),
    "chainrule.export": (
        "export",
        "Models out of chainrule: ONNX (extra `chainrule[onnx]`).",
    ),
    "chainrule.playground": (
        "playground",
        "The browser playground's Python side.",
    ),
    "chainrule.demos": (
        "demos",
        "The lecture demonstrations behind `chainrule demo`.",
    ),
}

# The top-level package is long: its names are grouped by the module that defines them.
TOP_GROUPS = [
    ("chainrule.engine.tensor", "The Tensor"),
    ("chainrule.engine.creation", "Creating tensors"),
    ("chainrule.ops", "Operations (each with its gradient)"),
    ("chainrule.engine.derivatives", "Derivatives as functions"),
    ("chainrule.engine.graph", "Recording or not"),
    ("chainrule.check", "Gradient checks"),
    ("chainrule.compiler", "The compiled training step"),
    ("chainrule.io", "Saving and loading"),
    ("chainrule.viz", "Explaining a backward pass"),
    ("chainrule.engine", "Settings"),
]


def public_names(module: types.ModuleType) -> list[str]:
    """The module's public names that are not modules themselves."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            name
            for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
        ]
    return [
        name
        for name in names
        if not name.startswith("_") and not isinstance(getattr(module, name), types.ModuleType)
    ]


def defining_module(module: types.ModuleType, name: str) -> str:
    value = getattr(module, name)
    return getattr(value, "__module__", None) or (inspect.getmodule(value) or module).__name__


def entry(module_name: str, name: str, heading_level: int = 2) -> str:
    return f"::: {module_name}.{name}\n    options:\n      heading_level: {heading_level}\n"


def top_level_page() -> str:
    module = importlib.import_module("chainrule")
    groups: dict[str, list[str]] = {title: [] for _, title in TOP_GROUPS}
    for name in public_names(module):
        home = defining_module(module, name)
        title = next((t for prefix, t in TOP_GROUPS if home.startswith(prefix)), "Settings")
        groups[title].append(name)
    parts = []
    for title, names in groups.items():
        if names:
            parts.append(f"## {title}\n\n" + "\n".join(entry("chainrule", n, 3) for n in names))
    return "\n".join(parts)


def module_page(module_name: str) -> str:
    module = importlib.import_module(module_name)
    return "\n".join(entry(module_name, n) for n in public_names(module))


index = ["# API reference\n", "Every public name, from its docstring.\n"]
for module_name, (page, summary) in PAGES.items():
    title = module_name
    body = top_level_page() if module_name == "chainrule" else module_page(module_name)
    with mkdocs_gen_files.open(f"reference/{page}.md", "w") as out:
        out.write(f"# {title}\n\n{summary}\n\n{body}\n")
    index.append(f"- [`{title}`]({page}.md): {summary}")
with mkdocs_gen_files.open("reference/index.md", "w") as out:
    out.write("\n".join(index) + "\n")


def cli_page() -> str:
    """`chainrule --help` and each command's help, as the installed parser prints them."""
    import argparse

    from chainrule.cli.commands import build_parser

    parser = build_parser()
    parts = [
        "# Command line\n",
        "Every command and option of `chainrule`, as `--help` prints it.\n",
        "```text\n" + parser.format_help() + "```\n",
    ]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                parts.append(f"## chainrule {name}\n\n```text\n{sub.format_help()}```\n")
    return "\n".join(parts)


with mkdocs_gen_files.open("reference/cli.md", "w") as out:
    out.write(cli_page())
