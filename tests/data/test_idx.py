"""IDX files (MNIST, Fashion-MNIST): exact round trips of files written here, a clear
``IDXError`` for every kind of damage, a fuzz test, and the dataset loaders: where they look
(a given data path is the only place), and what they accept as images and labels."""

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

import chainrule.data
from chainrule.data import (
    IDXError,
    load_fashion_mnist,
    load_mnist,
    load_train_test,
    parse_idx,
    read_idx,
)
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


@pytest.mark.parametrize("load", [load_mnist, load_fashion_mnist])
def test_missing_files_name_where_the_loader_looked(
    isolated_env: Path, load: Callable[..., Any]
) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        load("train", download=False)
    message = str(caught.value)
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
    data = isolated_env / "chainrule-data"
    cache = isolated_env / "home" / ".cache" / "chainrule"
    with pytest.raises(FileNotFoundError) as caught:
        load("test", download=False)
    expected = [data / name, data, cache / name, cache]
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


# ------------------------------------------------------------- a data path is the only place
def _small_set(seed: int, count: int = 3, size: int = 28) -> tuple[np.ndarray, np.ndarray]:
    images = sample_array(np.dtype(np.uint8), (count, size, size), seed=seed)
    return images, np.arange(count, dtype=np.uint8) % 10


def _refuse_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def urlopen(url: str, timeout: float = 0) -> None:
        raise AssertionError(f"nothing may be downloaded with a data path given ({url})")

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


@pytest.mark.parametrize(
    ("load", "name"), [(load_mnist, "mnist"), (load_fashion_mnist, "fashion-mnist")]
)
def test_a_data_path_that_does_not_exist_is_an_error_not_replaced_by_another_copy(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, load: Callable[..., Any], name: str
) -> None:
    """The files exist in $CHAINRULE_DATA, the cache and the system folder; a mistyped data
    path must still be reported instead of being quietly replaced by one of them."""
    for folder in (
        isolated_env / "chainrule-data" / name,
        isolated_env / "home" / ".cache" / "chainrule" / name,
        isolated_env / "no-system-dir",
    ):
        _write_set(folder, "train", *_small_set(seed=11))
    _refuse_downloads(monkeypatch)
    missing = isolated_env / "typo"
    with pytest.raises(FileNotFoundError) as caught:
        load("train", path=missing)
    assert str(caught.value) == f"{name}: data path '{missing}' does not exist"


def test_a_data_path_that_is_a_file_is_an_error(isolated_env: Path) -> None:
    file = isolated_env / "train-images-idx3-ubyte"
    file.write_bytes(idx_bytes(_small_set(seed=12)[0]))
    with pytest.raises(FileNotFoundError, match="is not a folder") as caught:
        load_fashion_mnist("train", path=file)
    assert f"fashion-mnist: data path '{file}'" in str(caught.value)


@pytest.mark.parametrize("download", [True, False])
def test_a_data_path_is_searched_alone_and_nothing_is_downloaded(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, download: bool
) -> None:
    _write_set(isolated_env / "chainrule-data" / "mnist", "train", *_small_set(seed=13))
    _refuse_downloads(monkeypatch)
    given = isolated_env / "given"
    given.mkdir()
    with pytest.raises(FileNotFoundError) as caught:
        load_mnist("train", path=given, download=download)
    message = str(caught.value)
    assert "train-images-idx3-ubyte" in message
    assert str(given) in message
    assert "chainrule-data" not in message and ".cache" not in message
    # One file present, the other missing: the missing one is named.
    (given / "train-images-idx3-ubyte").write_bytes(idx_bytes(_small_set(seed=13)[0]))
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_mnist("train", path=given, download=download)


def test_a_data_path_may_hold_the_files_or_a_folder_named_after_the_set(
    isolated_env: Path,
) -> None:
    images, labels = _small_set(seed=14)
    _write_set(isolated_env / "direct", "t10k", images, labels)
    _write_set(isolated_env / "parent" / "fashion-mnist", "t10k", images, labels)
    for folder in (isolated_env / "direct", isolated_env / "parent", str(isolated_env / "parent")):
        loaded_images, loaded_labels = load_fashion_mnist("test", path=folder)
        assert_identical(loaded_images, images)
        np.testing.assert_array_equal(loaded_labels, labels)


def test_a_data_path_starting_with_a_tilde_is_in_the_home_folder(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images, labels = _small_set(seed=15)
    _write_set(isolated_env / "home" / "datasets", "train", images, labels)
    assert_identical(load_mnist("train", path="~/datasets")[0], images)
    with pytest.raises(FileNotFoundError, match="'~/absent'"):
        load_mnist("train", path="~/absent")


# ------------------------------------------------------------- what the files must hold
def test_float_labels_must_be_whole_numbers(isolated_env: Path) -> None:
    images, _ = _small_set(seed=16)
    folder = isolated_env / "floats"
    _write_set(folder, "train", images, np.array([1.0, 2.3, 4.0], dtype=np.float32))
    with pytest.raises(IDXError, match="labels must be integers") as caught:
        load_mnist("train", path=folder)
    assert str(folder / "train-labels-idx1-ubyte") in str(caught.value)
    assert "2.3" in str(caught.value)
    # Whole numbers stored as floats are class labels all the same.
    _write_set(folder, "train", images, np.array([1.0, 0.0, 9.0], dtype=np.float64))
    labels = load_mnist("train", path=folder)[1]
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [1, 0, 9])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_float_labels_that_are_not_finite_are_refused(isolated_env: Path, bad: float) -> None:
    folder = isolated_env / "floats"
    _write_set(folder, "train", _small_set(seed=17)[0], np.array([1.0, bad, 4.0]))
    with pytest.raises(IDXError, match="labels must be integers"):
        load_mnist("train", path=folder)


