"""The messages between page and server (docs/playground.md, "Protocol"): the binary framing,
an answer of the documented type to every message, and a ProtocolError (never anything else)
for whatever a hostile page might send."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule.playground import Session, Settings
from chainrule.playground.protocol import (
    MAX_HEADER_BYTES,
    MAX_TEXT_BYTES,
    Handler,
    ProtocolError,
    decode_binary,
    encode_binary,
)
from chainrule.playground.session import GRID

pytest.importorskip("polars")


def small_handler(**changes: Any) -> Handler:
    return Handler(Session(Settings().updated({"points": 40, **changes})))


def send(handler: Handler, **message: Any) -> list[Any]:
    return handler.text(json.dumps(message))


def kinds(replies: list[Any]) -> list[str]:
    """Each reply's type; a binary reply shows as 'binary:TYPE'."""
    return [
        f"binary:{reply[0]['type']}" if isinstance(reply, tuple) else reply["type"]
        for reply in replies
    ]


def upload_message(name: str, content: bytes) -> bytes:
    return encode_binary({"type": "upload", "name": name}, content)


TABLE = b"bill,flipper,species\n" + b"".join(
    f"{40 + (i * 7) % 13},{190 + (i * 5) % 29},{['a', 'b', 'c'][i % 3]}\n".encode()
    for i in range(60)
)


# ---------------------------------------------------------------- framing
@pytest.mark.parametrize("extra", range(8))
def test_binary_framing_round_trip_with_padding(extra: int) -> None:
    header = {"type": "frame", "pad": "x" * extra, "n": [1, 2.5, None]}
    payload = bytes(range(37))
    message = encode_binary(header, payload)
    raw = json.dumps(header, separators=(",", ":")).encode()
    (length,) = struct.unpack("<I", message[:4])
    assert length == len(raw)
    assert message[4 : 4 + length] == raw
    start = 4 + length + (-(4 + length)) % 4
    assert start % 4 == 0 and start - (4 + length) < 4
    assert message[4 + length : start] == b"\0" * (start - 4 - length)
    assert message[start:] == payload
    assert decode_binary(message) == (header, payload)
    assert decode_binary(encode_binary(header, b"")) == (header, b"")


