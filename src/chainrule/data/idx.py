"""The IDX file format of MNIST and Fashion-MNIST, and the loaders that find those files.

An IDX file is: two zero bytes, a type code, the number of dimensions n, then n big-endian
uint32 sizes, then the values, big-endian, in C order. Files may be gzipped.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from .._atomic import atomic_write

# Type code -> big-endian dtype.
_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """A file that is not a valid IDX file; the message names the file and what is wrong."""


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise IDXError(f"{path}: damaged gzip stream ({error})") from None


def parse_idx(content: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into an array in native byte order, checking every size."""
    if len(content) < 4:
        raise IDXError(f"{name}: only {len(content)} bytes, too short for an IDX header (4 bytes)")
    if content[0] != 0 or content[1] != 0:
        raise IDXError(
            f"{name}: bad magic number at offset 0: expected two zero bytes, got "
            f"{content[:2].hex(' ')} (not an IDX file)"
        )
    code, ndim = content[2], content[3]
    if code not in _IDX_TYPES:
        raise IDXError(f"{name}: unknown type code 0x{code:02x} at offset 2")
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise IDXError(
            f"{name}: truncated header: {ndim} dimensions need {header_size} bytes, file has "
            f"{len(content)}"
        )
    shape = tuple(int(s) for s in np.frombuffer(content, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    # Python integers: a forged header must not overflow the size check.
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(content) != expected:
        problem = "truncated" if len(content) < expected else "has trailing bytes"
        raise IDXError(
            f"{name}: {problem}: shape {shape} of {dtype.newbyteorder('=')} needs {expected} "
            f"bytes, file has {len(content)}"
        )
    values: np.ndarray = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a NumPy array.

    Raises
    ------
    IDXError
        If the file is damaged: bad magic number, unknown type, truncated or too long.
    """
    file = Path(path)
    return parse_idx(_read_bytes(file), str(file))


_SOURCES = {
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
}
_SYSTEM_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist"), "mnist": None}
_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _search_dirs(name: str, path: str | os.PathLike[str] | None) -> list[Path]:
    dirs = []
    if path is not None:
        dirs.append(Path(path))
    if os.environ.get("CHAINRULE_DATA"):
        dirs += [Path(os.environ["CHAINRULE_DATA"]) / name, Path(os.environ["CHAINRULE_DATA"])]
    dirs += [_cache_dir() / name, _cache_dir()]
    system = _SYSTEM_DIRS.get(name)
    if system is not None:
        dirs.append(system)
    return dirs


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chainrule"


def _find(stem: str, dirs: list[Path]) -> Path | None:
    for directory in dirs:
        for candidate in (directory / stem, directory / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _download(name: str, stem: str) -> Path:
    """Fetch ``stem``.gz into ``<cache>/<name>``, atomically; raise OSError when the network
    says no and IDXError when what arrives is damaged (nothing is kept then)."""
    target = _cache_dir() / name / f"{stem}.gz"
    url = _SOURCES[name] + f"{stem}.gz"
    # Imported here: urllib.request pulls in http, email and ssl (15 ms of every import).
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(url, timeout=20) as response:
        content = response.read()
    try:
        decompressed = gzip.decompress(content)
    except (OSError, EOFError, zlib.error) as error:
        raise IDXError(f"downloaded {url}: damaged gzip stream ({error})") from None
    parse_idx(decompressed, f"downloaded {url}")
    atomic_write(target, lambda file: file.write(content))
    return target


def _load(
    name: str, split: str, path: str | os.PathLike[str] | None, download: bool
) -> tuple[np.ndarray, np.ndarray]:
    if split not in _FILES:
        raise ValueError(
            f"load_{name.replace('-', '_')}: split must be 'train' or 'test', got {split!r}"
        )
    dirs = _search_dirs(name, path)
    arrays = []
    for stem in _FILES[split]:
        found = _find(stem, dirs)
        if found is None and download:
            try:
                found = _download(name, stem)
            except OSError:  # urllib's URLError included
                found = None
        if found is None:
            looked = ", ".join(str(d) for d in dirs)
            hint = " (or install Debian's dataset-fashion-mnist)" if name == "fashion-mnist" else ""
            raise FileNotFoundError(
                f"{name}: {stem}[.gz] not found; looked in {looked}; downloading "
                f"{'failed' if download else 'was not allowed'}. Put the IDX files in one of "
                f"those folders or set CHAINRULE_DATA{hint}"
            )
        arrays.append(read_idx(found))
    images, labels = arrays
    if len(images) != len(labels):
        raise IDXError(f"{name} {split}: {len(images)} images but {len(labels)} labels")
    return images, labels.astype(np.int64)


def load_fashion_mnist(
    split: str = "train", path: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: uint8 images (N, 28, 28) and int64 labels 0-9 (60,000 train, 10,000 test).

    Searched in ``path``, ``$CHAINRULE_DATA/fashion-mnist``, ``$CHAINRULE_DATA``,
    ``~/.cache/chainrule/fashion-mnist``, ``~/.cache/chainrule`` (``$XDG_CACHE_HOME`` when set)
    and ``/usr/share/datasets/fashion-mnist``, in that order; downloaded into
    ``~/.cache/chainrule/fashion-mnist`` when missing and the network allows.
    """
    return _load("fashion-mnist", split, path, download)


def load_mnist(
    split: str = "train", path: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST handwritten digits, as ``load_fashion_mnist`` (without a system folder)."""
    return _load("mnist", split, path, download)


FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
