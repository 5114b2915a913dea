"""IDX files (MNIST, Fashion-MNIST): exact round trips of files written here, a clear
``IDXError`` for every kind of damage, a fuzz test, and the dataset loaders."""

from __future__ import annotations

import gzip
import struct
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule.data import IDXError, load_fashion_mnist, load_mnist, parse_idx, read_idx
from chainrule.data import idx as idx_module

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not FASHION_DIR.is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)

# The IDX type codes, from the format's description (Y. LeCun's MNIST page).
TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}
CODE_TYPES = {code: dtype for dtype, code in TYPE_CODES.items()}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as IDX: 0, 0, type code, ndim, big-endian uint32 sizes, big-endian data."""
    header = bytes([0, 0, TYPE_CODES[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def reference_parse(content: bytes) -> np.ndarray | None:
    """A second, independent IDX decoder: the array, or None for an invalid file."""
    if len(content) < 4 or content[:2] != b"\x00\x00" or content[2] not in CODE_TYPES:
        return None
    ndim = content[3]
    if len(content) < 4 + 4 * ndim:
        return None
    shape = struct.unpack(f">{ndim}I", content[4 : 4 + 4 * ndim])
    dtype = CODE_TYPES[content[2]]
    count = 1
    for size in shape:
        count *= size
    if len(content) != 4 + 4 * ndim + count * dtype.itemsize:
        return None
    values = np.frombuffer(content[4 + 4 * ndim :], dtype=dtype.newbyteorder(">"))
    return values.reshape(shape).astype(dtype)


def sample_array(dtype: np.dtype, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        return (rng.standard_normal(shape) * 1e3).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def assert_identical(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()


# ------------------------------------------------------------------------ round trips
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (1, 1, 1), (0, 3)])
@pytest.mark.parametrize("compressed", [False, True])
def test_read_idx_round_trip(
    tmp_path: Path, dtype: type, shape: tuple[int, ...], compressed: bool
) -> None:
    array = sample_array(np.dtype(dtype), shape)
    content = idx_bytes(array)
    path = tmp_path / ("data.idx.gz" if compressed else "data.idx")
    path.write_bytes(gzip.compress(content) if compressed else content)
    loaded = read_idx(path)
    assert_identical(loaded, array)
    assert loaded.dtype.isnative
    assert_identical(parse_idx(content), array)


def test_read_idx_known_bytes() -> None:
    """A hand-written int16 file: values -2, 258 big-endian are ff fe and 01 02."""
    content = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x01, 0x02])
    np.testing.assert_array_equal(parse_idx(content), np.array([-2, 258], dtype=np.int16))


def test_read_idx_accepts_str_paths(tmp_path: Path) -> None:
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(array))
    assert_identical(read_idx(str(path)), array)


def test_read_idx_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "absent.idx")


# ------------------------------------------------------------------------ damage
VALID = idx_bytes(np.arange(24, dtype=np.int32).reshape(2, 3, 4))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x01" + VALID[1:], "magic"),
        (b"\x00\x07" + VALID[2:], "magic"),
        (VALID[:2] + b"\x0a" + VALID[3:], "type code"),
        (VALID[:2] + b"\x42" + VALID[3:], "type code"),
        (VALID[:3], "too short"),
        (VALID[:9], "truncated header"),
        (VALID[:-1], "truncated"),
        (VALID[:16], "truncated"),
        (VALID + b"\x00", "trailing"),
        (VALID + VALID, "trailing"),
        (b"", "too short"),
    ],
)
@pytest.mark.parametrize("compressed", [False, True])
def test_damaged_files_name_the_file_and_the_problem(
    tmp_path: Path, content: bytes, problem: str, compressed: bool
) -> None:
    path = tmp_path / "damaged-images-idx3-ubyte"
    path.write_bytes(gzip.compress(content) if compressed else content)
    with pytest.raises(IDXError, match=problem) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated-stream"),
        pytest.param(lambda raw: raw[:-4], id="missing-size"),
        pytest.param(lambda raw: raw[:-8] + bytes([raw[-8] ^ 0xFF]) + raw[-7:], id="bad-crc"),
        pytest.param(lambda raw: raw[:12] + b"\xff\xff\xff" + raw[15:], id="bad-deflate"),
    ],
)
def test_damaged_gzip_is_an_idx_error(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    path = tmp_path / "labels.gz"
    path.write_bytes(damage(gzip.compress(VALID)))
    with pytest.raises(IDXError) as caught:
        read_idx(path)
    assert str(path) in str(caught.value)
    assert "gzip" in str(caught.value)


def test_header_declaring_more_than_int64_elements_is_an_idx_error(tmp_path: Path) -> None:
    """2^31 * 2^31 * 4 = 2^64 elements: a size that wraps to 0 in int64 arithmetic must still
    be reported as a damaged file, not passed to reshape."""
    content = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**31, 2**31, 4)
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(IDXError, match="truncated") as caught:
        read_idx(path)
    assert str(path) in str(caught.value)


def test_parse_idx_names_the_given_source() -> None:
    with pytest.raises(IDXError, match="my-buffer"):
        parse_idx(VALID[:-2], name="my-buffer")


# ------------------------------------------------------------------------ fuzz
FUZZ_ARRAYS = [
    sample_array(np.dtype(np.uint8), (3, 4), seed=1),
    sample_array(np.dtype(np.int16), (5,), seed=2),
    sample_array(np.dtype(np.float32), (2, 2, 3), seed=3),
    sample_array(np.dtype(np.float64), (4, 2), seed=4),
]


@st.composite
def mutations(draw: st.DrawFn) -> tuple[np.ndarray, bytes, bool, str, int]:
    array = draw(st.sampled_from(FUZZ_ARRAYS))
    compressed = draw(st.booleans())
    content = idx_bytes(array)
    raw = gzip.compress(content, mtime=0) if compressed else content
    kind = draw(st.sampled_from(["truncate", "flip", "append"]))
    if kind == "truncate":
        position = draw(st.integers(0, len(raw) - 1))
        return array, raw[:position], compressed, kind, position
    if kind == "append":
        extra = draw(st.binary(min_size=1, max_size=16))
        return array, raw + extra, compressed, kind, len(raw)
    position = draw(st.integers(0, len(raw) - 1))
    mask = draw(st.integers(1, 255))
    flipped = raw[:position] + bytes([raw[position] ^ mask]) + raw[position + 1 :]
    return array, flipped, compressed, kind, position


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=mutations())
def test_damaged_files_never_give_a_silently_wrong_array(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[np.ndarray, bytes, bool, str, int]
) -> None:
    array, content, compressed, kind, position = case
    path = tmp_path_factory.mktemp("fuzz") / "fuzzed-idx"
    path.write_bytes(content)
    header_size = 4 + 4 * array.ndim
    try:
        loaded = read_idx(path)
    except IDXError as error:
        assert str(path) in str(error)
        if not compressed:
            assert reference_parse(content) is None
        return
    if compressed:
        # gzip's CRC-32 and length guard the content: what decodes must be the original.
        assert_identical(loaded, array)
        return
    assert kind == "flip", "a truncated or extended file was accepted"
    expected = reference_parse(content)
    assert expected is not None, "an invalid file was accepted"
    assert_identical(loaded, expected)
    if position >= header_size:
        assert loaded.shape == array.shape and loaded.dtype == array.dtype


# ------------------------------------------------------------------------ loaders
def _write_set(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No data anywhere the loaders look, and no downloads."""
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "chainrule-data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home" / ".cache"))
    monkeypatch.setitem(idx_module._SYSTEM_DIRS, "fashion-mnist", tmp_path / "no-system-dir")
    return tmp_path


