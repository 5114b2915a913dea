"""Public name of data-parallel training, which lives in ``chainrule.train.distributed``."""

from .train.distributed import *  # noqa: F403
from .train.distributed import __all__  # noqa: F401
