"""The folder a training run writes into: checked and claimed before any work, never another's.

Rules, in the order they are checked:

- the path and each existing folder above it are folders (not files), and the run can create
  and write files there (proved by creating its lock file, not guessed from permission bits);
- a fresh run starts only in a new or empty folder: a folder that holds a run, finished or not,
  or anything else, is refused, so no run replaces another's files or leaves its plots beside
  them;
- ``--resume`` continues the run whose checkpoint is in the folder; a folder without a
  checkpoint but with other files (a model whose checkpoint is gone, say) is refused;
- one run at a time: a lock file holds the process id while the run works, so a second run
  started on the same folder is refused while the first is alive (a lock left by a killed
  process is taken over);
- the default folder ``runs/<timestamp>`` gets a ``-2``, ``-3``... suffix when a run started in
  the same second already took the name (the name is claimed with an exclusive ``mkdir``).

A fresh run that fails or is interrupted before its first checkpoint leaves nothing behind
(``discard``): only what it created is removed, never anything that was there before.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..io import MODEL_NAMES

CHECKPOINT = "checkpoint.safetensors"
# A run's model by the name a run writes now, and the first format's (.npz) name: a run of the
# first format keeps its names when it is resumed, so that its checkpoint and model stay a pair.
MODEL, LEGACY_MODEL = MODEL_NAMES
LEGACY_CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.json"
LOCK = ".chainrule-run.lock"


class RunFolderError(ValueError):
    """An output folder a run cannot use; the message names the folder and the reason."""


@dataclass
class RunFolder:
    """A claimed output folder. ``has_checkpoint``: a run to continue is there (``--resume``);
    ``finished``: that run also wrote its model and metrics."""

    path: Path
    has_checkpoint: bool = False
    finished: bool = False
    created: list[Path] = field(default_factory=list)

    @property
    def checkpoint(self) -> Path:
        return run_files(self.path)[0]

    @property
    def model(self) -> Path:
        return run_files(self.path)[1]

    def release(self) -> None:
        """Give up the lock; the folder and the run's files stay."""
        (self.path / LOCK).unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove everything this run wrote (the folder was new or empty when claimed) and the
        folders it created; then the lock."""
        if self.has_checkpoint:
            raise RuntimeError("discard() of a resumed run would delete the run it continued")
        for entry in self.path.iterdir():
            if entry.name != LOCK and (entry.is_file() or entry.is_symlink()):
                entry.unlink(missing_ok=True)
        self.release()
        for folder in reversed(self.created):
            try:
                folder.rmdir()
            except OSError:  # not empty (something else was put there) or already gone
                break

    def leftovers(self) -> list[str]:
        """Names of the files in the folder, except the lock."""
        return sorted(entry.name for entry in self.path.iterdir() if entry.name != LOCK)


def run_files(folder: Path) -> tuple[Path, Path]:
    """The checkpoint and model of the run in ``folder``: the first format's names for a run
    that began with them, else the current ones."""
    legacy = (folder / LEGACY_CHECKPOINT).is_file() and not (folder / CHECKPOINT).is_file()
    if legacy:
        return folder / LEGACY_CHECKPOINT, folder / LEGACY_MODEL
    return folder / CHECKPOINT, folder / MODEL


def _reason(error: OSError) -> str:
    return os.strerror(error.errno) if error.errno else str(error)


def _check_parents(path: Path, option: str) -> None:
    """Every existing part of ``path`` must be a folder."""
    for part in [*reversed(path.parents), path]:
        if part.exists() and not part.is_dir():
            if part == path:
                raise RunFolderError(f"{option} {path}: is a file, not a folder")
            raise RunFolderError(f"{option} {path}: {part} is a file, not a folder")
        if not part.exists():
            return


def _make_folders(path: Path, option: str) -> list[Path]:
    """Create ``path`` and missing parents; return the folders created, outermost first."""
    missing = []
    part = path
    while not part.exists():
        missing.append(part)
        if part.parent == part:
            break
        part = part.parent
    created: list[Path] = []
    for folder in reversed(missing):
        try:
            folder.mkdir()
        except FileExistsError:  # made meanwhile by someone else: use it, do not remove it
            continue
        except OSError as error:
            for made in reversed(created):
                made.rmdir()
            raise RunFolderError(
                f"{option} {path}: cannot create {folder} ({_reason(error)})"
            ) from None
        created.append(folder)
    return created


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OverflowError:
        return False
    return True


def _lock(path: Path, option: str) -> None:
    """Create the lock file exclusively (which also proves the folder is writable)."""
    lock = path / LOCK
    for _ in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = int(lock.read_text().strip() or "0")
            except (OSError, ValueError):
                owner = 0
            if owner > 0 and owner != os.getpid() and _process_alive(owner):
                raise RunFolderError(
                    f"{option} {path}: another chainrule run (process {owner}) is using this "
                    "folder; wait for it to end or choose another folder"
                ) from None
            lock.unlink(missing_ok=True)  # left by a process that no longer runs
            continue
        except OSError as error:
            raise RunFolderError(
                f"{option} {path}: cannot write there ({_reason(error)})"
            ) from None
        with os.fdopen(handle, "w") as file:
            file.write(f"{os.getpid()}\n")
        return
    raise RunFolderError(f"{option} {path}: could not take the folder's lock file {lock}")


def _describe_run(names: set[str]) -> str:
    if names & {METRICS, MODEL, LEGACY_MODEL}:
        return "a finished run"
    return "an unfinished run"


def claim(path: str | Path, *, resume: bool = False, option: str = "--out") -> RunFolder:
    """Check ``path`` as a run's output folder, create it if needed and lock it.

    ``option`` names the setting in messages (the CLI's ``--out``). Raises RunFolderError,
    before anything is created, for a folder the run may not or cannot use.
    """
    folder = Path(path)
    _check_parents(folder, option)
    names: set[str] = set()
    if folder.is_dir():
        try:
            names = {entry.name for entry in folder.iterdir()} - {LOCK}
        except OSError as error:
            raise RunFolderError(f"{option} {folder}: cannot read it ({_reason(error)})") from None
    shown = ", ".join(sorted(names)[:4]) + (", ..." if len(names) > 4 else "")
    has_checkpoint = bool(names & {CHECKPOINT, LEGACY_CHECKPOINT})
    if resume and names and not has_checkpoint:
        what = (
            "a model but no checkpoint"
            if names & {MODEL, LEGACY_MODEL}
            else f"no checkpoint (it holds {shown})"
        )
        raise RunFolderError(
            f"{option} {folder}: --resume needs {CHECKPOINT}, and the folder has {what}; "
            "nothing can be continued, and nothing there was changed"
        )
    if not resume and names:
        if names & {CHECKPOINT, MODEL, METRICS, LEGACY_CHECKPOINT, LEGACY_MODEL}:
            further = " --epochs N (more epochs than it has)" if METRICS in names else ""
            advice = f"continue it with --resume{further}, or choose another {option}"
            raise RunFolderError(
                f"{option} {folder}: holds {_describe_run(names)} ({shown}), which a new run "
                f"never replaces; {advice}"
            )
        raise RunFolderError(
            f"{option} {folder}: is not empty (it holds {shown}); a new run writes into a new "
            "or empty folder"
        )
    created = _make_folders(folder, option)
    try:
        _lock(folder, option)
    except RunFolderError:
        for made in reversed(created):
            made.rmdir()
        raise
    finished = has_checkpoint and METRICS in names
    return RunFolder(folder, has_checkpoint, finished, created)


def claim_new(base: str | Path = "runs", *, option: str = "--out") -> RunFolder:
    """Claim a new folder ``base/<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``... when a run started
    in the same second holds the name."""
    root = Path(base)
    _check_parents(root, option)
    created = _make_folders(root, option)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for number in range(1, 1000):
        folder = root / (stamp if number == 1 else f"{stamp}-{number}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as error:
            raise RunFolderError(
                f"{option} {folder}: cannot create it ({_reason(error)})"
            ) from None
        try:
            _lock(folder, option)
        except RunFolderError:
            folder.rmdir()
            raise
        return RunFolder(folder, created=[*created, folder])
    raise RunFolderError(f"{option} {root}: 999 runs started in the same second ({stamp})")


def prepare_output_folder(
    path: str | Path, *, option: str = "--out", numbered: bool = False
) -> Path:
    """Check that ``path`` is (or can be made) a new or empty writable folder, before any work
    is done, and create it: outputs never replace files that are there (a user's own, or an
    earlier run's). With ``numbered`` (a default name, not one the user gave), a taken name
    gets a ``-2``, ``-3``... suffix instead of an error."""
    base = Path(path)
    for number in range(1, 1000):
        folder = base if number == 1 else base.with_name(f"{base.name}-{number}")
        if numbered and (folder.is_file() or (folder.is_dir() and any(folder.iterdir()))):
            continue  # a default name that is taken: try the next number
        _check_parents(folder, option)
        created = _make_folders(folder, option)
        held = sorted(entry.name for entry in folder.iterdir())
        if held:
            shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
            raise RunFolderError(
                f"{option} {folder}: holds files ({shown}), which are never replaced; choose a "
                "new or empty folder"
            )
        try:
            with tempfile.TemporaryFile(dir=folder, prefix=".chainrule-probe-"):
                pass
        except OSError as error:
            for made in reversed(created):
                made.rmdir()
            raise RunFolderError(
                f"{option} {folder}: cannot write there ({_reason(error)})"
            ) from None
        return folder
    raise RunFolderError(f"{option} {base}: {base.name}-2 ... {base.name}-999 are all taken")


__all__ = ["RunFolder", "RunFolderError", "claim", "claim_new", "prepare_output_folder"]