def test_load_mnist_reads_files_from_path(isolated_env: Path) -> None:
    images = sample_array(np.dtype(np.uint8), (5, 28, 28), seed=5)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    _write_set(isolated_env / "given", "t10k", images, labels)
    loaded_images, loaded_labels = load_mnist("test", path=isolated_env / "given", download=False)
    assert_identical(loaded_images, images)
    np.testing.assert_array_equal(loaded_labels, labels)
    assert loaded_labels.dtype == np.int64


def test_load_mnist_searches_chainrule_data(isolated_env: Path) -> None:
    images = sample_array(np.dtype(np.uint8), (2, 28, 28), seed=6)
    labels = np.array([7, 0], dtype=np.uint8)
    _write_set(isolated_env / "chainrule-data" / "mnist", "train", images, labels)
    loaded_images, loaded_labels = load_mnist("train", download=False)
    assert_identical(loaded_images, images)
    np.testing.assert_array_equal(loaded_labels, labels)


def test_load_mnist_with_mismatched_counts_is_an_idx_error(isolated_env: Path) -> None:
    images = sample_array(np.dtype(np.uint8), (3, 28, 28), seed=7)
    _write_set(isolated_env / "given", "train", images, np.array([1, 2], dtype=np.uint8))
    with pytest.raises(IDXError, match="3 images but 2 labels"):
        load_mnist("train", path=isolated_env / "given", download=False)


@pytest.mark.parametrize("load", [load_mnist, load_fashion_mnist])
def test_missing_files_name_where_the_loader_looked(
    isolated_env: Path, load: Callable[..., Any]
) -> None:
    empty = isolated_env / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as caught:
        load("train", path=empty, download=False)
    message = str(caught.value)
    assert str(empty) in message
    assert str(isolated_env / "chainrule-data") in message
    assert str(isolated_env / "home" / ".cache" / "chainrule") in message
    assert "train-images-idx3-ubyte" in message


