"""Saving and loading models (and training checkpoints) in files that loading never executes.

A model file is a safetensors file (``_safetensors.py``): the parameters under the names of
``state_dict()`` (PyTorch's: ``0.weight`` of shape (out, in), row-major, little-endian), so
that ``torch.nn.Sequential(...).load_state_dict(safetensors.torch.load_file(path))`` takes them
as they are, and a JSON header in its ``__metadata__`` with the format version, the
architecture of models built from chainrule's layers, any extra JSON data (a table's
preprocessing, the run's settings) and a SHA-256 digest of the header and every tensor, so a
damaged or accidentally edited file is refused with a clear error. The digest is not a
signature: anyone can recompute it, so it does not detect a deliberate forgery. Loading never
executes anything from the file regardless: the header is checked (sizes, byte ranges, dtypes,
then every Linear layer's shape against the architecture) before any tensor is read, and only
the layer classes listed here can be named. Files of chainrule 0.1's first format, NumPy
``.npz`` archives read with ``allow_pickle=False``, still load; ``save`` writes one only to a
path ending in ``.npz``. Writes are atomic: a temporary file in the same folder, flushed to
disk, then renamed over the target.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import _safetensors, nn
from ._atomic import atomic_write
from ._text import counted

FORMAT = "chainrule"
VERSION = 2  # a safetensors file; version 1 is the .npz archive
NPZ_VERSION = 1
_HEADER = "__header__"
# A run's model file, by the name a run writes now, then by the first format's name.
MODEL_NAMES = ("model.safetensors", "model.npz")
# Shapes and dtypes of a file's arrays, by name, as its header states them.
Layout = Mapping[str, tuple[tuple[int, ...], np.dtype[Any]]]


class ModelFileError(ValueError):
    """A model or checkpoint file that cannot be loaded; the message names file and problem."""


# ------------------------------------------------------------------------ architecture
_LAYERS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (
        nn.Linear,
        nn.ReLU,
        nn.Tanh,
        nn.Sigmoid,
        nn.LeakyReLU,
        nn.Sign,
        nn.Step,
        nn.Identity,
        nn.Softmax,
        nn.Dropout,
    )
}


def describe(model: nn.Module) -> dict[str, Any] | None:
    """The architecture of a model built from chainrule's layers as JSON data, else None."""
    if isinstance(model, nn.Sequential):
        layers = [describe(layer) for layer in model.layers]
        if any(layer is None for layer in layers):
            return None
        return {"type": "Sequential", "layers": layers}
    if type(model) not in _LAYERS.values():
        return None
    if isinstance(model, nn.Linear):
        return {
            "type": "Linear",
            "in_features": model.in_features,
            "out_features": model.out_features,
            "bias": model.bias is not None,
            "dtype": str(model.weight.dtype),
        }
    if isinstance(model, nn.LeakyReLU):
        return {"type": "LeakyReLU", "negative_slope": model.negative_slope}
    if isinstance(model, nn.Softmax):
        return {"type": "Softmax", "dim": model.dim}
    if isinstance(model, nn.Dropout):
        return {"type": "Dropout", "p": model.p}
    return {"type": type(model).__name__}


def build(spec: Any) -> nn.Module:
    """A fresh model from ``describe``'s data (weights are loaded separately).

    Raises ModelFileError for anything that is not such data: only the layer classes above
    can be named, with settings of the right types. The layers' initial weights come from a
    private generator, not the library's (``cr.manual_seed``), since they are overwritten.
    """
    try:
        return _build(spec, np.random.default_rng(0))
    except MemoryError:
        raise ModelFileError("the architecture is too large to build in memory") from None
    except RecursionError:
        raise ModelFileError("the architecture is nested too deeply") from None


