"""``cr.save`` / ``cr.load``: exact round trips, and a clear ``ModelFileError`` (never code
execution) for every damaged, tampered or foreign file."""

from __future__ import annotations

import io as pyio
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.io import ModelFileError, load_metadata

HEADER = "__header__.npy"


def _params(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: p.data.copy() for name, p in model.named_parameters()}


def _assert_same_params(actual: nn.Module, expected: nn.Module) -> None:
    mine, theirs = _params(actual), _params(expected)
    assert list(mine) == list(theirs)
    for name in mine:
        assert mine[name].dtype == theirs[name].dtype, name
        np.testing.assert_array_equal(mine[name], theirs[name], err_msg=name)


def _outputs(model: nn.Module, X: np.ndarray) -> np.ndarray:
    with cr.no_grad():
        return np.asarray(model.eval()(cr.tensor(X)).data)


@pytest.fixture
def saved(tmp_path: Path) -> tuple[nn.Module, Path]:
    cr.manual_seed(0)
    model = nn.mlp(5, [7, 6], 3, "tanh")
    path = tmp_path / "model.npz"
    cr.save(model, path)
    return model, path


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rezip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def _npy(array: np.ndarray) -> bytes:
    buffer = pyio.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _header(path: Path) -> dict[str, Any]:
    raw = np.load(pyio.BytesIO(_members(path)[HEADER]), allow_pickle=False)
    header: dict[str, Any] = json.loads(raw.tobytes().decode())
    return header


def _with_header(path: Path, header: dict[str, Any], forge: bool = False) -> None:
    """Replace the JSON header; with ``forge``, also recompute its SHA-256 as a forger would."""
    members = _members(path)
    if forge:
        from chainrule.io import _digest

        arrays = {
            name[: -len(".npy")]: np.load(pyio.BytesIO(content), allow_pickle=False)
            for name, content in members.items()
            if name != HEADER
        }
        header = {**header, "sha256": _digest(arrays, header)}
    members[HEADER] = _npy(np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    _rezip(path, members)


# ------------------------------------------------------------------------ round trips
def test_mlp_round_trip_gives_the_same_model(saved: tuple[nn.Module, Path]) -> None:
    model, path = saved
    loaded = cr.load(path)
    _assert_same_params(loaded, model)
    X = np.random.default_rng(1).standard_normal((9, 5)).astype(np.float32)
    np.testing.assert_array_equal(_outputs(loaded, X), _outputs(model, X))
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]


def test_round_trip_keeps_every_layer_setting(tmp_path: Path) -> None:
    cr.manual_seed(1)
    model = nn.Sequential(
        nn.Linear(4, 6, dtype=np.float64),
        nn.LeakyReLU(0.2),
        nn.Dropout(0.3),
        nn.Linear(6, 5, bias=False, dtype=np.float64),
        nn.Sigmoid(),
        nn.Identity(),
        nn.Linear(5, 3, dtype=np.float64),
        nn.Tanh(),
        nn.Softmax(dim=1),
    )
    path = tmp_path / "layers.npz"
    cr.save(model, path)
    loaded = cr.load(path)
    _assert_same_params(loaded, model)
    assert loaded.layers[1].negative_slope == 0.2
    assert loaded.layers[2].p == 0.3
    assert loaded.layers[3].bias is None
    assert loaded.layers[8].dim == 1
    assert loaded.layers[0].weight.dtype == np.float64
    X = np.random.default_rng(2).standard_normal((8, 4))
    np.testing.assert_array_equal(_outputs(loaded, X), _outputs(model, X))


class _Custom(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4, dtype=np.float32))
        self.out = nn.Linear(4, 2)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.out(self.hidden(x).tanh() * self.scale)


