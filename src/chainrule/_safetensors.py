"""The safetensors container of chainrule's model and checkpoint files.

A safetensors file is an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw little-endian bytes: nothing in it can run,
and PyTorch, JAX, Rust and the Hugging Face tools read it. chainrule keeps its own JSON header
(format version, architecture, metadata such as a table's preprocessing, and a SHA-256 digest
of header and tensors) as the string ``__metadata__["chainrule"]``.

Writing and reading the tensors is the ``safetensors`` package's work. Before it reads a byte
of tensor data, ``read_header`` checks the header here, so that a damaged or crafted file is
refused in one line naming the problem: its size capped, every dtype known, every shape's
size matching its byte range, the ranges inside the file, in order, neither overlapping nor
leaving gaps. The caller then checks the shapes against the architecture, and only then are
the tensors read: loading allocates at most the file's size plus the model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# The key of ``__metadata__`` that holds chainrule's own header (JSON text).
METADATA_KEY = "chainrule"
# A header longer than this is refused before it is read (the safetensors library's own cap
# is 100 MB; a model's header with a table's preprocessing is a few hundred KB at most).
MAX_HEADER_BYTES = 64 * 2**20

_DTYPES = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype("<u1"),
    "I8": np.dtype("<i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}


class SafetensorsError(ValueError):
    """A file that is not a well-formed safetensors file; the message says what is wrong."""


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header describes it."""

    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    begin: int
    end: int


def looks_like_safetensors(start: bytes) -> bool:
    """Whether a file's first bytes (at least 9) are those of a safetensors file."""
    return len(start) >= 9 and start[8:9] == b"{"


def encode(arrays: Mapping[str, np.ndarray], header: str) -> bytes:
    """The bytes of a file holding ``arrays`` and chainrule's JSON ``header`` (the caller
    writes them atomically)."""
    from safetensors.numpy import save

    tensors = {name: np.ascontiguousarray(value) for name, value in arrays.items()}
    return save(tensors, metadata={METADATA_KEY: header})


def read_header(source: Path) -> tuple[str, dict[str, TensorEntry]]:
    """chainrule's header text and every tensor's entry, checked as the module says, without
    reading any tensor data."""
    size = source.stat().st_size
    with open(source, "rb") as file:
        start = file.read(8)
        if len(start) < 8:
            raise SafetensorsError(f"truncated: {size} bytes, shorter than the header's length")
        length = int.from_bytes(start, "little")
        if length > MAX_HEADER_BYTES:
            raise SafetensorsError(
                f"the header claims {length:,} bytes, more than the {MAX_HEADER_BYTES:,} allowed"
            )
        if length > size - 8:
            raise SafetensorsError(
                f"truncated: the header claims {length:,} bytes, the file has {size - 8:,} "
                "after the length"
            )
        raw = file.read(length)
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except ValueError as error:  # not UTF-8, not JSON, or an integer of thousands of digits
        raise SafetensorsError(f"the header is not JSON ({error})") from None
    except RecursionError:
        raise SafetensorsError("the header is nested too deeply") from None
    if not isinstance(parsed, dict):
        raise SafetensorsError("the header is not a JSON object")
    metadata = parsed.pop("__metadata__", None)
    if not isinstance(metadata, dict) or not isinstance(metadata.get(METADATA_KEY), str):
        raise SafetensorsError(
            f"no chainrule header (__metadata__[{METADATA_KEY!r}]); a safetensors file from "
            "another tool holds parameters but not the architecture to build them into"
        )
    entries = {name: _entry(name, value) for name, value in parsed.items()}
    _check_layout(entries, size - 8 - length)
    return metadata[METADATA_KEY], entries


def read_tensors(
    source: Path, entries: Mapping[str, TensorEntry], check: Callable[[], None] | None = None
) -> dict[str, np.ndarray]:
    """The tensors of a file whose header ``read_header`` accepted (``check`` runs first, to
    refuse a file before its tensors are read)."""
    if check is not None:
        check()
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        tensors = load_file(str(source))
    except (SafetensorError, OSError, ValueError) as error:
        raise SafetensorsError(f"unreadable tensors ({error})") from None
    if set(tensors) != set(entries):  # the file changed between the two reads
        raise SafetensorsError("the tensors differ from those the header names")
    return tensors


def _entry(name: str, value: Any) -> TensorEntry:
    where = f"tensor {name[:60]!r}"
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data_offsets"}:
        raise SafetensorsError(f"{where}: needs exactly 'dtype', 'shape' and 'data_offsets'")
    dtype = _DTYPES.get(value["dtype"]) if isinstance(value["dtype"], str) else None
    if dtype is None:
        raise SafetensorsError(
            f"{where}: dtype {str(value['dtype'])[:20]!r} is not one chainrule reads "
            f"({', '.join(_DTYPES)})"
        )
    shape, offsets = value["shape"], value["data_offsets"]
    if not isinstance(shape, list) or not all(_natural(n) for n in shape):
        raise SafetensorsError(f"{where}: shape {str(shape)[:40]} is not a list of sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_natural, offsets))):
        raise SafetensorsError(f"{where}: data_offsets {str(offsets)[:40]} are not two offsets")
    begin, end = offsets
    expected = math.prod(shape) * dtype.itemsize
    if end - begin != expected:
        raise SafetensorsError(
            f"{where}: shape {tuple(shape)} of {value['dtype']} needs {expected:,} bytes, its "
            f"data_offsets span {end - begin:,}"
        )
    return TensorEntry(dtype, tuple(shape), begin, end)


def _check_layout(entries: Mapping[str, TensorEntry], data_size: int) -> None:
    """The byte ranges, in order, must tile the data exactly: no overlap, no gap, none
    outside the file."""
    position = 0
    for name, entry in sorted(entries.items(), key=lambda item: (item[1].begin, item[1].end)):
        if entry.begin != position:
            what = "overlaps the tensor before it" if entry.begin < position else "leaves a gap"
            raise SafetensorsError(f"tensor {name[:60]!r}: its data_offsets {what}")
        if entry.end > data_size:
            raise SafetensorsError(
                f"truncated: tensor {name[:60]!r} ends at byte {entry.end:,} of the data, "
                f"which has {data_size:,}"
            )
        position = entry.end
    if position != data_size:
        raise SafetensorsError(
            f"{data_size - position:,} bytes after the last tensor belong to none"
        )


def _natural(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
