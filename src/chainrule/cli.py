"""The ``chainrule`` command line. It only parses arguments and calls library functions."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

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


def _train(args: argparse.Namespace) -> int:
    from . import distributed as mpi
    from .experiment import RunConfig, run
    from .train import TrainingDiverged

    distributed = mpi.launched_by_mpi()  # mpirun -n K chainrule train ...: one model, K ranks

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
    if args.resume and args.out is None:
        print("chainrule train: --resume needs --out DIR of the run to continue", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("runs") / time.strftime("%Y%m%d-%H%M%S")
    if args.resume and not (out / "checkpoint.npz").exists():
        print(
            f"chainrule train: no checkpoint in {out} yet; starting from the beginning",
            file=sys.stderr,
        )
    try:
        result = run(
            config,
            out,
            resume=args.resume,
            progress=not args.quiet,
            animate=args.animate,
            distributed=distributed,
        )
    except (FileNotFoundError, ValueError, TrainingDiverged) as error:
        if distributed:  # end all ranks, rather than leave the others waiting for this one
            mpi.abort(f"chainrule train: {error}")
        print(f"chainrule train: {error}", file=sys.stderr)
        return 1
    if distributed and not mpi.is_main():
        return 0  # rank 0 reports
    history = result.history
    print(
        f"{args.data}: {history.epochs} epochs in {sum(history.epoch_seconds):.1f} s, "
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


def _explain(args: argparse.Namespace) -> int:
    import json

    from .explain import explain, worked_example

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
    import numpy as np

    from . import io
    from ._graph import no_grad

    try:
        model = io.load(args.model)
        inputs = (
            np.load(args.input, allow_pickle=False)
            if args.input.endswith(".npy")
            else np.loadtxt(args.input, delimiter=",", ndmin=2)
        )
    except (OSError, ValueError) as error:
        print(f"chainrule predict: {error}", file=sys.stderr)
        return 1
    inputs = inputs.reshape(len(inputs), -1).astype(np.float32)
    try:
        with no_grad():
            scores = model.eval()(inputs).data
    except ValueError as error:
        print(f"chainrule predict: {error}", file=sys.stderr)
        return 1
    for label in scores.argmax(axis=1):
        print(int(label))
    return 0


def _info(args: argparse.Namespace) -> int:
    from . import io

    try:
        model = io.load(args.model)
        stored = io.load_metadata(args.model)
    except (OSError, ValueError) as error:
        print(f"chainrule info: {error}", file=sys.stderr)
        return 1
    print(model)
    print(f"parameters: {model.num_parameters():,}")
    for key, value in stored["metadata"].items():
        print(f"{key}: {value}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import textwrap

    from .demos import DEMOS, listing

    if args.list or args.name is None:
        print(listing())
        return 0
    demo = DEMOS[args.name]
    if args.animate and not demo.animated:
        print(f"chainrule demo: {demo.name} has no animation; --animate ignored", file=sys.stderr)
    out = Path(args.out) if args.out else Path(f"demo-{demo.name}")
    try:
        result = demo.run(out, seed=args.seed, animate=args.animate and demo.animated)
    except ImportError as error:
        print(f"chainrule demo: {error}", file=sys.stderr)
        return 1
    print(textwrap.fill(result.summary(), width=100))
    details = result.details()
    if details:
        print()
        print(details)
    print()
    print("wrote:")
    for path in result.files:
        print(f"  {path}")
    return 0


def _int_list(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated widths like 256,128, got {text!r}"
        ) from None
    if any(size <= 0 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return sizes


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .demos import DEMOS
    from .experiment import DATASETS, OPTIMIZERS
    from .nn.models import ACTIVATIONS

    parser = argparse.ArgumentParser(
        prog="chainrule", description="Neural networks from first principles on NumPy."
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train an MLP (on the built-in digits by default) and write model, metrics, plots",
        description="Train a multilayer perceptron and write the model, metrics.json, a "
        "checkpoint and PNG plots to --out (default runs/<timestamp>/).",
    )
    train.add_argument("--data", choices=DATASETS, default="digits")
    train.add_argument("--data-path", help="folder with the IDX files (Fashion-MNIST, MNIST)")
    train.add_argument("--hidden", type=_int_list, help="hidden layer widths, e.g. 256,128")
    train.add_argument("--activation", choices=sorted(ACTIVATIONS))
    train.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    train.add_argument("--lr", type=_positive_float, help="learning rate")
    train.add_argument("--momentum", type=float, default=0.0, help="for sgd and rmsprop")
    train.add_argument("--weight-decay", type=float, default=0.0)
    train.add_argument("--epochs", type=_positive_int)
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="output folder")
    train.add_argument("--resume", action="store_true", help="continue the run in --out")
    train.add_argument("--animate", action="store_true", help="GIF of the boundary (2-D data)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--param-tol",
        type=_positive_float,
        metavar="EPS",
        help="stop when an epoch changes the parameters by at most EPS (Euclidean norm)",
    )
    train.add_argument(
        "--grad-tol",
        type=_positive_float,
        metavar="EPS",
        help="stop when the epoch's mean gradient has norm at most EPS",
    )
    train.add_argument(
        "--max-norm",
        type=_positive_float,
        metavar="C",
        help="max-norm regularisation: keep each unit's incoming weights at norm <= C",
    )
    train.add_argument(
        "--diagnose",
        action="store_true",
        help="report layers with vanishing or exploding gradients and dead ReLU units",
    )
    train.set_defaults(handler=_train)

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

    predict = commands.add_parser(
        "predict", help="print the predicted class of each row of INPUT (.npy or .csv)"
    )
    predict.add_argument("model")
    predict.add_argument("input")
    predict.set_defaults(handler=_predict)

    info = commands.add_parser("info", help="show a saved model's architecture and metadata")
    info.add_argument("model")
    info.set_defaults(handler=_info)

    explain = commands.add_parser(
        "explain",
        help="show the backward pass of a small worked example, step by step",
        description="Backpropagation through a 2-2-1 sigmoid network written neuron by neuron, "
        "as a table: each node's value, the delta it received and what it passed on.",
    )
    explain.add_argument("--format", choices=("text", "markdown", "html", "json"), default="text")
    explain.set_defaults(handler=_explain)

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
    demo.add_argument("--out", metavar="DIR", help="output folder (default ./demo-NAME)")
    demo.add_argument("--animate", action="store_true", help="also write a GIF, where it helps")
    demo.add_argument(
        "--seed", metavar="N", type=int, default=0, help="seed of the data and the weights"
    )
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except BrokenPipeError:
        # The reader went away (``chainrule explain | head``): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