def test_custom_module_loads_into_a_given_instance(tmp_path: Path) -> None:
    cr.manual_seed(2)
    model = _Custom()
    model.scale.data[:] = [1.0, 2.0, 3.0, 4.0]
    path = tmp_path / "custom.npz"
    cr.save(model, path)
    cr.manual_seed(3)
    fresh = _Custom()
    assert not np.array_equal(fresh.hidden.weight.data, model.hidden.weight.data)
    loaded = cr.load(path, model=fresh)
    assert loaded is fresh
    _assert_same_params(loaded, model)
    X = np.random.default_rng(3).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_array_equal(_outputs(loaded, X), _outputs(model, X))


def test_custom_module_without_model_argument_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "custom.npz"
    cr.save(_Custom(), path)
    with pytest.raises(ModelFileError, match="model=") as caught:
        cr.load(path)
    assert str(path) in str(caught.value)
    assert "architecture" in str(caught.value)


def test_loading_into_a_model_of_another_shape_is_a_model_file_error(
    saved: tuple[nn.Module, Path],
) -> None:
    _, path = saved
    with pytest.raises(ModelFileError, match="shape"):
        cr.load(path, model=nn.mlp(5, [8, 6], 3, "tanh"))


def test_metadata_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "meta.npz"
    cr.save(nn.mlp(2, [3], 2), path, metadata={"epochs": 3, "note": "ok", "list": [1, 2]})
    stored = load_metadata(path)
    assert stored["metadata"] == {"epochs": 3, "note": "ok", "list": [1, 2]}
    assert stored["architecture"]["type"] == "Sequential"


def test_save_is_atomic_and_leaves_no_temporary_files(
    saved: tuple[nn.Module, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    model, path = saved
    before = path.read_bytes()
    cr.save(model, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]

    def failing_savez(file: Any, **arrays: Any) -> None:
        file.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        cr.save(nn.mlp(5, [2], 3), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


# ------------------------------------------------------------------------ damage
@pytest.mark.parametrize("keep", [0, 10, 100, 0.5, -30, -1])
def test_truncated_file_is_a_model_file_error(saved: tuple[nn.Module, Path], keep: float) -> None:
    _, path = saved
    raw = path.read_bytes()
    size = int(len(raw) * keep) if isinstance(keep, float) else keep
    path.write_bytes(raw[:size])
    with pytest.raises(ModelFileError) as caught:
        cr.load(path)
    assert str(path) in str(caught.value)


def test_flipped_byte_in_an_array_is_a_model_file_error(saved: tuple[nn.Module, Path]) -> None:
    _, path = saved
    raw = bytearray(path.read_bytes())
    weight = _members(path)["param/0.weight.npy"]
    # The last bytes of the weight's .npy member are float data.
    position = raw.index(weight) + len(weight) - 3
    raw[position] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError):
        cr.load(path)


def test_changed_and_rezipped_array_fails_the_checksum(saved: tuple[nn.Module, Path]) -> None:
    _, path = saved
    members = _members(path)
    weight = np.load(pyio.BytesIO(members["param/0.weight.npy"]), allow_pickle=False)
    weight = weight.copy()
    weight[0, 0] += 1
    members["param/0.weight.npy"] = _npy(weight)
    _rezip(path, members)
    with pytest.raises(ModelFileError, match="checksum") as caught:
        cr.load(path)
    assert str(path) in str(caught.value)


def test_added_array_fails_the_checksum(saved: tuple[nn.Module, Path]) -> None:
    _, path = saved
    members = _members(path)
    members["param/extra.npy"] = _npy(np.zeros(3))
    _rezip(path, members)
    with pytest.raises(ModelFileError, match="checksum"):
        cr.load(path)


def test_wrong_version_is_a_model_file_error(saved: tuple[nn.Module, Path]) -> None:
    _, path = saved
    header = _header(path)
    assert header["version"] == 1
    _with_header(path, {**header, "version": 99})
    with pytest.raises(ModelFileError, match="version") as caught:
        cr.load(path)
    assert "99" in str(caught.value)


def test_non_chainrule_npz_is_a_model_file_error(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones((3, 3)))
    with pytest.raises(ModelFileError, match="chainrule") as caught:
        cr.load(path)
    assert str(path) in str(caught.value)


def test_not_a_zip_at_all_is_a_model_file_error(tmp_path: Path) -> None:
    path = tmp_path / "text.npz"
    path.write_text("hello, I am not a model\n")
    with pytest.raises(ModelFileError):
        cr.load(path)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        cr.load(tmp_path / "absent.npz")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"\xff\xfe not json", id="not-utf8"),
        pytest.param(b"{unclosed", id="not-json"),
        pytest.param(b"[1, 2]", id="a-list"),
        pytest.param(b'{"format": "other", "version": 1}', id="other-format"),
    ],
)
def test_damaged_header_is_a_model_file_error(saved: tuple[nn.Module, Path], header: bytes) -> None:
    _, path = saved
    members = _members(path)
    members[HEADER] = _npy(np.frombuffer(header, dtype=np.uint8))
    _rezip(path, members)
    with pytest.raises(ModelFileError):
        cr.load(path)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda arch: {**arch, "type": "os.system"}, id="unknown-top-type"),
        pytest.param(
            lambda arch: {**arch, "layers": [{"type": "Eval"}] + arch["layers"]},
            id="unknown-layer",
        ),
        pytest.param(
            lambda arch: {**arch, "layers": [{**arch["layers"][0], "command": "rm -rf /"}]},
            id="unexpected-setting",
        ),
        pytest.param(
            lambda arch: {**arch, "layers": [{**arch["layers"][0], "in_features": "five"}]},
            id="setting-of-wrong-type",
        ),
        pytest.param(lambda arch: {"type": "Sequential"}, id="no-layers"),
        pytest.param(lambda arch: 42, id="not-an-object"),
        pytest.param(
            lambda arch: {**arch, "layers": [{**arch["layers"][0], "in_features": 9}]},
            id="shapes-disagree-with-parameters",
        ),
    ],
)
@pytest.mark.parametrize("forge", [False, True], ids=["edited", "forged"])
def test_tampered_architecture_is_a_model_file_error(
    saved: tuple[nn.Module, Path], tamper: Callable[[Any], Any], forge: bool
) -> None:
    """An edited architecture fails the checksum; a forged one (checksum recomputed, as anyone
    can) must still end in a ModelFileError, never in another exception."""
    _, path = saved
    header = _header(path)
    _with_header(path, {**header, "architecture": tamper(header["architecture"])}, forge=forge)
    with pytest.raises(ModelFileError) as caught:
        cr.load(path)
    assert str(path) in str(caught.value)


