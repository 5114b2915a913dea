"""The messages between the page and a tab's session: decoded, checked and answered.

Everything that comes from the page is hostile until checked: a message is a size-capped JSON
object whose ``type`` is one of ``HANDLERS`` and whose fields have the types the handler names.
Anything else is refused with a ``ProtocolError`` (one line, shown on the page and logged); a
message never reaches the session half-checked. Binary messages are framed as in
docs/playground.md: [uint32 LE header length][JSON header][padding to 4][payload].
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from typing import Any

from .session import PlaygroundError, Session
from .settings import SettingsError
from .upload import MAX_UPLOAD_BYTES, UploadedTable, UploadError, read_upload

__all__ = [
    "MAX_TEXT_BYTES",
    "Handler",
    "ProtocolError",
    "Reply",
    "decode_binary",
    "encode_binary",
]

MAX_TEXT_BYTES = 64 * 1024
MAX_HEADER_BYTES = 4096

# A reply is a JSON object (a text message) or a header and its payload (a binary message).
Reply = dict[str, Any] | tuple[dict[str, Any], bytes]


class ProtocolError(ValueError):
    """A message that is not what the protocol allows."""


def encode_binary(header: dict[str, Any], payload: bytes) -> bytes:
    """A binary message: the JSON header's length, the header, zero padding to a multiple of 4
    (so the payload can be viewed as a typed array in the page), the payload."""
    raw = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    padding = (-(4 + len(raw))) % 4
    return struct.pack("<I", len(raw)) + raw + b"\0" * padding + payload


def decode_binary(message: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and payload of a binary message from the page."""
    if len(message) < 4:
        raise ProtocolError("binary message: shorter than its 4-byte header length")
    (length,) = struct.unpack("<I", message[:4])
    if length > MAX_HEADER_BYTES or 4 + length > len(message):
        raise ProtocolError(f"binary message: header length {length} does not fit")
    header = _json_object(message[4 : 4 + length], "binary message header")
    start = 4 + length + (-(4 + length)) % 4
    return header, message[start:]


