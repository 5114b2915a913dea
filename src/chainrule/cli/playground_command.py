"""``chainrule playground``: start the server, print its address with the token, open a tab."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import webbrowser
from typing import Any

from .._text import one_line


def add_playground(commands: Any) -> None:
    playground = commands.add_parser(
        "playground",
        help="train networks live in the browser: boundary, neurons, weights, backprop",
        description="Start a local server and open the playground page: a network learns a "
        "2-D problem while you watch, trained by chainrule in the server. The first line "
        "printed is the address with its secret token.",
    )
    playground.add_argument(
        "--port",
        type=_port,
        help="port to listen on (default 8765 or the next free one; 0: any free port, printed)",
    )
    playground.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1, this computer only)",
    )
    playground.add_argument(
        "--no-browser", action="store_true", help="print the address but open no browser"
    )
    playground.add_argument("--data", metavar="FILE", help="start on a table (CSV, TSV, Parquet)")
    playground.add_argument("--target", metavar="COL", help="the table's label column")
    playground.add_argument(
        "--features",
        metavar="A,B",
        help="the table's two numeric columns for the axes (default: the first two)",
    )
    playground.set_defaults(handler=run_playground)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 (any free port) to 65535, got {value}")
    return value


def run_playground(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C, which is the normal way to stop: exit status 0 whenever it comes,
    even in the moment before the server has started."""
    try:
        return _serve(args)
    except KeyboardInterrupt:
        print("chainrule playground: stopped", file=sys.stderr)
        return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        start = _starter(args)
        from ..playground.server import Playground

        server = Playground(args.host, args.port, start)
    except ImportError as error:
        print(
            f"chainrule playground: {error.name or 'a package'} is missing; install "
            "chainrule[cli] (pip install 'chainrule[cli]')",
            file=sys.stderr,
        )
        return 1
    except (OSError, ValueError) as error:
        print(f"chainrule playground: {one_line(error)}", file=sys.stderr)
        return 1
    print(f"playground: {server.url}", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"chainrule playground: warning: listening on {args.host}, so other computers can "
            "reach this server; anyone with the address above (token included) can use it",
            file=sys.stderr,
        )
    print("Ctrl-C stops the server.", file=sys.stderr, flush=True)
    logging.basicConfig(level=logging.WARNING, format="playground: %(levelname)s: %(message)s")
    if not args.no_browser:
        threading.Timer(0.3, _open_browser, (server.url,)).start()
    server.run()
    print("chainrule playground: stopped", file=sys.stderr)
    return 0


def _open_browser(url: str) -> None:
    try:
        webbrowser.open(url)
    except Exception:  # no browser is no error: the address is printed
        pass


def _starter(args: argparse.Namespace) -> Any:
    """What each new tab starts on: the default session, or the command line's table."""
    from ..playground.protocol import Handler

    if args.data is None:
        if args.target is not None or args.features is not None:
            raise ValueError("--target and --features go with --data FILE")
        return Handler
    if args.target is None:
        raise ValueError("--data FILE needs --target COL, the label column")
    from pathlib import Path

    from ..playground.upload import UploadedTable, read_upload

    path = Path(args.data)
    if not path.is_file():
        raise ValueError(f"--data {args.data}: no such file")
    table = read_upload(path.name, path.read_bytes())
    if args.target not in table.columns:
        raise ValueError(f"--target {args.target}: {path.name} has no such column")
    axes = _axes(args.features, table, args.target)

    def start() -> Handler:
        handler = Handler()
        settings = handler.session.settings
        points = table.points(axes[0], axes[1], args.target, settings.trainRatio, settings.seed)
        handler.session.use_points(points)
        handler.upload = UploadedTable(table.name, table.frame)
        return handler

    start()  # refuse a table that cannot be shown before the server starts
    return start


def _axes(features: str | None, table: Any, target: str) -> list[str]:
    if features is not None:
        chosen = [name.strip() for name in features.split(",")]
        if len(chosen) != 2:
            raise ValueError(f"--features: give two columns, got {len(chosen)}")
        return chosen
    numeric = [name for name in table.numeric if name != target]
    if len(numeric) < 2:
        raise ValueError(f"--data {table.name}: fewer than two numeric columns besides the target")
    return numeric[:2]
