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
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn, TypeAlias

import numpy as np

from .._text import counted
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
        TOY_SETS,
        RunAlreadyFinished,
        RunConfig,
        RunFailed,
        RunInterrupted,
        run,
    )

    distributed = mpi.launched_by_mpi()  # mpirun -n K chainrule train ...: one model, K ranks
    data = args.data or (None if args.resume else "digits")  # a resumed run keeps its data
    if args.animate and data is not None and data not in TOY_SETS:
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
    )
    try:
        with _termination_as_interrupt():
            result = run(
                config,
                args.out,
                resume=args.resume,
                progress=not args.quiet,
                animate=args.animate,
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
    except (OSError, ValueError, TrainingDiverged, RunFailed, ModelFileError) as error:
        message = f"chainrule train: {_one_line(error)}"
        if distributed:  # end all ranks, rather than leave the others waiting for this one
            mpi.abort(message)
        print(message, file=sys.stderr)
        return 1
    if distributed and not mpi.is_main():
        return 0  # rank 0 reports
    history = result.history
    name = result.config.data if result.config is not None else args.data
    print(
        f"{name}: {counted(history.epochs, 'epoch')} in {sum(history.epoch_seconds):.1f} s, "
        f"final training loss {history.train_loss[-1]:.4f}, "
        f"validation accuracy {history.val_accuracy[-1]:.2%}"
    )
    if history.stopped_by != "max_epochs":
        print(f"stopped by: {history.stopped_by.replace('_', ' ')}")
    print(f"test accuracy: {result.test_accuracy:.2%}")
    if result.diagnosis is not None:
        print(result.diagnosis)
    print(f"wrote {', '.join(str(path) for path in result.files)}")
    return 0


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


def _one_line(error: BaseException) -> str:
    """The error's message on one line (an OSError without a file name gets its reason)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split())


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
    from .. import io
    from ..data import read_matrix
    from ..engine.graph import no_grad

    try:
        model, metadata = io.load_with_metadata(args.model)
        io.check_finite(model, args.model)
        inputs = read_matrix(args.input)
    except (OSError, ValueError) as error:
        print(f"chainrule predict: {_one_line(error)}", file=sys.stderr)
        return 1
    expected = _input_width(io.describe(model))
    if expected is not None and inputs.shape[1] != expected:
        print(
            f"chainrule predict: {args.input}: each row has {counted(inputs.shape[1], 'value')}, "
            f"and the model {args.model} takes {counted(expected, 'input')}",
            file=sys.stderr,
        )
        return 1
    dtype = _parameter_dtype(model)
    problem = _outside_range(inputs, dtype)
    if problem:
        print(f"chainrule predict: {args.input}: {problem}", file=sys.stderr)
        return 1
    try:
        # Overflow shows in the outputs, which are checked below; NumPy's warning adds nothing.
        with no_grad(), np.errstate(over="ignore", invalid="ignore"):
            scores = model.eval()(inputs.astype(dtype)).data
    except ValueError as error:
        print(f"chainrule predict: {_one_line(error)}", file=sys.stderr)
        return 1
    problem = _unusable_scores(scores, metadata.get("classes"))
    if problem:
        print(f"chainrule predict: {args.model}: {problem}", file=sys.stderr)
        return 1
    # One output: a probability (a model ending in Sigmoid) splits at 0.5, a score or logit at 0.
    threshold = 0.5 if _last_layer(io.describe(model)) == "Sigmoid" else 0.0
    labels = (
        scores.argmax(axis=1) if scores.ndim == 2 and scores.shape[1] > 1 else scores > threshold
    )
    for label in labels.reshape(-1):
        print(int(label))
    return 0


def _outside_range(inputs: np.ndarray, dtype: np.dtype[Any]) -> str:
    """Why ``inputs`` cannot be given to a model computing in ``dtype`` (a value beyond its
    largest number would become infinite), or ''."""
    if dtype.kind != "f":
        return ""
    largest = float(np.finfo(dtype).max)
    beyond = np.abs(inputs) > largest
    if not beyond.any():
        return ""
    row, column = (int(i) for i in np.argwhere(beyond)[0])
    return (
        f"row {row + 1}, column {column + 1}: {inputs[row, column]:g} is beyond the largest "
        f"{dtype} number ({largest:.3g}) the model computes with "
        f"({counted(int(beyond.sum()), 'such value')})"
    )


def _unusable_scores(scores: np.ndarray, classes: object) -> str:
    """Why the model's outputs give no class labels (not finite, or fewer or more outputs
    than the classes its metadata names), or ''."""
    if not np.isfinite(scores).all():
        row = int(np.argwhere(~np.isfinite(scores))[0][0])
        return (
            f"its outputs are not finite for input row {row + 1} (values too large for it?), so "
            "no class can be given"
        )
    width = scores.shape[1] if scores.ndim == 2 else 1
    if isinstance(classes, int) and not isinstance(classes, bool) and classes >= 2:
        if width != (1 if classes == 2 and width == 1 else classes):
            return f"the network has {width} outputs, but its metadata names {classes} classes"
    return ""


def _last_layer(architecture: object) -> str | None:
    """The type of a described model's last layer (None for a custom Module)."""
    while isinstance(architecture, dict) and architecture.get("type") == "Sequential":
        layers = architecture.get("layers") or [None]
        architecture = layers[-1]
    return architecture.get("type") if isinstance(architecture, dict) else None