def test_encode_refuses_nan() -> None:
    with pytest.raises(ValueError):
        encode_binary({"type": "frame", "loss": math.nan}, b"")


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\x01\x00\x00",
        struct.pack("<I", 10) + b"{}",  # longer than the message
        struct.pack("<I", MAX_HEADER_BYTES + 1) + b" " * (MAX_HEADER_BYTES + 8),
        struct.pack("<I", 2**32 - 1) + b"{}",
        struct.pack("<I", 3) + b"abc",
        struct.pack("<I", 2) + b"[]\0\0",
        struct.pack("<I", 3) + b"NaN\0",
        struct.pack("<I", 2) + b"\xff\xfe\0\0",
    ],
)
def test_decode_refuses_broken_frames(message: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_binary(message)


# ---------------------------------------------------------------- every message type answered
def test_every_message_type_gets_the_documented_replies() -> None:
    handler = small_handler()
    session = handler.session
    replies = send(handler, type="settings", settings={"dataset": "xor", "hidden": [3]})
    assert kinds(replies) == ["state", "binary:frame"]
    state = replies[0]
    for key in (
        "settings",
        "problem",
        "classes",
        "domain",
        "points",
        "network",
        "epoch",
        "trainLoss",
        "testLoss",
        "history",
        "playing",
    ):
        assert key in state, key
    assert state["settings"]["dataset"] == "xor"
    assert state["network"]["sizes"] == [2, 3, 2]
    header, payload = replies[1]
    assert len(payload) == len(header["maps"]) * GRID * GRID
    for reply in replies:
        if isinstance(reply, dict):
            json.dumps(reply, allow_nan=False)
        else:
            encode_binary(*reply)

    assert send(handler, type="play") == []
    assert session.playing is True
    assert send(handler, type="drawn") == []
    replies = send(handler, type="pause")
    assert kinds(replies) == ["binary:frame"]
    assert session.playing is False and replies[0][0]["playing"] is False

    replies = send(handler, type="step")
    assert kinds(replies) == ["binary:frame"]
    assert replies[0][0]["epoch"] == 1
    replies = send(handler, type="reset")
    assert kinds(replies) == ["state", "binary:frame"]
    assert replies[0]["epoch"] == 0

    replies = send(handler, type="set-weight", layer=1, to=2, **{"from": 1}, value=0.5)
    assert kinds(replies)[0] == "state"
    assert replies[0]["network"]["layers"][0]["weights"][2][1] == 0.5
    replies = send(handler, type="set-bias", layer=2, to=1, value=-0.25)
    assert kinds(replies)[0] == "state"
    assert replies[0]["network"]["layers"][1]["biases"][1] == -0.25

    replies = send(handler, type="neuron", point=3, layer=1, neuron=2)
    assert kinds(replies) == ["neuron-panel"]
    for key in ("z", "a", "gprime", "delta", "sumTerms", "dEda", "incoming", "biasGrad"):
        assert key in replies[0], key
    replies = send(handler, type="backprop", point=3)
    assert kinds(replies) == ["backprop"]
    assert [layer["layer"] for layer in replies[0]["layers"]] == [2, 1]
    replies = send(handler, type="gradcheck")
    assert kinds(replies) == ["gradcheck"]
    assert replies[0]["passed"] is True

    replies = send(handler, type="export")
    assert kinds(replies) == ["export", "binary:model-file"]
    info, (file_header, content) = replies
    assert file_header["filename"] == info["filename"]
    (length,) = struct.unpack("<Q", content[:8])  # a safetensors file: its header's length
    assert json.loads(content[8 : 8 + length])["__metadata__"]
    assert decode_binary(encode_binary(file_header, content)) == (file_header, content)

    n = len(session.points)
    replies = send(handler, type="add-point", x=1.0, y=-1.0, label=1)
    assert kinds(replies) == ["state", "binary:frame"]
    assert replies[0]["settings"]["dataset"] == "own"
    assert len(replies[0]["points"]) == n + 1
    replies = send(handler, type="move-point", point=n, x=2.0, y=2.0)
    assert replies[0]["points"][n][:2] == [2.0, 2.0]
    replies = send(handler, type="delete-point", point=n)
    assert len(replies[0]["points"]) == n


def test_upload_and_use_columns() -> None:
    handler = small_handler()
    replies = handler.text(json.dumps({"type": "use-columns", "x1": "a", "x2": "b", "label": "c"}))
    assert kinds(replies) == ["error"]
    replies = handler.binary(upload_message("../penguins.csv", TABLE))
    assert kinds(replies) == ["columns"]
    assert replies[0]["columns"] == ["bill", "flipper", "species"]
    assert replies[0]["numeric"] == ["bill", "flipper"]
    assert replies[0]["name"] == "penguins.csv"
    replies = send(handler, type="use-columns", x1="flipper", x2="bill", label="species")
    assert kinds(replies) == ["state", "binary:frame"]
    state = replies[0]
    assert state["settings"]["dataset"] == "own"
    assert state["classes"] == ["a", "b", "c"]
    assert len(state["points"]) == 60
    assert state["network"]["sizes"][-1] == 3
    assert {p[2] for p in state["points"]} == {0.0, 1.0, 2.0}
    replies = send(handler, type="use-columns", x1="species", x2="bill", label="flipper")
    assert kinds(replies) == ["error"]
    assert "species" in replies[0]["message"]
    replies = handler.binary(upload_message("bad.csv", b"\x00\x01binary"))
    assert kinds(replies) == ["error"]
    assert replies[0]["message"].startswith("bad.csv:")


# ---------------------------------------------------------------- refusals
BAD_TEXT = [
    '{"type": "teleport"}',
    '{"type": null}',
    '{"type": ["play"]}',
    "{}",
    "not json",
    "{'type': 'play'}",
    "",
    "[]",
    '"play"',
    "42",
    "null",
    '{"type": "set-bias", "layer": 1, "to": 0, "value": NaN}',
    '{"type": "set-bias", "layer": 1, "to": 0, "value": Infinity}',
    '{"type": "add-point", "x": -Infinity, "y": 0, "label": 0}',
    '{"type": "neuron", "point": "1", "layer": 1, "neuron": 1}',
    '{"type": "neuron", "point": 1, "layer": 1.5, "neuron": 1}',
    '{"type": "neuron", "point": 1, "layer": 1, "neuron": true}',
    '{"type": "neuron", "point": 1, "layer": 1}',
    '{"type": "neuron", "point": 4294967296, "layer": 1, "neuron": 1}',
    '{"type": "backprop", "point": null}',
    '{"type": "backprop", "point": [0]}',
    '{"type": "delete-point", "point": 0.0}',
    '{"type": "move-point", "point": 0, "x": "1", "y": 0}',
    '{"type": "set-weight", "layer": 1, "to": 0, "from": 0, "value": "0.5"}',
    '{"type": "set-weight", "layer": 1, "to": 0, "value": 0.5}',
    '{"type": "set-weight", "layer": 1, "to": false, "from": 0, "value": 0.5}',
    '{"type": "add-point", "x": 0, "y": 0, "label": true}',
    '{"type": "settings"}',
    '{"type": "settings", "settings": "dataset=xor"}',
    '{"type": "settings", "settings": [["dataset", "xor"]]}',
    "[" * 50_000,
    '{"type": "settings", "settings": ' + "[" * 30_000 + "]" * 30_000 + "}",
    '{"type": "play", "pad": "' + "x" * MAX_TEXT_BYTES + '"}',
]


@pytest.mark.parametrize("raw", BAD_TEXT, ids=lambda raw: raw[:60])
def test_bad_messages_raise_protocol_error(raw: str) -> None:
    handler = small_handler()
    before = handler.session.settings
    with pytest.raises(ProtocolError) as caught:
        handler.text(raw)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 200
    assert handler.session.settings == before


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"abc",
        encode_binary({"type": "frame"}, b""),
        encode_binary({"name": "a.csv"}, b"a,b,c\n1,2,3\n"),
        struct.pack("<I", 5) + b"{bad}" + b"\0" * 3,
        b"\0" * (5 * 1024 * 1024 + 8192),
    ],
)
def test_bad_binary_messages_raise_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        small_handler().binary(raw)


