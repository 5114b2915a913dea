"""The library's self-test: every differentiable op checked against finite differences.

Each op of ``chainrule.ops.__all__`` is differentiated on an example drawn from its domain in
the one table of op domains (``domains.DOMAINS``: away from kinks such as relu at 0, and from
ties in max); ``chainrule gradcheck`` runs them all and prints a table with the domain each
was checked on.
"""

from __future__ import annotations

import numpy as np

from .._text import text_table
from .domains import DOMAINS
from .gradcheck import GradcheckReport, gradcheck


def run_selfcheck(
    seed: int = 0, names: list[str] | None = None
) -> list[tuple[str, GradcheckReport]]:
    """Gradient-check each op (or those in ``names``) on random inputs from ``seed``."""
    unknown = sorted(set(names or []) - set(DOMAINS))
    if unknown:
        raise ValueError(
            f"unknown function(s) {', '.join(unknown)}; known: {', '.join(sorted(DOMAINS))}"
        )
    rng = np.random.default_rng(seed)
    results = []
    for domain in DOMAINS.values():
        inputs = domain.example_inputs(rng)  # drawn for every op, so a seed gives one set
        if names and domain.name not in names:
            continue
        results.append((domain.name, gradcheck(domain.example, *inputs)))
    return results


def format_table(results: list[tuple[str, GradcheckReport]]) -> str:
    """The results as a table: function, max abs error, max rel error, passed, and the domain
    the inputs were drawn from."""
    header = ("function", "max abs error", "max rel error", "passed", "checked on")
    rows = [
        (
            name,
            f"{report.max_abs_error:.2e}",
            f"{report.max_rel_error:.2e}",
            "yes" if report.passed else "NO",
            DOMAINS[name].describe(),
        )
        for name, report in results
    ]
    return text_table(header, rows, rule=True)
