"""The ``chainrule`` command line. It only parses arguments and calls library functions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def _gradcheck(args: argparse.Namespace) -> int:
    from .selfcheck import format_table, run_selfcheck

    names = [name.strip() for name in args.ops.split(",")] if args.ops else None
    try:
        results = run_selfcheck(seed=args.seed, names=names)
    except ValueError as error:
        print(f"chainrule gradcheck: {error}", file=sys.stderr)
        return 2
    print(format_table(results))
    failed = [name for name, report in results if not report.passed]
    if failed:
        print(f"\n{len(failed)} of {len(results)} functions FAILED: {', '.join(failed)}")
        for name, report in results:
            if not report.passed:
                print(f"\n{name}:\n{report}")
        return 1
    print(
        f"\nall {len(results)} differentiable functions agree with central finite differences "
        "(float64)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule", description="Neural networks from first principles on NumPy."
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "gradcheck",
        help="check every differentiable function against finite differences",
        description="Compare each differentiable function's gradient with central finite "
        "differences in float64 on random inputs, and print a table.",
    )
    check.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    check.add_argument(
        "--ops", help="comma-separated names of the functions to check (default: all)"
    )
    check.set_defaults(handler=_gradcheck)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
