"""The ``chainrule`` command line. It only parses arguments and calls library functions."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn, TypeAlias

import numpy as np

from .._text import counted, one_line
from .._version import __version__


def _gradcheck(args: argparse.Namespace) -> int:
    from ..check.selfcheck import format_table, run_selfcheck

    names = args.ops
    try:
        results = run_selfcheck(seed=args.seed, names=names)
    except ValueError as error:
        print(f"chainrule gradcheck: --ops: {error}", file=sys.stderr)
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
        f"\nall {counted(len(results), 'differentiable function')} agree with central finite "
        "differences (float64)"
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    from ..io import ModelFileError
    from ..train import TrainingDiverged
    from ..train import distributed as mpi
    from .train_command import (
        DATASETS,
        TOY_SETS,
        RunAlreadyFinished,
        RunConfig,
        RunFailed,
        RunInterrupted,
        run,
    )

    distributed = mpi.launched_by_mpi()  # mpirun -n K chainrule train ...: one model, K ranks
    data = args.data or (None if args.resume else "digits")  # a resumed run keeps its data
    if args.animate and data in DATASETS and data not in TOY_SETS:  # a table may be 2-D
        print(
            f"chainrule train: --animate draws the boundary of 2-D data ({', '.join(TOY_SETS)}); "
            f"{data} is not 2-D, so it is ignored",
            file=sys.stderr,
        )
    config = RunConfig(
        data=args.data,
        hidden=args.hidden,
        activation=args.activation,
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        data_path=args.data_path,
        param_tol=args.param_tol,
        grad_tol=args.grad_tol,
        max_norm=args.max_norm,
        diagnose=args.diagnose,
        target=args.target,
        features=args.features,
        task=args.task,
        test_fraction=args.test_fraction,
        test=args.test,
        val_fraction=args.val_fraction,
        compile=False if args.no_compile else None,
    )
    try:
        with _termination_as_interrupt():
            result = run(
                config,
                args.out,
                resume=args.resume,
                progress=not args.quiet,
                animate=args.animate,
                plots=not args.no_plots,
                distributed=distributed,
            )
    except RunAlreadyFinished as finished:
        print(f"chainrule train: {finished}")
        return 0
    except RunInterrupted as interrupted:
        message = f"chainrule train: {interrupted}"
        if distributed:  # end all ranks, rather than leave the others in a collective
            mpi.abort(message, code=130)
        print(f"\n{message}", file=sys.stderr)
        return 130
    except (OSError, ValueError, ImportError, TrainingDiverged, RunFailed, ModelFileError) as error:
        message = f"chainrule train: {_one_line(error)}"
        if distributed:  # end all ranks, rather than leave the others waiting for this one
            mpi.abort(message)
        print(message, file=sys.stderr)
        return 1
    if distributed and not mpi.is_main():
        return 0  # rank 0 reports
    _print_result(result, args.data)
    return 0


def _print_result(result: Any, data: str | None) -> None:
    """What a finished run achieved: epochs, losses, and the test metrics (beside their
    baselines, for a table)."""
    from .table_run import summary

    history = result.history
    name = result.config.data if result.config is not None else data
    validation = ""
    if history.val_accuracy:
        validation = f", validation accuracy {history.val_accuracy[-1]:.2%}"
    elif history.val_loss:
        validation = f", validation loss {history.val_loss[-1]:.4f}"
    print(
        f"{name}: {counted(history.epochs, 'epoch')} in {sum(history.epoch_seconds):.1f} s, "
        f"final training loss {history.train_loss[-1]:.4f}{validation}"
    )
    if history.stopped_by != "max_epochs":
        print(f"stopped by: {history.stopped_by.replace('_', ' ')}")
    if result.table is None:
        print(f"test accuracy: {result.test_accuracy:.2%}")
    else:
        for line in summary(result.table):
            print(line)
    if result.diagnosis is not None:
        print(result.diagnosis)
    print(f"wrote {', '.join(str(path) for path in result.files)}")


@contextlib.contextmanager
def _termination_as_interrupt() -> Iterator[None]:
    """Stop on SIGTERM (``kill``, a job scheduler's time limit) as on Ctrl-C: the run keeps its
    last checkpoint, leaves no temporary file or lock, and says how to resume."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_one_line = one_line


def _explain(args: argparse.Namespace) -> int:
    import json

    from ..viz.explain import explain, worked_example

    loss, names = worked_example()
    explanation = explain(loss, names=names)
    if args.format == "markdown":
        print(explanation.to_markdown())
    elif args.format == "html":
        print(explanation.to_html())
    elif args.format == "json":
        print(json.dumps(explanation.records(), indent=1))
    else:
        print(WORKED_EXAMPLE_INTRO)
        print(explanation)
    return 0


WORKED_EXAMPLE_INTRO = """\
A 2-2-1 network written neuron by neuron: inputs x1 = 0.5, x2 = -1.5; hidden neurons
z_j = w_j1 x1 + w_j2 x2, a_j = sigmoid(z_j); output z3 = v1 a1 + v2 a2, y = sigmoid(z3); error
E = (y - 1)^2 / 2. Read the table from the top: each row is one step of the backward pass. The
"δ received" column is dE/d(node): at z3 it is the output delta (y - t) y (1 - y), at z1 and z2
the hidden deltas sigmoid'(z_j) v_j δ3; a weight's δ is its gradient (e.g. dE/dw11 = x1 δ1).
"""


def _predict(args: argparse.Namespace) -> int:
    from .predict_command import predict

    return predict(args.model, args.input, args.out)


def _info(args: argparse.Namespace) -> int:
    from .predict_command import info

    return info(args.model, as_json=args.json)


def _export(args: argparse.Namespace) -> int:
    from .export_command import export

    return export(args.model, args.format, args.out)


def _demo(args: argparse.Namespace) -> int:
    import textwrap

    from ..demos import DEMOS, listing
    from .run_folder import RunFolderError, prepare_output_folder

    if args.list or args.name is None:
        ignored = [
            flag
            for flag, given in (
                ("NAME", args.name is not None),
                ("--out", args.out is not None),
                ("--animate", args.animate),
                ("--seed", args.seed != 0),
            )
            if given
        ]
        if ignored:
            print(
                f"chainrule demo: listing the demonstrations; {', '.join(ignored)} ignored "
                "(without --list, NAME runs one)",
                file=sys.stderr,
            )
        print(listing())
        return 0
    demo = DEMOS[args.name]
    if args.animate and not demo.animated:
        print(f"chainrule demo: {demo.name} has no animation; --animate ignored", file=sys.stderr)
    try:
        if args.out is None:
            out = prepare_output_folder(f"demo-{demo.name}", numbered=True)
        else:
            out = prepare_output_folder(args.out)
        result = demo.run(out, seed=args.seed, animate=args.animate and demo.animated)
    except (ImportError, OSError, RunFolderError) as error:
        print(f"chainrule demo: {_one_line(error)}", file=sys.stderr)
        return 1
    # Lines break at spaces only: a package name or a path is never split at its hyphens.
    print(
        textwrap.fill(result.summary(), width=100, break_on_hyphens=False, break_long_words=False)
    )
    details = result.details()
    if details:
        print()
        print(details)
    print()
    print("wrote:")
    for path in result.files:
        print(f"  {path}")
    return 0


# Numbers on the command line are plain ASCII: Python's int() and float() also take "1_0" and
# other scripts' digits, which a user typing them meant otherwise (or did not mean at all).
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(
    r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|nan)", re.I
)


