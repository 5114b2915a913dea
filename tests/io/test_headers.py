"""Model and checkpoint headers are checked whole before any field is used: a crafted header
of any shape gives a ``ModelFileError`` naming the file (never AttributeError, KeyError or a
traceback from the CLI), and no error ever advises loading a file unsafely."""

from __future__ import annotations

import io as pyio
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn, optim
from chainrule.cli import main
from chainrule.io import ModelFileError, _digest, load_metadata
from chainrule.train import Checkpoint, load_checkpoint, read_checkpoint_info

HEADER = "__header__.npy"

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _read_header(path: Path) -> dict[str, Any]:
    raw = np.load(pyio.BytesIO(_members(path)[HEADER]), allow_pickle=False)
    header: dict[str, Any] = json.loads(raw.tobytes().decode())
    return header


def _forge(path: Path, header: dict[str, Any], target: Path) -> None:
    """Write ``target``: ``path``'s arrays with ``header``, its checksum recomputed as a forger
    would, so that only the header's structure can refuse it."""
    members = _members(path)
    arrays = {
        name[: -len(".npy")]: np.load(pyio.BytesIO(content), allow_pickle=False)
        for name, content in members.items()
        if name != HEADER
    }
    header = {**header, "sha256": _digest(arrays, header)}
    encoded = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buffer = pyio.BytesIO()
    np.save(buffer, encoded, allow_pickle=False)
    members[HEADER] = buffer.getvalue()
    with zipfile.ZipFile(target, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value that a forger could replace (the value itself included)."""
    places = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            places += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            places += _paths(item, (*prefix, index))
    return places


def _replaced(header: dict[str, Any], place: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(header))
    if not place:
        return value  # type: ignore[no-any-return]
    holder = copy
    for step in place[:-1]:
        holder = holder[step]
    holder[place[-1]] = value
    return copy  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cr.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.npz"
    cr.save(nn.mlp(2, [3], 2, "tanh"), path, metadata={"classes": [0, 1], "note": "x"})
    return path


def _checkpoint_run() -> tuple[nn.Module, Any, tuple[np.ndarray, np.ndarray]]:
    cr.manual_seed(0)
    model = nn.mlp(2, [3], 2, "tanh")
    X = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    return model, optim.Adam(model.parameters(), lr=0.01), (X, (X[:, 0] > 0).astype(np.int64))


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checkpoint") / "checkpoint.npz"
    model, optimizer, data = _checkpoint_run()
    cr.train.fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        data,
        epochs=2,
        batch_size=8,
        progress=False,
        callbacks=[Checkpoint(path, metadata={"config": {"data": "moons"}})],
    )
    return path


# ------------------------------------------------------------------------ crafted headers
@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("metadata", ["a", "list"], "'metadata' must be an object"),
        ("metadata", "text", "'metadata' must be an object"),
        ("architecture", 3, "'architecture' must be an object or null"),
        ("architecture", True, "'architecture' must be an object or null"),
    ],
)
def test_a_model_header_field_of_the_wrong_type_is_named(
    model_file: Path, tmp_path: Path, field: str, value: Any, words: str
) -> None:
    forged = tmp_path / "forged.npz"
    _forge(model_file, {**_read_header(model_file), field: value}, forged)
    for read in (cr.load, load_metadata):
        with pytest.raises(ModelFileError, match=words) as caught:
            read(forged)
        assert str(forged) in str(caught.value)


def test_a_model_header_without_a_field_is_named(model_file: Path, tmp_path: Path) -> None:
    header = _read_header(model_file)
    del header["metadata"]
    forged = tmp_path / "forged.npz"
    _forge(model_file, header, forged)
    with pytest.raises(ModelFileError, match="no 'metadata' field"):
        load_metadata(forged)


def test_a_checkpoint_from_before_metadata_existed_still_resumes(
    checkpoint_file: Path, tmp_path: Path
) -> None:
    header = _read_header(checkpoint_file)
    del header["metadata"], header["callback_keys"]
    older = tmp_path / "checkpoint.npz"
    _forge(checkpoint_file, header, older)
    assert read_checkpoint_info(older)["metadata"] == {}
    model, optimizer, data = _checkpoint_run()
    history = cr.train.fit(
        model, nn.CrossEntropyLoss(), optimizer, data, epochs=3, progress=False, resume_from=older
    )
    assert history.epochs == 3


def test_a_checkpoint_is_not_taken_for_a_model_nor_a_model_for_a_checkpoint(
    model_file: Path, checkpoint_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ModelFileError, match="checkpoint, not a model"):
        cr.load(checkpoint_file)
    with pytest.raises(ModelFileError, match="not a training checkpoint"):
        read_checkpoint_info(model_file)
    assert main(["info", str(checkpoint_file)]) == 1
    err = capsys.readouterr().err
    assert "model.npz" in err and "Traceback" not in err


@FUZZ
@given(data=st.data())
def test_a_model_header_forged_anywhere_is_loaded_or_refused_cleanly(
    model_file: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    header = _read_header(model_file)
    del header["sha256"]
    place = data.draw(st.sampled_from(_paths(header)), label="place")
    value = data.draw(JSON_VALUES, label="value")
    forged = tmp_path_factory.mktemp("forged") / "model.npz"
    _forge(model_file, _replaced(header, place, value), forged)
    for read in (cr.load, load_metadata):
        try:
            read(forged)
        except ModelFileError as error:
            assert str(forged) in str(error)


@FUZZ
@given(data=st.data())
def test_a_checkpoint_header_forged_anywhere_is_restored_or_refused_cleanly(
    checkpoint_file: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    header = _read_header(checkpoint_file)
    del header["sha256"]
    place = data.draw(st.sampled_from(_paths(header)), label="place")
    value = data.draw(JSON_VALUES, label="value")
    forged = tmp_path_factory.mktemp("forged") / "checkpoint.npz"
    _forge(checkpoint_file, _replaced(header, place, value), forged)
    try:
        read_checkpoint_info(forged)
    except ModelFileError as error:
        assert str(forged) in str(error)
    model, optimizer, data_pair = _checkpoint_run()
    state = cr.train.TrainingState(model, optimizer, cr.train.History())
    try:
        load_checkpoint(forged, state)
    except ModelFileError as error:
        assert str(forged) in str(error)


def test_resuming_from_a_checkpoint_with_a_bad_history_is_refused_naming_the_field(
    checkpoint_file: Path, tmp_path: Path
) -> None:
    header = _read_header(checkpoint_file)
    forged = tmp_path / "checkpoint.npz"
    _forge(
        checkpoint_file, {**header, "history": {**header["history"], "train_loss": "low"}}, forged
    )
    model, optimizer, data = _checkpoint_run()
    with pytest.raises(ModelFileError, match="train_loss") as caught:
        cr.train.fit(
            model,
            nn.CrossEntropyLoss(),
            optimizer,
            data,
            epochs=3,
            progress=False,
            resume_from=forged,
        )
    assert str(forged) in str(caught.value)


# ------------------------------------------------------------------------ never unsafe advice
def _pickle_bytes() -> bytes:
    return pickle.dumps({"weights": [1.0, 2.0]})


@pytest.mark.parametrize(
    "content",
    [b"junk\n", b"", _pickle_bytes(), b"PK\x03\x04" + b"\0" * 20],
    ids=["junk", "empty", "pickle", "broken-zip"],
)
def test_a_file_that_is_not_chainrules_is_named_so_without_unsafe_advice(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    messages = []
    for read in (cr.load, load_metadata, read_checkpoint_info):
        with pytest.raises(ModelFileError) as caught:
            read(path)
        messages.append(str(caught.value))
    inputs = tmp_path / "rows.csv"
    inputs.write_text("1,2\n")
    for command in (["info", str(path)], ["predict", str(path), str(inputs)]):
        assert main(command) == 1
        messages.append(capsys.readouterr().err)
    for message in messages:
        assert str(path) in message and "not a chainrule file" in message
        assert "allow_pickle" not in message and "pickle.load" not in message
        assert "Traceback" not in message