def test_negative_labels_are_refused(isolated_env: Path) -> None:
    folder = isolated_env / "negative"
    _write_set(folder, "t10k", _small_set(seed=18)[0], np.array([3, -1, 2], dtype=np.int8))
    with pytest.raises(IDXError, match="non-negative") as caught:
        load_fashion_mnist("test", path=folder)
    assert str(folder / "t10k-labels-idx1-ubyte") in str(caught.value)
    assert "-1 at index 1" in str(caught.value)


def test_labels_must_be_one_dimensional(isolated_env: Path) -> None:
    folder = isolated_env / "matrix"
    _write_set(folder, "train", _small_set(seed=19)[0], np.zeros((3, 2), dtype=np.uint8))
    with pytest.raises(IDXError, match="1-D array, got shape \\(3, 2\\)") as caught:
        load_mnist("train", path=folder)
    assert str(folder / "train-labels-idx1-ubyte") in str(caught.value)


@pytest.mark.parametrize("shape", [(3, 784), (3, 28, 28, 1), (3, 0, 28)])
def test_images_must_be_n_rows_cols(isolated_env: Path, shape: tuple[int, ...]) -> None:
    folder = isolated_env / "flat"
    images = np.zeros(shape, dtype=np.uint8)
    _write_set(folder, "train", images, np.array([1, 2, 3], dtype=np.uint8))
    with pytest.raises(IDXError) as caught:
        load_mnist("train", path=folder)
    assert str(folder / "train-images-idx3-ubyte.gz") in str(caught.value)
    assert str(shape[1:]) in str(caught.value) or str(shape) in str(caught.value)


def test_swapped_image_and_label_files_are_named_as_swapped(isolated_env: Path) -> None:
    images, labels = _small_set(seed=20)
    folder = isolated_env / "swapped"
    _write_set(folder, "train", labels, images)
    with pytest.raises(IDXError, match="swapped") as caught:
        load_mnist("train", path=folder)
    message = str(caught.value)
    images_file = folder / "train-images-idx3-ubyte.gz"
    labels_file = folder / "train-labels-idx1-ubyte"
    assert f"{images_file} holds a 1-D array (3,), like a labels file" in message
    assert f"{labels_file} a 3-D array (3, 28, 28), like an images file" in message


def test_mismatched_counts_name_both_files(isolated_env: Path) -> None:
    images = sample_array(np.dtype(np.uint8), (3, 28, 28), seed=7)
    folder = isolated_env / "given"
    _write_set(folder, "train", images, np.array([1, 2], dtype=np.uint8))
    with pytest.raises(IDXError) as caught:
        load_mnist("train", path=folder, download=False)
    assert str(caught.value) == (
        f"{folder / 'train-images-idx3-ubyte.gz'} has 3 images but "
        f"{folder / 'train-labels-idx1-ubyte'} has 2 labels; they must match one to one"
    )


# ------------------------------------------------------------------------ load_train_test
def test_load_train_test_returns_both_splits_as_written(isolated_env: Path) -> None:
    assert chainrule.data.load_train_test is load_train_test
    train_images, train_labels = _small_set(seed=21, count=5)
    test_images, test_labels = _small_set(seed=22, count=2)
    folder = isolated_env / "both"
    _write_set(folder, "train", train_images, train_labels)
    _write_set(folder, "t10k", test_images, test_labels)
    loaded = load_train_test("mnist", path=folder)
    assert len(loaded) == 4
    assert_identical(loaded[0], train_images)
    np.testing.assert_array_equal(loaded[1], train_labels)
    assert_identical(loaded[2], test_images)
    np.testing.assert_array_equal(loaded[3], test_labels)
    assert loaded[1].dtype == loaded[3].dtype == np.int64


def test_load_train_test_refuses_train_and_test_images_of_different_sizes(
    isolated_env: Path,
) -> None:
    folder = isolated_env / "sizes"
    _write_set(folder, "train", *_small_set(seed=23, count=4, size=28))
    _write_set(folder, "t10k", *_small_set(seed=24, count=2, size=14))
    with pytest.raises(IDXError, match="differ in size") as caught:
        load_train_test("fashion-mnist", path=folder)
    message = str(caught.value)
    assert str(folder / "train-images-idx3-ubyte.gz") in message
    assert str(folder / "t10k-images-idx3-ubyte.gz") in message
    assert "(4, 28, 28)" in message and "(2, 14, 14)" in message


def test_load_train_test_follows_the_data_path_rule(isolated_env: Path) -> None:
    _write_set(isolated_env / "chainrule-data" / "mnist", "train", *_small_set(seed=25))
    _write_set(isolated_env / "chainrule-data" / "mnist", "t10k", *_small_set(seed=26))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_train_test("mnist", path=isolated_env / "typo")
    # Without a path, the search order finds them.
    assert load_train_test("mnist", download=False)[0].shape == (3, 28, 28)


def test_load_train_test_names_the_known_sets(isolated_env: Path) -> None:
    with pytest.raises(ValueError, match="'fashion-mnist', 'mnist'") as caught:
        load_train_test("cifar10", path=isolated_env)
    assert "cifar10" in str(caught.value)


@needs_fashion
def test_load_train_test_from_the_debian_package() -> None:
    images_train, labels_train, images_test, labels_test = load_train_test(
        "fashion-mnist", path=FASHION_DIR
    )
    assert images_train.shape == (60000, 28, 28) and images_test.shape == (10000, 28, 28)
    assert labels_train.shape == (60000,) and labels_test.shape == (10000,)