def test_loader_rejects_an_unknown_split(isolated_env: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation", path=isolated_env, download=False)


@needs_fashion
def test_fashion_mnist_from_the_debian_package() -> None:
    train_images, train_labels = load_fashion_mnist("train", path=FASHION_DIR, download=False)
    test_images, test_labels = load_fashion_mnist("test", path=FASHION_DIR, download=False)
    assert train_images.shape == (60000, 28, 28) and train_images.dtype == np.uint8
    assert test_images.shape == (10000, 28, 28) and test_images.dtype == np.uint8
    assert train_labels.shape == (60000,) and test_labels.shape == (10000,)
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    np.testing.assert_array_equal(np.bincount(train_labels), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(test_labels), np.full(10, 1000))
    assert train_images.max() == 255 and train_images.min() == 0


# ------------------------------------------------------------------------ cache folder
def _looked_in(message: str) -> list[str]:
    return message.split("looked in ", 1)[1].split("; downloading", 1)[0].split(", ")


def test_cache_folder_itself_is_searched(isolated_env: Path) -> None:
    """API.md: files are searched in ~/.cache/chainrule, so files put there directly are
    found (besides ~/.cache/chainrule/<name>, which comes first)."""
    cache = isolated_env / "home" / ".cache" / "chainrule"
    images = sample_array(np.dtype(np.uint8), (2, 28, 28), seed=8)
    _write_set(cache, "train", images, np.array([4, 2], dtype=np.uint8))
    loaded_images, loaded_labels = load_mnist("train", download=False)
    assert_identical(loaded_images, images)
    np.testing.assert_array_equal(loaded_labels, [4, 2])
    # <cache>/<name> wins over <cache>.
    named = sample_array(np.dtype(np.uint8), (1, 28, 28), seed=9)
    _write_set(cache / "mnist", "train", named, np.array([6], dtype=np.uint8))
    assert_identical(load_mnist("train", download=False)[0], named)


@pytest.mark.parametrize(
    ("load", "name"), [(load_mnist, "mnist"), (load_fashion_mnist, "fashion-mnist")]
)
def test_not_found_message_lists_every_folder_in_search_order(
    isolated_env: Path, load: Callable[..., Any], name: str
) -> None:
    given = isolated_env / "given"
    data = isolated_env / "chainrule-data"
    cache = isolated_env / "home" / ".cache" / "chainrule"
    with pytest.raises(FileNotFoundError) as caught:
        load("test", path=given, download=False)
    expected = [given, data / name, data, cache / name, cache]
    if name == "fashion-mnist":
        expected.append(isolated_env / "no-system-dir")
    assert _looked_in(str(caught.value)) == [str(folder) for folder in expected]


class _Response:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def read(self) -> bytes:
        return self.content

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *args: object) -> None:
        return None


def _serve(monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes]) -> list[str]:
    """Answer urlopen with ``files`` (by the URL's last part); returns the URLs asked for."""
    asked: list[str] = []

    def urlopen(url: str, timeout: float = 0) -> _Response:
        asked.append(url)
        return _Response(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def test_download_goes_into_the_named_cache_folder(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = sample_array(np.dtype(np.uint8), (3, 28, 28), seed=10)
    labels = np.array([1, 2, 3], dtype=np.uint8)
    asked = _serve(
        monkeypatch,
        {
            "t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(images)),
            "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(labels)),
        },
    )
    loaded_images, loaded_labels = load_mnist("test")
    assert len(asked) == 2
    assert_identical(loaded_images, images)
    np.testing.assert_array_equal(loaded_labels, labels)
    folder = isolated_env / "home" / ".cache" / "chainrule" / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == [
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_download_leaves_no_temporary_file(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    content = gzip.compress(idx_bytes(np.array([1, 2], dtype=np.uint8)))
    _serve(monkeypatch, {"train-labels-idx1-ubyte.gz": content})

    def broken(*args: object) -> None:
        raise OSError(f"{failing} failed")

    monkeypatch.setattr(idx_module.os, failing, broken)
    with pytest.raises(OSError, match=failing):
        idx_module._download("mnist", "train-labels-idx1-ubyte")
    folder = isolated_env / "home" / ".cache" / "chainrule" / "mnist"
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda raw: raw[: len(raw) // 2], id="truncated"),
        pytest.param(lambda raw: raw[:12] + b"\xff\xff\xff" + raw[15:], id="bad-deflate"),
    ],
)
def test_damaged_download_is_an_idx_error_and_is_not_kept(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, damage: Callable[[bytes], bytes]
) -> None:
    content = damage(gzip.compress(idx_bytes(np.arange(50, dtype=np.uint8))))
    _serve(monkeypatch, {"train-labels-idx1-ubyte.gz": content})
    with pytest.raises(IDXError, match="train-labels-idx1-ubyte"):
        idx_module._download("mnist", "train-labels-idx1-ubyte")
    folder = isolated_env / "home" / ".cache" / "chainrule" / "mnist"
    assert not folder.exists() or list(folder.iterdir()) == []