def _json_object(raw: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise ProtocolError(f"{what}: not valid JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what}: expected a JSON object")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _integer(message: dict[str, Any], key: str) -> int:
    value = message.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**31:
        raise ProtocolError(f"{message.get('type')}: {key} must be an integer")
    return value


def _number(message: dict[str, Any], key: str) -> float:
    value = message.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError(f"{message.get('type')}: {key} must be a number")
    if not math.isfinite(float(value)):
        raise ProtocolError(f"{message.get('type')}: {key} must be finite")
    return float(value)


class Handler:
    """One tab's side of the conversation: its session and what it uploaded."""

    def __init__(self, session: Session | None = None) -> None:
        self.session = session or Session()
        self.upload: UploadedTable | None = None
        self.handlers: dict[str, Callable[[dict[str, Any]], list[Reply]]] = {
            "settings": self._settings,
            "play": self._play,
            "pause": self._pause,
            "step": self._step,
            "reset": self._reset,
            "set-weight": self._set_weight,
            "set-bias": self._set_bias,
            "neuron": self._neuron,
            "backprop": self._backprop,
            "gradcheck": self._gradcheck,
            "export": self._export,
            "add-point": self._add_point,
            "move-point": self._move_point,
            "delete-point": self._delete_point,
            "use-columns": self._use_columns,
            "drawn": lambda _: [],  # the server's socket loop reads it; nothing to answer
        }

    # -------------------------------------------------------------- entry points
    def text(self, raw: str) -> list[Reply]:
        """Answer a text message; bad ones raise ProtocolError, refused settings and requests
        come back as an ``error`` reply."""
        if len(raw) > MAX_TEXT_BYTES:
            raise ProtocolError(f"message of {len(raw)} characters; at most {MAX_TEXT_BYTES}")
        message = _json_object(raw, "message")
        kind = message.get("type")
        if not isinstance(kind, str) or kind not in self.handlers:
            shown = str(kind)[:30]
            raise ProtocolError(f"unknown message type {shown!r}")
        return self._answer(self.handlers[kind], message)

    def binary(self, raw: bytes) -> list[Reply]:
        """Answer a binary message (an upload)."""
        if len(raw) > MAX_UPLOAD_BYTES + MAX_HEADER_BYTES + 8:
            raise ProtocolError(f"upload of {len(raw)} bytes; at most {MAX_UPLOAD_BYTES}")
        header, payload = decode_binary(raw)
        if header.get("type") != "upload":
            raise ProtocolError(f"unknown binary message type {str(header.get('type'))[:30]!r}")
        return self._answer(lambda _: self._upload(header.get("name"), payload), header)

    def _answer(
        self, handler: Callable[[dict[str, Any]], list[Reply]], message: Any
    ) -> list[Reply]:
        try:
            return handler(message)
        except (SettingsError, PlaygroundError, UploadError) as error:
            return [{"type": "error", "message": str(error).splitlines()[0][:300]}]

    # -------------------------------------------------------------- handlers
    def _state_and_frame(self) -> list[Reply]:
        return [self.session.state(), self.session.frame()]

    def _settings(self, message: dict[str, Any]) -> list[Reply]:
        settings = message.get("settings")
        if not isinstance(settings, dict):
            raise ProtocolError("settings: expected an object under 'settings'")
        self.session.apply(settings)
        return self._state_and_frame()

    def _play(self, _: dict[str, Any]) -> list[Reply]:
        reason = self.session.why_untrainable()
        if reason:
            raise PlaygroundError(f"cannot train: {reason}")
        self.session.playing = True
        self.session.notice = ""
        return []

    def _pause(self, _: dict[str, Any]) -> list[Reply]:
        self.session.playing = False
        return [self.session.frame()]

    def _step(self, _: dict[str, Any]) -> list[Reply]:
        self.session.playing = False
        self.session.train(1)
        return [self.session.frame()]

    def _reset(self, _: dict[str, Any]) -> list[Reply]:
        self.session.reset()
        return self._state_and_frame()

    def _set_weight(self, message: dict[str, Any]) -> list[Reply]:
        self.session.set_weight(
            _integer(message, "layer"),
            _integer(message, "to"),
            _integer(message, "from"),
            _number(message, "value"),
        )
        return self._state_and_frame()

    def _set_bias(self, message: dict[str, Any]) -> list[Reply]:
        self.session.set_bias(
            _integer(message, "layer"), _integer(message, "to"), _number(message, "value")
        )
        return self._state_and_frame()

    def _neuron(self, message: dict[str, Any]) -> list[Reply]:
        return [
            self.session.neuron_panel(
                _integer(message, "point"), _integer(message, "layer"), _integer(message, "neuron")
            )
        ]

    def _backprop(self, message: dict[str, Any]) -> list[Reply]:
        return [self.session.backprop(_integer(message, "point"))]

    def _gradcheck(self, _: dict[str, Any]) -> list[Reply]:
        return [self.session.gradcheck()]

    def _export(self, _: dict[str, Any]) -> list[Reply]:
        info, content = self.session.export()
        return [info, ({"type": "model-file", "filename": info["filename"]}, content)]

    def _add_point(self, message: dict[str, Any]) -> list[Reply]:
        self.session.add_point(
            _number(message, "x"), _number(message, "y"), _number(message, "label")
        )
        return self._state_and_frame()

    def _move_point(self, message: dict[str, Any]) -> list[Reply]:
        self.session.move_point(
            _integer(message, "point"), _number(message, "x"), _number(message, "y")
        )
        return self._state_and_frame()

    def _delete_point(self, message: dict[str, Any]) -> list[Reply]:
        self.session.delete_point(_integer(message, "point"))
        return self._state_and_frame()

    def _upload(self, name: Any, payload: bytes) -> list[Reply]:
        self.upload = read_upload(name, payload)
        return [
            {
                "type": "columns",
                "name": self.upload.name,
                "columns": self.upload.columns,
                "numeric": self.upload.numeric,
                "rows": self.upload.frame.height,
            }
        ]

    def _use_columns(self, message: dict[str, Any]) -> list[Reply]:
        if self.upload is None:
            raise PlaygroundError("use-columns: upload a table first")
        settings = self.session.settings
        points = self.upload.points(
            message.get("x1"),
            message.get("x2"),
            message.get("label"),
            settings.trainRatio,
            settings.seed,
        )
        self.session.use_points(points)
        return self._state_and_frame()