# ------------------------------------------------------------------------ no pickle
class _Trap:
    """Unpickling this creates ``marker``: proof that loading ran code from the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _object_array(marker: Path) -> np.ndarray:
    array = np.empty(1, dtype=object)
    array[0] = _Trap(marker)
    return array


def test_npy_with_a_pickled_object_array_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    path = tmp_path / "evil.npy"
    np.save(path, _object_array(marker), allow_pickle=True)
    with pytest.raises(ModelFileError) as caught:
        cr.load(path)
    assert isinstance(caught.value, ValueError)
    assert not marker.exists()


def test_npz_with_an_object_array_beside_a_valid_header_is_refused(
    saved: tuple[nn.Module, Path],
) -> None:
    _, path = saved
    marker = path.parent / "executed"
    members = _members(path)
    buffer = pyio.BytesIO()
    np.save(buffer, _object_array(marker), allow_pickle=True)
    members["param/0.weight.npy"] = buffer.getvalue()
    _rezip(path, members)
    with pytest.raises(ModelFileError):
        cr.load(path)
    assert not marker.exists()


def test_save_refuses_object_arrays(tmp_path: Path) -> None:
    from chainrule.io import write_archive

    with pytest.raises(ValueError, match="numeric"):
        write_archive(tmp_path / "x.npz", {"a": np.array([object()])}, {})
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ zip metadata
def _central_entries(raw: bytes) -> list[int]:
    """Offsets of the zip central-directory records (signature PK\\1\\2)."""
    positions, start = [], 0
    while (found := raw.find(b"PK\x01\x02", start)) != -1:
        positions.append(found)
        start = found + 4
    return positions


@pytest.mark.parametrize(
    ("offset", "value", "what"),
    [
        (8, 0x0001, "encrypted flag"),
        (8, 0x0020, "patched-data flag"),
        (10, 0x0063, "unknown compression method"),
        (6, 0x00FF, "needs a newer zip version"),
    ],
)
def test_damaged_zip_directory_is_a_model_file_error(
    saved: tuple[nn.Module, Path], offset: int, value: int, what: str
) -> None:
    """One damaged field of the zip directory (a two-byte field in the central record of the
    header member) must be reported like any other damage."""
    _, path = saved
    raw = bytearray(path.read_bytes())
    record = _central_entries(bytes(raw))[0]
    raw[record + offset : record + offset + 2] = struct.pack("<H", value)
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError) as caught:
        cr.load(path)
    assert str(path) in str(caught.value), what


def _outcome(path: Path, expected: nn.Module) -> str:
    """ "refused", "same" or what went wrong, for one (possibly damaged) file."""
    try:
        loaded = cr.load(path)
    except ModelFileError:
        return "refused"
    except Exception as error:  # any other exception is the finding
        return f"{type(error).__name__}: {error}"
    same = all(
        np.array_equal(a, b) and a.dtype == b.dtype
        for a, b in zip(loaded.state_dict().values(), expected.state_dict().values())
    )
    return "same" if same else "loaded different parameters"


def test_every_single_byte_damage_is_refused_or_harmless(tmp_path: Path) -> None:
    """Every truncation, every byte flipped (two ways) and a few appended tails of a small
    model file: each is refused with a ModelFileError or loads the original parameters."""
    model = nn.Sequential(nn.Linear(2, 1, rng=np.random.default_rng(0)))
    original = tmp_path / "original.npz"
    cr.save(model, original)
    raw = original.read_bytes()
    variants: dict[str, bytes] = {}
    for size in range(len(raw)):
        variants[f"truncated to {size} bytes"] = raw[:size]
    for position in range(len(raw)):
        for mask in (0x01, 0xFF):
            flipped = raw[:position] + bytes([raw[position] ^ mask]) + raw[position + 1 :]
            variants[f"byte {position} ^ {mask:#04x}"] = flipped
    for tail in (b"\x00", b"garbage", b"PK\x05\x06" + bytes(18), raw):
        variants[f"{len(tail)} bytes appended"] = raw + tail
    path = tmp_path / "damaged.npz"
    failures = []
    for name, content in variants.items():
        path.write_bytes(content)
        outcome = _outcome(path, model)
        if outcome not in ("refused", "same"):
            failures.append(f"{name}: {outcome}")
    assert not failures, f"{len(failures)} damaged files:\n" + "\n".join(failures[:12])


# ------------------------------------------------------------------------ review fixes
def test_load_and_build_leave_the_library_generator_alone(saved: tuple[nn.Module, Path]) -> None:
    """Loading overwrites every weight, so building the layers must not draw from the
    generator that ``cr.manual_seed`` seeds (a run that loads a model stays reproducible)."""
    model, path = saved
    cr.manual_seed(0)
    expected = cr.randn(3).data.copy()
    cr.manual_seed(0)
    cr.load(path)
    np.testing.assert_array_equal(cr.randn(3).data, expected)
    cr.manual_seed(0)
    from chainrule.io import build, describe

    build(describe(model))
    np.testing.assert_array_equal(cr.randn(3).data, expected)


def _nested_model() -> nn.Module:
    rng = np.random.default_rng(4)
    return nn.Sequential(
        nn.Linear(3, 4, rng=rng),
        nn.Sequential(nn.Linear(4, 5, rng=rng), nn.ReLU(), nn.Linear(5, 2, bias=False, rng=rng)),
        nn.Tanh(),
    )


def test_nested_sequential_round_trip(tmp_path: Path) -> None:
    model = _nested_model()
    path = tmp_path / "nested.npz"
    cr.save(model, path)
    loaded = cr.load(path)
    _assert_same_params(loaded, model)
    assert list(_params(loaded)) == ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.2.weight"]


def _tamper_nested(arch: dict[str, Any], position: int, **settings: Any) -> dict[str, Any]:
    inner = arch["layers"][1]
    layers = list(inner["layers"])
    layers[position] = {**layers[position], **settings}
    return {**arch, "layers": [arch["layers"][0], {**inner, "layers": layers}, arch["layers"][2]]}


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        pytest.param(
            lambda arch: {**arch, "layers": [{**arch["layers"][0], "in_features": 9}]},
            "0.weight",
            id="in-features",
        ),
        pytest.param(
            lambda arch: {**arch, "layers": [{**arch["layers"][0], "out_features": 2**40}]},
            "0.weight",
            id="huge-out-features",
        ),
        pytest.param(
            lambda arch: {**arch, "layers": [{**arch["layers"][0], "bias": False}]},
            "0.bias",
            id="bias-dropped",
        ),
        pytest.param(
            lambda arch: _tamper_nested(arch, 0, out_features=7), "1.0.weight", id="n-out"
        ),
        pytest.param(lambda arch: _tamper_nested(arch, 2, bias=True), "1.2.bias", id="n-bias"),
        pytest.param(
            lambda arch: {**arch, "layers": arch["layers"] + [arch["layers"][0]]},
            "3.weight",
            id="extra-linear",
        ),
    ],
)
def test_linear_shapes_are_checked_against_the_arrays_before_building(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Callable[[Any], Any],
    named: str,
) -> None:
    """An architecture that disagrees with the stored arrays is refused before any layer is
    built, so a forged header cannot make loading allocate a huge model."""
    import chainrule.io as crio

    path = tmp_path / "nested.npz"
    cr.save(_nested_model(), path)
    header = _header(path)
    _with_header(path, {**header, "architecture": tamper(header["architecture"])}, forge=True)

    def no_build(spec: Any) -> nn.Module:
        raise AssertionError("build was called for an architecture that disagrees")

    monkeypatch.setattr(crio, "build", no_build)
    with pytest.raises(ModelFileError) as caught:
        cr.load(path)
    assert str(path) in str(caught.value)
    assert named in str(caught.value)


def test_memory_error_while_building_is_a_model_file_error(
    saved: tuple[nn.Module, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = saved

    def exhausted(*args: Any, **kwargs: Any) -> None:
        raise MemoryError

    monkeypatch.setattr(nn.Linear, "__init__", exhausted)
    with pytest.raises(ModelFileError, match="memory") as caught:
        cr.load(path)
    assert str(path) in str(caught.value)


def test_deeply_nested_header_is_a_model_file_error(saved: tuple[nn.Module, Path]) -> None:
    """JSON nested deep enough to exhaust Python's recursion is damage like any other."""
    _, path = saved
    members = _members(path)
    text = '{"format": "chainrule", "version": 1, "architecture": ' + "[" * 100_000 + "]" * 100_000
    members[HEADER] = _npy(np.frombuffer((text + "}").encode(), dtype=np.uint8))
    _rezip(path, members)
    with pytest.raises(ModelFileError) as caught:
        cr.load(path)
    assert str(path) in str(caught.value)


def test_building_a_deeply_nested_architecture_is_a_model_file_error() -> None:
    from chainrule.io import build

    deep: Any = {"type": "Identity"}
    for _ in range(20_000):
        deep = {"type": "Sequential", "layers": [deep]}
    with pytest.raises(ModelFileError, match="deep"):
        build(deep)


def test_module_docstring_is_honest_about_the_checksum() -> None:
    import chainrule.io as crio

    text = " ".join((crio.__doc__ or "").split())
    assert "SHA-256" in text
    assert "forgery" in text
    assert "never executes" in text
