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
    """Where to look: ``path`` and ``path/<name>`` alone when a path is given (it must be a
    folder), else the environment's, the cache's and the system's folders."""
    if path is not None:
        folder = Path(path).expanduser()
        shown = f"'{path}'" if str(folder) == str(path) else f"'{path}' ({folder})"
        if not folder.exists():
            raise FileNotFoundError(f"{name}: data path {shown} does not exist")
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{name}: data path {shown} is not a folder (give the folder that holds the "
                "IDX files)"
            )
        return [folder, folder / name]
    dirs = []
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


def _locate(
    name: str, split: str, path: str | os.PathLike[str] | None, download: bool
) -> tuple[Path, Path]:
    """The images file and the labels file of ``split``, found or downloaded."""
    if name not in _SOURCES:
        known = ", ".join(repr(known) for known in _SOURCES)
        raise ValueError(f"load_train_test: name must be one of {known}, got {name!r}")
    if split not in _FILES:
        raise ValueError(
            f"load_{name.replace('-', '_')}: split must be 'train' or 'test', got {split!r}"
        )
    dirs = _search_dirs(name, path)
    found_files = []
    for stem in _FILES[split]:
        found = _find(stem, dirs)
        if found is None and path is not None:
            raise FileNotFoundError(
                f"{name}: {stem}[.gz] not found in the data path {dirs[0]} (nor in {dirs[1]}); "
                "with a data path given, only it is searched and nothing is downloaded"
            )
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
                f"those folders, pass their folder as the data path, or set "
                f"CHAINRULE_DATA{hint}"
            )
        found_files.append(found)
    return found_files[0], found_files[1]


def _check_labels(labels: np.ndarray, file: Path) -> np.ndarray:
    """Labels as int64, after checking they are a 1-D array of non-negative integers."""
    if labels.ndim != 1:
        raise IDXError(f"{file}: a labels file must hold a 1-D array, got shape {labels.shape}")
    if labels.dtype.kind == "f":
        # A float IDX file whose values are whole numbers still holds class labels.
        bad = np.flatnonzero(~np.isfinite(labels) | (labels != np.round(labels)))
        if bad.size:
            raise IDXError(
                f"{file}: labels must be integers, got {str(labels[bad[0]])} at index "
                f"{bad[0]} ({bad.size} of the {labels.size} labels not whole numbers)"
            )
    negative = np.flatnonzero(labels < 0)
    if negative.size:
        raise IDXError(
            f"{file}: labels must be non-negative class numbers, got {str(labels[negative[0]])} "
            f"at index {negative[0]} ({negative.size} of the {labels.size} labels negative)"
        )
    return labels.astype(np.int64)


def _read_split(images_file: Path, labels_file: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check one split: images (N, rows, cols), N labels, each a non-negative int."""
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim == 1 and labels.ndim == 3:
        raise IDXError(
            f"the images and labels files look swapped: {images_file} holds a 1-D array "
            f"{images.shape}, like a labels file, and {labels_file} a 3-D array {labels.shape}, "
            "like an images file"
        )
    if images.ndim != 3:
        raise IDXError(
            f"{images_file}: an images file must hold a 3-D array (N, rows, cols), got shape "
            f"{images.shape}"
        )
    if images.shape[1] == 0 or images.shape[2] == 0:
        raise IDXError(f"{images_file}: images of shape {images.shape[1:]} have no pixels")
    checked = _check_labels(labels, labels_file)
    if len(images) != len(labels):
        raise IDXError(
            f"{images_file} has {len(images)} images but {labels_file} has {len(labels)} "
            "labels; they must match one to one"
        )
    return images, checked


def _load(
    name: str, split: str, path: str | os.PathLike[str] | None, download: bool
) -> tuple[np.ndarray, np.ndarray]:
    return _read_split(*_locate(name, split, path, download))


def load_train_test(
    name: str, path: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Both splits of ``name`` ("fashion-mnist" or "mnist") as
    ``images_train, labels_train, images_test, labels_test``.

    The files are found as ``load_fashion_mnist`` finds them (only in ``path`` when given), and
    each split is checked as it does; besides, the training and test images must have the same
    size.

    Raises
    ------
    ValueError
        If ``name`` is not "fashion-mnist" or "mnist".
    FileNotFoundError
        If ``path`` is given but is not an existing folder, or a file is missing.
    IDXError
        If a file is damaged or holds the wrong kind of array, the counts of a split differ, or
        the training and test images differ in size (the message names the files and shapes).
    """
    train_files = _locate(name, "train", path, download)
    test_files = _locate(name, "test", path, download)
    images_train, labels_train = _read_split(*train_files)
    images_test, labels_test = _read_split(*test_files)
    if images_train.shape[1:] != images_test.shape[1:]:
        raise IDXError(
            f"{name}: the training and test images differ in size: {train_files[0]} holds "
            f"images of {images_train.shape[1]}x{images_train.shape[2]} (shape "
            f"{images_train.shape}), {test_files[0]} of {images_test.shape[1]}x"
            f"{images_test.shape[2]} (shape {images_test.shape})"
        )
    return images_train, labels_train, images_test, labels_test


def load_fashion_mnist(
    split: str = "train", path: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST: uint8 images (N, 28, 28) and int64 labels 0-9 (60,000 train, 10,000 test).

    With ``path``, only that folder and ``path/fashion-mnist`` are searched, and nothing is
    downloaded: ``path`` must be an existing folder (``~`` is expanded), and a file missing
    there is an error naming the folder and the file. Without ``path``, the files are searched
    in ``$CHAINRULE_DATA/fashion-mnist``, ``$CHAINRULE_DATA``, ``~/.cache/chainrule/fashion-mnist``,
    ``~/.cache/chainrule`` (``$XDG_CACHE_HOME`` when set) and ``/usr/share/datasets/fashion-mnist``,
    in that order, and downloaded into ``~/.cache/chainrule/fashion-mnist`` when missing,
    ``download`` is true and the network allows.

    Raises
    ------
    ValueError
        If ``split`` is not "train" or "test".
    FileNotFoundError
        If ``path`` is not an existing folder, or a file is found nowhere; the message says
        where the loader looked.
    IDXError
        If a file is damaged; if the images are not a 3-D array (N, rows, cols) or the labels
        not a 1-D array of non-negative integers (float files of whole numbers are accepted),
        naming the file, and both files when they look swapped; or if the counts differ.
    """
    return _load("fashion-mnist", split, path, download)


def load_mnist(
    split: str = "train", path: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST handwritten digits, found, checked and returned as ``load_fashion_mnist`` does
    (``path/mnist`` and ``mnist`` subfolders instead, and no system folder)."""
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
