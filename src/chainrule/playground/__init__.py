"""The browser playground: the lectures' networks trained live by chainrule, drawn by a page.

``chainrule playground`` (``cli.playground_command``) starts the server; ``Session`` is one
tab's data and model, usable without a browser; docs/playground.md states the protocol.
"""

from .session import PlaygroundError, Session
from .settings import Settings, SettingsError

__all__ = ["PlaygroundError", "Session", "Settings", "SettingsError"]
