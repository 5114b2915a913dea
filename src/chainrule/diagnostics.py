"""Public name of the gradient diagnostics, which live in ``chainrule.viz.diagnostics``."""

from .viz.diagnostics import *  # noqa: F403
from .viz.diagnostics import __all__  # noqa: F401