def _build(spec: Any, rng: np.random.Generator) -> nn.Module:
    if not isinstance(spec, Mapping):
        raise ModelFileError(f"architecture entry {spec!r} is not an object")
    kind = spec.get("type")
    if kind == "Sequential":
        layers = spec.get("layers")
        if not isinstance(layers, list) or set(spec) != {"type", "layers"}:
            raise ModelFileError("a Sequential entry needs exactly 'type' and a list of 'layers'")
        return nn.Sequential(*[_build(layer, rng) for layer in layers])
    if not isinstance(kind, str) or kind not in _LAYERS:
        raise ModelFileError(f"unknown layer type {_clip(kind)} in the architecture")
    settings = {key: value for key, value in spec.items() if key != "type"}
    for key, value in settings.items():
        if not isinstance(value, (bool, int, float, str)):
            raise ModelFileError(f"{kind}: setting {key!r} has an unexpected value {value!r}")
    options: dict[str, Any] = {"rng": rng} if kind == "Linear" else {}
    try:
        return _LAYERS[kind](**settings, **options)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{kind}: bad settings {settings} ({error})") from None


def _linear_shapes(spec: Any, prefix: str = "") -> dict[str, tuple[tuple[int, ...], Any] | None]:
    """The parameter shapes (and dtype names) the architecture's Linear layers will have,
    keyed by the names ``Module.named_parameters`` gives them (None: a bias that must be
    absent).

    Entries that are not well-formed are skipped here; ``build`` reports them.
    """
    shapes: dict[str, tuple[tuple[int, ...], Any] | None] = {}
    stack: list[tuple[str, Any]] = [(prefix, spec)]
    while stack:
        name, entry = stack.pop()
        if not isinstance(entry, Mapping):
            continue
        if entry.get("type") == "Sequential" and isinstance(entry.get("layers"), list):
            children = list(enumerate(entry["layers"]))
            for position, layer in reversed(children):  # popped in order
                stack.append((f"{name}.{position}" if name else str(position), layer))
        elif entry.get("type") == "Linear":
            dot = f"{name}." if name else ""
            out_features, in_features = entry.get("out_features"), entry.get("in_features")
            if (
                not isinstance(out_features, int)
                or not isinstance(in_features, int)
                or isinstance(out_features, bool)
                or isinstance(in_features, bool)
            ):
                raise ModelFileError(
                    f"Linear layer {name or '(top)'}: in_features and out_features must be "
                    f"integers, got {in_features!r} and {out_features!r}"
                )
            dtype = entry.get("dtype", "float32")
            shapes[f"{dot}weight"] = ((out_features, in_features), dtype)
            bias = ((out_features,), dtype)
            shapes[f"{dot}bias"] = bias if entry.get("bias", True) is True else None
    return shapes


def _check_shapes(spec: Any, layout: Layout) -> None:
    """Refuse an architecture whose Linear layers disagree with the stored arrays (shape or
    dtype), before anything is built or read (so a forged header cannot make loading
    allocate a huge model)."""
    problems = []
    for name, expected in _linear_shapes(spec).items():
        if expected is None:
            if name in layout:
                problems.append(f"{name}: the architecture has no bias but the file stores one")
            continue
        shape, dtype = expected
        if name not in layout:
            problems.append(f"{name}: the architecture needs shape {shape}, the file stores none")
        elif layout[name][0] != shape:
            problems.append(
                f"{name}: the architecture needs shape {shape}, the file stores {layout[name][0]}"
            )
        elif str(layout[name][1]) != str(dtype):
            problems.append(
                f"{name}: the architecture says {dtype}, the file stores {layout[name][1]}"
            )
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise ModelFileError(
            "architecture and parameters disagree: " + "; ".join(problems[:5]) + more
        )


# ------------------------------------------------------------------------ the container
# What a file that is not an .npz archive most likely is, told by its first bytes.
_KINDS = (
    (b"\x93NUMPY", "a single NumPy array (.npy), not a model archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x80", "a Python pickle, which chainrule never loads since loading one can run code"),
    (b"{", "JSON text (a run's metrics.json?)"),
    (b"[", "JSON text"),
)