def _int_list(text: str) -> list[int]:
    parts = text.split(",")
    example = "expected comma-separated widths like 256,128"
    for position, part in enumerate(parts, start=1):
        if not part.strip():
            where = f" at position {position}" if len(parts) > 1 else ""
            raise argparse.ArgumentTypeError(f"{example}; empty width{where} in {text!r}")
        if not _INTEGER.fullmatch(part.strip()):
            raise argparse.ArgumentTypeError(f"{example}; {part!r} is not a whole number")
    sizes = [int(part) for part in parts]
    if any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return sizes


def _integer(text: str, what: str) -> int:
    if not _INTEGER.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return int(text)


def _positive_int(text: str) -> int:
    value = _integer(text, "a positive integer")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    value = _integer(text, "a non-negative integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _path(text: str) -> str:
    """A path the user gave: an empty one is almost always an unset shell variable."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path (an unset shell variable?)")
    return text


def _data(text: str) -> str:
    """A built-in data set's name, or what looks like a table file's path."""
    from ..data.table import is_table_path
    from .train_command import DATASETS

    if text in DATASETS or (text.strip() and is_table_path(text)):
        return text
    raise argparse.ArgumentTypeError(
        f"unknown data set {text!r}; choose from {', '.join(DATASETS)}, or give the path of a "
        "table (CSV, TSV or Parquet)"
    )


def _comma_separated(example: str) -> Callable[[str], list[str]]:
    """A parser of comma-separated names; ``example`` shows the form in its message."""

    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",")]
        if not all(names):
            raise argparse.ArgumentTypeError(
                f"expected comma-separated names like {example}; empty name in {text!r}"
            )
        return names

    return parse


_names = _comma_separated("relu,tanh")
_columns = _comma_separated("age,income")


# A positive setting smaller than this is lost in float32 arithmetic (subnormal or zero), so
# a run with it would silently learn nothing.
_SMALLEST = float(np.finfo(np.float32).tiny)


def _number(text: str, low: float, high: float, *, low_open: bool, high_open: bool) -> float:
    """A finite number in the interval; the message states the interval."""
    if not _DECIMAL.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    value = float(text)
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    interval = f"{left}{low:g}, {high:g}{right}"
    inside = (value > low if low_open else value >= low) and (
        value < high if high_open else value <= high
    )
    if not math.isfinite(value) or not inside:
        raise argparse.ArgumentTypeError(f"expected a finite number in {interval}, got {text!r}")
    if 0 < abs(value) < _SMALLEST:
        raise argparse.ArgumentTypeError(
            f"{text!r} is too small for float32 arithmetic (below {_SMALLEST:.3g}), so it would "
            "have no effect; use 0 or a larger value"
        )
    return value


# The ranges accepted on the command line. An upper bound that no sensible run reaches keeps
# values such as 1e300 from overflowing the first update; the API has its own checks.
def _test_fraction(text: str) -> float:
    return _number(text, 0, 0.9, low_open=True, high_open=False)


def _val_fraction(text: str) -> float:
    return _number(text, 0, 0.9, low_open=False, high_open=False)


def _learning_rate(text: str) -> float:
    return _number(text, 0, 1e3, low_open=True, high_open=False)


def _momentum(text: str) -> float:
    return _number(text, 0, 1, low_open=False, high_open=True)


def _weight_decay(text: str) -> float:
    return _number(text, 0, 1e3, low_open=False, high_open=False)


def _tolerance(text: str) -> float:
    return _number(text, 0, 1e30, low_open=True, high_open=False)


class _OneLineErrors(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line: what was wrong, and where to read more.

    argparse's default prints the whole usage block first, a dozen lines in which the one that
    matters comes last.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(
        prog="chainrule", description="Neural networks from first principles on NumPy."
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    from .playground_command import add_playground

    for add in (
        _add_train,
        _add_gradcheck,
        _add_predict_and_info,
        _add_explain,
        _add_demo,
        add_playground,
    ):
        add(commands)
    return parser


# The subcommands of the parser (a string: argparse's class is not subscriptable at run time).
Subcommands: TypeAlias = "argparse._SubParsersAction[_OneLineErrors]"


def _add_train(commands: Subcommands) -> None:
    from ..data.table import TASKS
    from ..nn.models import ACTIVATIONS
    from .train_command import DATASETS, OPTIMIZERS

    train = commands.add_parser(
        "train",
        help="train an MLP (on the built-in digits by default) and write model, metrics, plots",
        description="Train a multilayer perceptron and write the model, metrics.json, a "
        "checkpoint and PNG plots to --out (default runs/<timestamp>/).",
    )
    train.add_argument(
        "--data",
        type=_data,
        metavar="NAME|FILE",
        help=f"a built-in data set ({', '.join(DATASETS)}; default digits), or a table of your "
        "own: a CSV, TSV (either gzipped) or Parquet file, with --target",
    )
    train.add_argument("--target", metavar="COL", help="the table's column to predict")
    train.add_argument(
        "--features",
        type=_columns,
        metavar="A,B,...",
        help="the table's columns to predict from (default: every other column that can help)",
    )
    train.add_argument(
        "--task",
        choices=TASKS,
        help="auto (default): text, true/false and whole numbers with few values are classified, "
        "other numbers regressed",
    )
    train.add_argument(
        "--test-fraction",
        type=_test_fraction,
        metavar="F",
        help="share of a table's rows kept for the test (default 0.2), stratified by class",
    )
    train.add_argument(
        "--test", type=_path, metavar="FILE", help="a separate table of test rows, same columns"
    )
    train.add_argument(
        "--val-fraction",
        type=_val_fraction,
        metavar="F",
        help="share of the training rows used for validation (default 0.1; 0: none)",
    )
    train.add_argument(
        "--data-path",
        metavar="DIR",
        type=_path,
        help="folder with the IDX files of fashion-mnist or mnist (then the only place looked in)",
    )
    train.add_argument("--hidden", type=_int_list, help="hidden layer widths, e.g. 256,128")
    train.add_argument("--activation", choices=sorted(ACTIVATIONS))
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help="default adam")
    train.add_argument("--lr", type=_learning_rate, help="learning rate, in (0, 1000]")
    train.add_argument(
        "--momentum", type=_momentum, help="in [0, 1); for sgd and rmsprop only (default 0)"
    )
    train.add_argument("--weight-decay", type=_weight_decay, help="L2 penalty (default 0)")
    train.add_argument("--epochs", type=_positive_int, help="epochs to train (up to, on --resume)")
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--seed", type=_seed, help="non-negative integer (default 0)")
    train.add_argument(
        "--out",
        metavar="DIR",
        type=_path,
        help="output folder, new or empty (default runs/<timestamp>); a run there is never "
        "replaced",
    )
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint, with the settings it was started "
        "with; --epochs, --lr, --momentum, --weight-decay and the stopping rules may change",
    )
    train.add_argument("--animate", action="store_true", help="GIF of the boundary (2-D data)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--no-compile",
        action="store_true",
        help="train eagerly, building the graph of every batch (default: the compiled step, "
        "the same numbers to float32 rounding, faster)",
    )
    train.add_argument("--no-plots", action="store_true", help="write no PNG (faster)")
    train.add_argument(
        "--param-tol",
        type=_tolerance,
        metavar="EPS",
        help="stop when an epoch changes the parameters by at most EPS (Euclidean norm)",
    )
    train.add_argument(
        "--grad-tol",
        type=_tolerance,
        metavar="EPS",
        help="stop when the epoch's mean gradient has norm at most EPS",
    )
    train.add_argument(
        "--max-norm",
        type=_tolerance,
        metavar="C",
        help="max-norm regularisation: keep each unit's incoming weights at norm <= C",
    )
    train.add_argument(
        "--diagnose",
        action="store_true",
        help="report layers with vanishing or exploding gradients and dead ReLU units",
    )
    train.set_defaults(handler=_train)


def _add_gradcheck(commands: Subcommands) -> None:
    check = commands.add_parser(
        "gradcheck",
        help="check every differentiable function against finite differences",
        description="Compare each differentiable function's gradient with central finite "
        "differences in float64 on random inputs, and print a table.",
    )
    check.add_argument("--seed", type=_seed, default=0, help="seed of the random inputs")
    check.add_argument(
        "--ops",
        type=_names,
        help="comma-separated names of the functions to check (default: all)",
    )
    check.set_defaults(handler=_gradcheck)


def _add_predict_and_info(commands: Subcommands) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict each row of INPUT: a table with a header for a table model (CSV out), "
        "numeric rows (.npy or .csv) for the others (a class per line)",
    )
    predict.add_argument("model", type=_path)
    predict.add_argument("input", type=_path)
    predict.add_argument(
        "--out", type=_path, metavar="FILE", help="write there (a new file) instead of stdout"
    )
    predict.set_defaults(handler=_predict)

    info = commands.add_parser(
        "info",
        help="show a saved model's architecture, metadata and the PyTorch code that loads it",
    )
    info.add_argument("model", type=_path)
    info.add_argument("--json", action="store_true", help="print it all as one JSON object instead")
    info.set_defaults(handler=_info)

    export = commands.add_parser(
        "export",
        help="write a saved model as ONNX (needs chainrule[onnx]); a table model's graph "
        "takes the raw columns",
    )
    export.add_argument("model", type=_path)
    export.add_argument("--format", choices=["onnx"], default="onnx")
    export.add_argument(
        "--out", type=_path, metavar="FILE", help="a new file (default: MODEL with .onnx)"
    )
    export.set_defaults(handler=_export)


def _add_explain(commands: Subcommands) -> None:
    explain = commands.add_parser(
        "explain",
        help="show the backward pass of a small worked example, step by step",
        description="Backpropagation through a 2-2-1 sigmoid network written neuron by neuron, "
        "as a table: each node's value, the delta it received and what it passed on.",
    )
    explain.add_argument("--format", choices=("text", "markdown", "html", "json"), default="text")
    explain.set_defaults(handler=_explain)


def _add_demo(commands: Subcommands) -> None:
    from ..demos import DEMOS

    demo = commands.add_parser(
        "demo",
        help="lecture demonstrations: figures (and GIFs) with a few sentences about them",
        description="Run one of the lecture demonstrations: it trains what it shows in a few "
        "seconds, writes PNG figures (and a GIF with --animate) to --out, and says in a few "
        "sentences what they show. Without NAME, or with --list, list the demonstrations.",
    )
    demo.add_argument(
        "name", nargs="?", choices=list(DEMOS), metavar="NAME", help="which demonstration (--list)"
    )
    demo.add_argument("--list", action="store_true", help="list the demonstrations")
    demo.add_argument(
        "--out",
        metavar="DIR",
        type=_path,
        help="new or empty output folder (default ./demo-NAME, or demo-NAME-2... when taken)",
    )
    demo.add_argument("--animate", action="store_true", help="also write a GIF, where it helps")
    demo.add_argument(
        "--seed", metavar="N", type=_seed, default=0, help="seed of the data and the weights"
    )
    demo.set_defaults(handler=_demo)


class _OutputFailed(Exception):
    """Writing to standard output failed (a full disk, /dev/full, a device error)."""


class _GuardedOutput:
    """Standard output whose write errors are told apart from every other OSError: a command
    reports them in one line instead of a traceback."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            written = self._stream.write(text)
            return len(text) if written is None else int(written)
        except BrokenPipeError:
            raise
        except OSError as error:
            raise _OutputFailed(error.strerror or str(error)) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as error:
            raise _OutputFailed(error.strerror or str(error)) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _discard_standard_output(stdout: Any) -> None:
    """Point standard output at the null device, so that the text still waiting in its buffer
    is not written (and fails again) when the interpreter exits."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stdout.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):  # no file descriptor (captured in tests)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(argv)
    stdout = sys.stdout
    if stdout is not None:  # None when the process was started with standard output closed
        sys.stdout = _GuardedOutput(stdout)
    try:
        code = int(args.handler(args))
        if sys.stdout is not None:
            sys.stdout.flush()  # now, so that a full disk is reported here and not at exit
        return code
    except BrokenPipeError:
        # The reader went away (``chainrule explain | head``): stop quietly, as Unix tools do.
        _discard_standard_output(stdout)
        return 0
    except _OutputFailed as error:
        _discard_standard_output(stdout)
        print(f"chainrule {args.command}: cannot write the output: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nchainrule {args.command}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(
            f"chainrule {args.command}: out of memory; try smaller settings (layers, batch)",
            file=sys.stderr,
        )
        return 1
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    raise SystemExit(main())
