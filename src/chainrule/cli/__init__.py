"""The ``chainrule`` command: its subcommands (``commands``), what ``chainrule train`` does
(``train_command``: load, build, train, write) and the run folders it writes (``run_folder``)."""

from .commands import main

__all__ = ["main"]