def _input_width(architecture: object) -> int | None:
    """How many inputs a described model takes: its first Linear layer's in_features."""
    stack = [architecture]
    while stack:
        entry = stack.pop()
        if isinstance(entry, dict):
            if entry.get("type") == "Linear":
                width = entry.get("in_features")
                return width if isinstance(width, int) else None
            if entry.get("type") == "Sequential":
                stack.extend(reversed(entry.get("layers", [])))
    return None


def _parameter_dtype(model: object) -> np.dtype[Any]:
    import numpy as np

    parameters = list(model.parameters())  # type: ignore[attr-defined]
    return np.dtype(parameters[0].dtype if parameters else np.float32)


def _info(args: argparse.Namespace) -> int:
    from .. import io

    try:
        model, metadata = io.load_with_metadata(args.model)
        io.check_finite(model, args.model)
    except (OSError, ValueError) as error:
        print(f"chainrule info: {_one_line(error)}", file=sys.stderr)
        return 1
    print(model)
    print(f"parameters: {model.num_parameters():,}")
    for key, value in metadata.items():
        print(f"{key}: {value}")
    return 0


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


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated names like relu,tanh; empty name in {text!r}"
        )
    return names


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
    for add in (_add_train, _add_gradcheck, _add_predict_and_info, _add_explain, _add_demo):
        add(commands)
    return parser


# The subcommands of the parser (a string: argparse's class is not subscriptable at run time).
Subcommands: TypeAlias = "argparse._SubParsersAction[_OneLineErrors]"


def _add_train(commands: Subcommands) -> None:
    from ..nn.models import ACTIVATIONS
    from .train_command import DATASETS, OPTIMIZERS

    train = commands.add_parser(
        "train",
        help="train an MLP (on the built-in digits by default) and write model, metrics, plots",
        description="Train a multilayer perceptron and write the model, metrics.json, a "
        "checkpoint and PNG plots to --out (default runs/<timestamp>/).",
    )
    train.add_argument("--data", choices=DATASETS, help="data set (default digits)")
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
        "predict", help="print the predicted class of each row of INPUT (.npy or .csv)"
    )
    predict.add_argument("model", type=_path)
    predict.add_argument("input", type=_path)
    predict.set_defaults(handler=_predict)

    info = commands.add_parser("info", help="show a saved model's architecture and metadata")
    info.add_argument("model", type=_path)
    info.set_defaults(handler=_info)


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