def test_refused_settings_come_back_as_an_error_and_change_nothing() -> None:
    handler = small_handler(dataset="xor", hidden=[3])
    session = handler.session
    send(handler, type="step")
    settings, points = session.settings, session.points.xy.copy()
    weights = [linear.weight.data.copy() for linear in session.model.linears]  # type: ignore[union-attr]
    for change in (
        {"hidden": [17]},
        {"lr": 0},
        {"points": 10**6},
        {"dataset": "plane", "loss": "hinge"},
        {"dataset": "blobs", "classes": 3, "loss": "bce"},
        {"nonsense": 1},
        {"dataset": "circle", "lr": -1},  # one bad key refuses the whole change
    ):
        replies = send(handler, type="settings", settings=change)
        assert kinds(replies) == ["error"], change
        message = replies[0]["message"]
        assert "\n" not in message
        assert session.settings == settings
        np.testing.assert_array_equal(session.points.xy, points)
        assert session.epoch == 1
        for linear, before in zip(session.model.linears, weights):  # type: ignore[union-attr]
            np.testing.assert_array_equal(linear.weight.data, before)
    assert "hidden" in send(handler, type="settings", settings={"hidden": [17]})[0]["message"]


def test_requests_the_session_refuses_come_back_as_errors() -> None:
    handler = small_handler()
    n = len(handler.session.points)
    for message in (
        {"type": "neuron", "point": n, "layer": 1, "neuron": 1},
        {"type": "neuron", "point": 0, "layer": 9, "neuron": 1},
        {"type": "backprop", "point": -1},
        {"type": "delete-point", "point": n},
        {"type": "set-weight", "layer": 7, "to": 0, "from": 0, "value": 1.0},
        {"type": "set-bias", "layer": 1, "to": 0, "value": 1e300},
        {"type": "add-point", "x": 0, "y": 0, "label": 9},
    ):
        replies = send(handler, **message)
        assert kinds(replies) == ["error"], message
    send(handler, type="settings", settings={"model": "perceptron"})
    for message in ({"type": "export"}, {"type": "gradcheck"}, {"type": "backprop", "point": 0}):
        replies = send(handler, **message)
        assert kinds(replies) == ["error"], message
        assert "perceptron" in replies[0]["message"]


