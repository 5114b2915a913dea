"""A table uploaded from the page: read with chainrule's table reader, checked against the caps,
and two of its numeric columns made into points with the preprocessing of ``load_table``.

The bytes never reach a path the page named: they are written to a fresh private temporary
folder, read, and deleted; messages name the file as the user called it.
"""

from __future__ import annotations

import math
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .points import DOMAIN, Points, split_parts
from .settings import MAX_CLASSES

__all__ = [
    "MAX_UNPACKED_BYTES",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_ROWS",
    "UploadError",
    "UploadedTable",
    "read_upload",
]

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UPLOAD_ROWS = 100_000
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_POINTS_SHOWN = 2000


class UploadError(ValueError):
    """An uploaded file the playground cannot use; one line naming the file and the column."""


@dataclass
class UploadedTable:
    name: str
    frame: Any  # a polars DataFrame

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    @property
    def numeric(self) -> list[str]:
        """The columns that can be axes: numbers (not text, not true/false)."""
        return [str(c) for c, dtype in self.frame.schema.items() if dtype.is_numeric()]

    def points(self, x1: Any, x2: Any, label: Any, train_ratio: float, seed: int) -> Points:
        """The rows as points: ``x1`` and ``x2`` standardised (as ``load_table`` does for a
        model's inputs, missing values filled with the median) and scaled into the page's
        square; ``label`` the class (or the number, for a regression)."""
        from ..data.table import TableError, load_table

        for role, column in (("x1", x1), ("x2", x2), ("label", label)):
            if not isinstance(column, str) or column not in self.columns:
                shown = str(column)[:40]
                raise UploadError(f"{self.name}: {role}: there is no column {shown!r}")
        for role, column in (("x1", x1), ("x2", x2)):
            if column not in self.numeric:
                raise UploadError(
                    f"{self.name}: {role}: column {column!r} does not hold numbers; an axis "
                    "needs a numeric column"
                )
        if x1 == x2:
            raise UploadError(f"{self.name}: x1 and x2 are the same column {x1!r}")
        if label in (x1, x2):
            raise UploadError(f"{self.name}: the label column {label!r} is also an axis")
        frame = self.frame.select([x1, x2, label])
        if frame.height > MAX_POINTS_SHOWN:
            frame = frame.sample(MAX_POINTS_SHOWN, seed=seed)
        try:
            table = load_table(
                frame, label, features=[x1, x2], test_fraction=0.0, val_fraction=0.0, seed=seed
            )
        except (TableError, ValueError) as error:
            message = str(error).replace("the DataFrame", self.name)
            raise UploadError(message.splitlines()[0]) from None
        names = table.preprocessor.feature_names
        missing = [c for c in (x1, x2) if c not in names]
        if missing:
            raise UploadError(
                f"{self.name}: column {missing[0]!r} cannot be an axis: "
                + "; ".join(table.notes)[:200]
            )
        matrix = table.X_train
        xy = 2.0 * matrix[:, [names.index(x1), names.index(x2)]].astype(np.float64)
        if table.preprocessor.task == "classification":
            classes = [str(c) for c in table.preprocessor.target.classes]
            if len(classes) > MAX_CLASSES:
                raise UploadError(
                    f"{self.name}: label: column {label!r} has {len(classes)} classes; the "
                    f"playground shows at most {MAX_CLASSES}"
                )
            labels: np.ndarray = np.asarray(table.y_train, dtype=np.int64)
            problem = "classification"
        else:
            classes = []
            labels = np.asarray(table.y_train, dtype=np.float64).reshape(-1)
            problem = "regression"
        part = split_parts(len(xy), train_ratio, np.random.default_rng([seed, 1]))
        reach = max(float(np.abs(xy).max()) + 0.5, DOMAIN[1]) if len(xy) else DOMAIN[1]
        reach = math.ceil(reach)
        return Points(xy, labels, part, problem, classes, (-reach, reach, -reach, reach))


def read_upload(name: Any, content: bytes) -> UploadedTable:
    """Read an uploaded CSV, TSV (gzipped too) or Parquet file, within the caps."""
    from ..data.table import TableError
    from ..data.table.reading import read_table

    shown = _safe_name(name)
    if len(content) > MAX_UPLOAD_BYTES:
        raise UploadError(
            f"{shown}: {len(content) / 1e6:.1f} MB is more than the playground takes "
            f"({MAX_UPLOAD_BYTES // (1024 * 1024)} MB)"
        )
    if not content:
        raise UploadError(f"{shown}: the file is empty")
    content = _gunzipped(content, shown)
    with tempfile.TemporaryDirectory(prefix="chainrule-upload-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(content)
        try:
            if content.startswith(b"PAR1"):
                _check_parquet_rows(path, shown)
            frame, _ = read_table(path, name=shown)
        except (TableError, ValueError, OSError) as error:
            raise UploadError(str(error).replace(str(path), shown).splitlines()[0]) from None
    if frame.height > MAX_UPLOAD_ROWS:
        raise UploadError(
            f"{shown}: {frame.height} rows is more than the playground takes ({MAX_UPLOAD_ROWS})"
        )
    if frame.width < 3:
        raise UploadError(
            f"{shown}: has {frame.width} column(s); the playground needs two numeric columns "
            "and a label"
        )
    table = UploadedTable(shown, frame)
    if len(table.numeric) < 2:
        raise UploadError(
            f"{shown}: has {len(table.numeric)} numeric column(s); two are needed for the axes"
        )
    return table


def _gunzipped(content: bytes, shown: str) -> bytes:
    """A gzipped upload decompressed here, in pieces, stopping at MAX_UNPACKED_BYTES: a small
    file that unpacks to gigabytes (a "zip bomb") is refused before it fills the memory."""
    if not content.startswith(b"\x1f\x8b"):
        return content
    unpacker = zlib.decompressobj(wbits=31)
    pieces, size = [], 0
    try:
        data = content
        while data and not unpacker.eof:
            piece = unpacker.decompress(data, 1 << 20)
            size += len(piece)
            if size > MAX_UNPACKED_BYTES:
                raise UploadError(
                    f"{shown}: unpacks to more than {MAX_UNPACKED_BYTES // (1024 * 1024)} MB, "
                    "more than the playground takes"
                )
            pieces.append(piece)
            data = unpacker.unconsumed_tail
    except zlib.error as error:
        raise UploadError(f"{shown}: a damaged gzip file ({error})") from None
    if not unpacker.eof:
        raise UploadError(f"{shown}: a damaged gzip file (it ends before its last block)")
    return b"".join(pieces)


def _check_parquet_rows(path: Path, shown: str) -> None:
    """The row count from a Parquet file's footer, before any column is decompressed."""
    import polars as pl

    try:
        rows = int(pl.scan_parquet(path).select(pl.len()).collect().item())
    except Exception:  # noqa: BLE001 - read_table reports a damaged file in its own words
        return
    if rows > MAX_UPLOAD_ROWS:
        raise UploadError(
            f"{shown}: {rows} rows is more than the playground takes ({MAX_UPLOAD_ROWS})"
        )


def _safe_name(name: Any) -> str:
    """The file name to show: its last part only, printable, at most 60 characters."""
    text = name if isinstance(name, str) else "the upload"
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if ch.isprintable())[:60]
    return text or "the upload"