def _container(source: Path) -> str:
    """'safetensors' or 'npz', from a file's first bytes; ModelFileError naming what the file
    is instead."""
    if source.is_dir():
        model = next(
            (source / name for name in MODEL_NAMES if (source / name).is_file()),
            source / MODEL_NAMES[0],
        )
        raise ModelFileError(f"{source}: not a chainrule file: a folder; a run's model is {model}")
    with open(source, "rb") as file:
        start = file.read(16)
    if not start:
        raise ModelFileError(f"{source}: not a chainrule file: it is an empty file")
    if start.startswith(b"PK"):
        return "npz"
    if _safetensors.looks_like_safetensors(start):
        return "safetensors"
    for magic, kind in _KINDS:
        if start.lstrip().startswith(magic):
            raise ModelFileError(f"{source}: not a chainrule file: it is {kind}")
    if len(start) >= 8 and int.from_bytes(start[:8], "little") > 0:
        # A safetensors length without its header after it: a file cut short.
        raise ModelFileError(
            f"{source}: not a chainrule file: neither a safetensors file nor a NumPy .npz "
            "archive (a file cut short, or of another kind)"
        )
    raise ModelFileError(
        f"{source}: not a chainrule file: neither a safetensors file nor anything else "
        "chainrule reads"
    )


def _why_unreadable(error: Exception) -> str:
    """NumPy's reason an archive did not load, in words that never suggest loading it unsafely
    (NumPy's own advice, ``allow_pickle=``, would run code from the file)."""
    message = str(error)
    if "pickle" in message:
        return "it holds Python objects (pickled data), which chainrule never loads"
    if message:
        return f"a damaged archive ({message})"
    return f"a damaged archive ({type(error).__name__})"


# The header fields of each kind of file and the JSON types they must have; everything is
# checked before any field is used, so a crafted header is a clear error, not a crash.
_MODEL_FIELDS: dict[str, tuple[type, ...]] = {
    "architecture": (dict, type(None)),
    "metadata": (dict,),
}
_CHECKPOINT_FIELDS: dict[str, tuple[type, ...]] = {
    "epoch": (int,),
    "history": (dict,),
    "param_groups": (list,),
    "optimizer_scalars": (dict,),
    "rng": (dict,),
    "loaders": (list,),
    "callbacks": (list,),
    "metadata": (dict,),
}
_JSON_TYPE_NAMES = {dict: "an object", list: "a list", int: "an integer", type(None): "null"}


def _check_fields(source: object, header: Mapping[str, Any], fields: Mapping[str, Any]) -> None:
    for name, types in fields.items():
        if name not in header:
            raise ModelFileError(f"{source}: the header has no {name!r} field")
        value = header[name]
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join(_JSON_TYPE_NAMES[kind] for kind in types)
            raise ModelFileError(
                f"{source}: the header's {name!r} must be {expected}, got "
                f"{type(value).__name__} {_clip(value)}"
            )


def _clip(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except RecursionError:
        return "(a value nested too deeply)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_checkpoint_header(source: object, header: dict[str, Any]) -> None:
    """Refuse a checkpoint header whose fields are missing or of the wrong JSON types (the
    values themselves are checked by the optimiser, loaders and callbacks that restore them)."""
    if header.get("kind") != "checkpoint":
        raise ModelFileError(f"{source}: not a training checkpoint (a model file, perhaps)")
    if "metadata" not in header:  # checkpoints of chainrule 0.1.0 before it recorded settings
        header["metadata"] = {}
    _check_fields(source, header, _CHECKPOINT_FIELDS)
    if header["epoch"] < 0:
        raise ModelFileError(f"{source}: the checkpoint's epoch {header['epoch']} is negative")
    for name in ("param_groups", "loaders", "callbacks"):
        if not all(isinstance(entry, dict) for entry in header[name]):
            raise ModelFileError(
                f"{source}: every entry of the header's {name!r} must be an object"
            )
    if not all(isinstance(entry, dict) for entry in header["optimizer_scalars"].values()):
        raise ModelFileError(
            f"{source}: every entry of the header's 'optimizer_scalars' must be an object"
        )


def _digest(arrays: Mapping[str, np.ndarray], header: Mapping[str, Any]) -> str:
    """SHA-256 over the header (canonical JSON, without the digest) and every array."""
    sha = hashlib.sha256()
    content = {key: value for key, value in header.items() if key != "sha256"}
    sha.update(json.dumps(content, sort_keys=True).encode())
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        sha.update(name.encode())
        sha.update(f"{array.dtype.str}{array.shape}".encode())
        sha.update(array.reshape(-1).view(np.uint8).data)  # the bytes, without a copy
    return sha.hexdigest()


def write_archive(
    path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], header: dict[str, Any]
) -> None:
    """Write arrays and a JSON header atomically (temporary file, fsync, rename): a
    safetensors file, or the first format's .npz archive where ``path`` ends in ``.npz``."""
    target = Path(path)
    for name, array in arrays.items():
        if name == _HEADER or np.asarray(array).dtype.kind not in "biuf":
            raise ValueError(f"save: entry {name!r} is not a numeric array")
    legacy = target.suffix.lower() == ".npz"
    full_header = {"format": FORMAT, "version": NPZ_VERSION if legacy else VERSION, **header}
    full_header["sha256"] = _digest(arrays, full_header)
    text = json.dumps(full_header)
    if not legacy:
        content = _safetensors.encode(arrays, text)
        atomic_write(target, lambda file: file.write(content))
        return
    encoded = np.frombuffer(text.encode(), dtype=np.uint8)
    entries: dict[str, Any] = {_HEADER: encoded, **arrays}
    atomic_write(target, lambda file: np.savez(file, **entries))