# ---------------------------------------------------------------- fuzzing
MESSAGE_TYPES = [
    "settings",
    "play",
    "pause",
    "step",
    "reset",
    "drawn",
    "set-weight",
    "set-bias",
    "neuron",
    "backprop",
    "gradcheck",
    "export",
    "add-point",
    "move-point",
    "delete-point",
    "use-columns",
]
FIELDS = ["point", "layer", "neuron", "to", "from", "value", "x", "y", "label", "x1", "x2"]
SETTING_KEYS = list(Settings().to_mapping())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 20),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 1e-320, 2**31, 2**53 + 1, 10**400]),
    st.text(max_size=12),
    st.sampled_from(["x1", "x2", "tanh", "4,2", "0.03", "nan", "own", "blobs", "bce", "relu"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
setting_values = st.one_of(
    values,
    st.lists(st.integers(-1, 17), max_size=9),
    st.lists(st.sampled_from(["tanh", "relu", "step", "sign", "identity", "bogus"]), max_size=9),
    st.sampled_from(["xor", "blobs", "spiral", "plane", "own", "perceptron", "nearest-mean"]),
    st.sampled_from(["cross-entropy", "bce", "squared", "hinge", "adam", "l1", "he"]),
)
setting_changes = st.dictionaries(
    st.one_of(st.sampled_from(SETTING_KEYS), st.text(max_size=8)), setting_values, max_size=5
)
messages = st.builds(
    lambda kind, fields, changes: (
        {"type": kind, **fields, "settings": changes}
        if kind == "settings"
        else {"type": kind, **fields}
    ),
    st.sampled_from(MESSAGE_TYPES),
    st.dictionaries(st.one_of(st.sampled_from(FIELDS), st.text(max_size=5)), values, max_size=5),
    setting_changes,
)


def json_text(message: Any) -> str:
    # Python's json writes NaN and Infinity for floats that JSON lacks: exactly what a hostile
    # page could send instead of a number.
    return json.dumps(message)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.lists(
        st.one_of(
            messages.map(json_text),
            st.text(max_size=40),
            st.binary(max_size=40),
            st.builds(
                lambda name, content: upload_message(name, content),
                st.text(max_size=10),
                st.one_of(st.binary(max_size=60), st.just(TABLE)),
            ),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_message_is_answered_or_refused_with_a_protocol_error(sequence: list[Any]) -> None:
    handler = small_handler(points=20)
    for raw in sequence:
        try:
            replies = handler.text(raw) if isinstance(raw, str) else handler.binary(raw)
        except ProtocolError as error:
            assert "\n" not in str(error)
            continue
        assert isinstance(replies, list)
        for reply in replies:
            if isinstance(reply, tuple):
                encode_binary(*reply)
            else:
                assert isinstance(reply.get("type"), str)
                json.dumps(reply, allow_nan=False)
                if reply["type"] == "error":
                    assert "\n" not in reply["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages.map(json_text), min_size=1, max_size=4))
def test_any_message_sequence_after_an_upload(sequence: list[str]) -> None:
    handler = small_handler(points=20)
    handler.binary(upload_message("t.csv", TABLE))
    for raw in [
        json.dumps({"type": "use-columns", "x1": "bill", "x2": "flipper", "label": "species"}),
        *sequence,
    ]:
        try:
            replies = handler.text(raw)
        except ProtocolError:
            continue
        for reply in replies:
            if isinstance(reply, tuple):
                encode_binary(*reply)
            else:
                json.dumps(reply, allow_nan=False)