def read_archive(
    path: str | os.PathLike[str], check: Callable[[dict[str, Any], Layout], None] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read and verify a file written by ``write_archive``. ``check(header, layout)`` may
    refuse it (raising ModelFileError) after the header is read and before the arrays are:
    for a safetensors file, before any tensor byte is read."""
    source = Path(path)
    if _container(source) == "npz":
        arrays, header = _read_npz(source)
        if check is not None:
            check(header, {name: (array.shape, array.dtype) for name, array in arrays.items()})
    else:
        try:
            text, entries = _safetensors.read_header(source)
        except _safetensors.SafetensorsError as error:
            raise ModelFileError(f"{source}: not a readable model file: {error}") from None
        header = _parse_header(source, text.encode("utf-8", "surrogatepass"), VERSION)
        layout = {name: (entry.shape, entry.dtype) for name, entry in entries.items()}
        try:
            arrays = _safetensors.read_tensors(
                source, entries, None if check is None else lambda: check(header, layout)
            )
        except _safetensors.SafetensorsError as error:
            raise ModelFileError(f"{source}: not a readable model file: {error}") from None
    try:
        digest = _digest(arrays, header)
    except RecursionError:
        raise ModelFileError(f"{source}: damaged header (nested too deeply)") from None
    if header.get("sha256") != digest:
        raise ModelFileError(
            f"{source}: contents do not match their checksum; the file is damaged or was modified"
        )
    return arrays, header


def _read_npz(source: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and header of a first-format .npz archive. ``np.savez`` stores its members
    uncompressed, so a member that is compressed, or larger than the file, is refused before
    it is read: a zip bomb cannot make loading allocate more than the file's size."""
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001  (zip errors of every kind)
        raise ModelFileError(f"{source}: not a chainrule file: {_why_unreadable(error)}") from None
    size = source.stat().st_size
    if any(m.compress_type != zipfile.ZIP_STORED for m in members) or (
        sum(m.file_size for m in members) > size
    ):
        raise ModelFileError(
            f"{source}: not a chainrule file: its members are compressed or larger than the "
            "archive (chainrule's .npz files are never compressed)"
        )
    try:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001  (zip, zlib and format errors of every kind)
        raise ModelFileError(f"{source}: not a chainrule file: {_why_unreadable(error)}") from None
    if _HEADER not in arrays:
        raise ModelFileError(f"{source}: no chainrule header; not a chainrule model file")
    return arrays, _parse_header(source, arrays.pop(_HEADER).tobytes(), NPZ_VERSION)


def _parse_header(source: Path, raw: bytes, version: int) -> dict[str, Any]:
    """chainrule's JSON header, refused unless it is of this format and ``version``."""
    try:
        header = json.loads(raw.decode())
    except ValueError as error:  # not UTF-8, not JSON, or an integer of thousands of digits
        raise ModelFileError(f"{source}: damaged header ({error})") from None
    except RecursionError:
        raise ModelFileError(f"{source}: damaged header (nested too deeply)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{source}: not a chainrule model file")
    if header.get("version") != version:
        raise ModelFileError(
            f"{source}: file format version {_clip(header.get('version'))}, this chainrule "
            f"reads version {version} in this container"
        )
    return header


# ------------------------------------------------------------------------ the public API
def save(
    model: nn.Module, path: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None
) -> None:
    """Save a model's parameters (and its architecture, when it is built from chainrule's
    layers) to ``path``, atomically: a safetensors file that PyTorch loads as it is (the
    first format's .npz archive where ``path`` ends in ``.npz``). ``metadata`` is any
    JSON-serialisable extra data."""
    header = {"architecture": describe(model), "metadata": dict(metadata or {})}
    prefix = _PARAMS if Path(path).suffix.lower() == ".npz" else ""
    arrays = {f"{prefix}{name}": value for name, value in model.state_dict().items()}
    write_archive(path, arrays, header)


# In the first format (.npz), parameters were named "param/<name>".
_PARAMS = "param/"


def load(path: str | os.PathLike[str], model: nn.Module | None = None) -> nn.Module:
    """Load a model saved by ``save``: rebuilt from its stored architecture, or, for a model of
    your own class, loaded into ``model``. Nothing in the file is executed."""
    return load_with_metadata(path, model)[0]


def load_with_metadata(
    path: str | os.PathLike[str], model: nn.Module | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """``load`` and the metadata saved with the model, from one read of the file."""

    def check(header: dict[str, Any], layout: Layout) -> None:
        _check_model_header(path, header)
        if model is None:
            if header.get("architecture") is None:
                raise ModelFileError(
                    f"{path}: the file holds no architecture (a custom Module); pass model= "
                    "an instance of the same class to load its parameters into"
                )
            try:
                _check_shapes(header["architecture"], _parameters(header, layout))
            except ModelFileError as error:
                raise ModelFileError(f"{path}: bad architecture: {error}") from None

    arrays, header = read_archive(path, check)
    state = _parameters(header, arrays)
    if model is None:
        try:
            model = build(header["architecture"])
        except ModelFileError as error:
            raise ModelFileError(f"{path}: bad architecture: {error}") from None
    try:
        model.load_state_dict(state)
    except ValueError as error:
        raise ModelFileError(f"{path}: {error}") from None
    return model, header["metadata"]


def _parameters(header: Mapping[str, Any], entries: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters among a file's entries, by their ``state_dict`` names."""
    if header.get("version") == NPZ_VERSION:
        return {k[len(_PARAMS) :]: v for k, v in entries.items() if k.startswith(_PARAMS)}
    return dict(entries)


def load_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata and architecture stored with a model, without building it."""
    _, header = read_archive(path)
    _check_model_header(path, header)
    return {"architecture": header["architecture"], "metadata": header["metadata"]}


def _check_model_header(source: object, header: Mapping[str, Any]) -> None:
    if header.get("kind") == "checkpoint":
        raise ModelFileError(
            f"{source}: a training checkpoint, not a model; the model of its run is "
            f"{_sibling_model(source)} in the same folder"
        )
    _check_fields(source, header, _MODEL_FIELDS)


def _sibling_model(source: object) -> str:
    """The name of the model a run wrote beside the checkpoint ``source``, by its format."""
    return MODEL_NAMES[1] if str(source).lower().endswith(".npz") else MODEL_NAMES[0]


def check_finite(model: nn.Module, source: str) -> None:
    """Refuse a model whose parameters hold NaN or infinite values (a diverged run's)."""
    problems = []
    for name, value in model.state_dict().items():
        nan, inf = int(np.isnan(value).sum()), int(np.isinf(value).sum())
        if nan or inf:
            kinds = [(nan, counted(nan, "NaN", "NaN")), (inf, counted(inf, "infinite value"))]
            held = " and ".join(text for number, text in kinds if number)
            problems.append(f"parameter {name} holds {held}")
    if problems:
        raise ModelFileError(
            f"{source}: " + "; ".join(problems[:3]) + "; a model whose weights are not finite "
            "cannot predict (it likely comes from a diverged run)"
        )
