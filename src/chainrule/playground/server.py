"""The playground's web server: Starlette on uvicorn, one WebSocket per tab.

Security is Jupyter's: a secret token on every request (the query's ``token``, or the cookie
the page receives with it), the ``Host`` header checked against the addresses the server
listens on (DNS rebinding), the ``Origin`` header, when sent, checked to be the server's own
(cross-site WebSocket hijacking), messages and uploads capped, and no path from the page ever
reaching the file system (the static files are the package's, served by Starlette's
``StaticFiles``, which refuses paths that leave its folder).

Each tab's ``Handler`` (its session) lives as long as its socket. Training runs in a worker
thread a slice at a time; the page acknowledges each frame it takes to draw (``drawn``), and at
most two frames are ever unacknowledged, so a slow page gets fewer frames, never a queue.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .protocol import Handler, ProtocolError, Reply, encode_binary
from .upload import MAX_UPLOAD_BYTES

__all__ = ["Playground", "create_app", "new_token"]

LOG = logging.getLogger("chainrule.playground")
SLICE_SECONDS = 0.02  # training between two looks at the socket
MAX_IN_FLIGHT = 2
SWITCH_INTERVAL = 0.0005  # seconds a thread may hold the GIL while the event loop waits
MAX_MESSAGE_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(24)


def static_folder() -> Path:
    return Path(str(resources.files("chainrule.playground") / "static"))


class Guard:
    """ASGI middleware: token, Host and Origin checks before anything else runs."""

    def __init__(self, app: Any, token: str, hosts: set[str], any_host: bool) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts
        self.any_host = any_host
        self.cookie = "chainrule-playground-token"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        refusal = self._refusal(scope, headers, host)
        if refusal:
            status, reason = refusal
            LOG.warning("refused %s %s: %s", scope["type"], scope.get("path", ""), reason)
            await _refuse(scope, receive, send, status, reason)
            return
        await self.app(scope, receive, _with_headers(send, scope, self._cookie_header(scope)))

    def _refusal(self, scope: Scope, headers: dict[str, str], host: str) -> tuple[int, str] | None:
        if not self.any_host and host.lower() not in self.hosts:
            return 403, f"Host {host[:80]!r} is not this server's address"
        origin = headers.get("origin")
        if origin is not None and not self._own_origin(origin, host):
            return 403, f"Origin {origin[:80]!r} is not this server's page"
        if not self._has_token(scope, headers):
            return 401, "missing or wrong token; open the address the server printed"
        return None

    def _own_origin(self, origin: str, host: str) -> bool:
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()

    def _has_token(self, scope: Scope, headers: dict[str, str]) -> bool:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        offered = query.get("token", [])
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is no token, not a crash
            cookies = SimpleCookie()
        if self.cookie in cookies:
            offered.append(cookies[self.cookie].value)
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("token "):
            offered.append(authorization[6:].strip())
        return any(hmac.compare_digest(o.encode(), self.token.encode()) for o in offered)

    def _cookie_header(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        """The token as a cookie with the page, so that its scripts and styles load without
        the token in their addresses (strict same-site, not readable by scripts)."""
        if scope["type"] != "http" or scope.get("path") != "/":
            return []
        value = f"{self.cookie}={self.token}; HttpOnly; SameSite=Strict; Path=/"
        return [(b"set-cookie", value.encode())]


def _with_headers(send: Send, scope: Scope, extra: list[tuple[bytes, bytes]]) -> Send:
    """``send`` that adds the security headers (and ``extra``) to every HTTP response."""
    if scope["type"] != "http":
        return send

    async def sending(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers += [
                (b"content-security-policy", CSP),
                (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"),
                (b"x-frame-options", b"DENY"),
                (b"cache-control", b"no-store"),
                *extra,
            ]
            message = {**message, "headers": headers}
        await send(message)

    return sending


CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, reason: str) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting answers the handshake with HTTP 403.
        await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
        return
    body = f"{status} {reason}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Tab:
    """One WebSocket: its handler, the play loop, and whether the page is ready for a frame."""

    def __init__(self, websocket: Any, handler: Handler) -> None:
        self.websocket = websocket
        self.handler = handler
        self.lock = asyncio.Lock()
        self.in_flight = 0  # frames sent that the page has not yet taken to draw
        self.wake = asyncio.Event()

    async def run(self) -> None:
        player = asyncio.create_task(self._play_loop())
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._handle(message)
        finally:
            player.cancel()
            self.handler.session.playing = False

    async def _handle(self, message: MutableMapping[str, Any]) -> None:
        text, data = message.get("text"), message.get("bytes")
        if text is not None and _is_drawn(text):
            self.in_flight = max(self.in_flight - 1, 0)
            return
        try:
            async with self.lock:
                if text is not None:
                    replies = await asyncio.to_thread(self.handler.text, text)
                elif data is not None:
                    replies = await asyncio.to_thread(self.handler.binary, data)
                else:
                    return
        except ProtocolError as error:
            LOG.warning("refused a message: %s", error)
            replies = [{"type": "error", "message": f"refused: {error}"}]
        except Exception as error:  # a bug must not take the server down with it
            LOG.exception("the playground failed on a message")
            replies = [{"type": "error", "message": f"internal error: {type(error).__name__}"}]
        for reply in replies:
            await self._send(reply)
        if self.handler.session.playing:
            self.wake.set()

    def page_ready(self) -> bool:
        """Whether the page may take another frame: at most two are on their way or waiting
        to be drawn, so the page always has the next one when it finishes drawing, and a
        slow page makes the server send fewer frames rather than queue them."""
        return self.in_flight < MAX_IN_FLIGHT

    async def _send(self, reply: Reply) -> None:
        if isinstance(reply, tuple):
            header, payload = reply
            if header.get("type") == "frame":
                self.in_flight += 1
            await self.websocket.send_bytes(encode_binary(header, payload))
        else:
            await self.websocket.send_text(json.dumps(reply, allow_nan=False))

    async def _play_loop(self) -> None:
        session = self.handler.session
        while True:
            await self.wake.wait()
            self.wake.clear()
            while session.playing:
                frame = None
                async with self.lock:
                    if not session.playing:
                        break
                    try:
                        frame = await asyncio.to_thread(self._train_slice)
                    except Exception as error:
                        session.playing = False
                        message = str(error).splitlines()[0][:300] if str(error) else ""
                        if not isinstance(error, ValueError):
                            LOG.exception("training failed")
                            message = f"internal error: {type(error).__name__}"
                        await self._send({"type": "error", "message": message})
                        frame = await asyncio.to_thread(session.frame)
                if frame is not None:
                    await self._send(frame)
                await asyncio.sleep(0)

    def _train_slice(self) -> tuple[dict[str, Any], bytes] | None:
        """Train for about SLICE_SECONDS (at least one epoch); the frame when the page is ready
        for one, or when training stopped."""
        session = self.handler.session
        deadline = time.perf_counter() + SLICE_SECONDS
        session.train(1)
        # The page said it drew the last frame: send the next at once (after this epoch), so
        # frames keep pace with the page; otherwise train on until the slice ends.
        while session.playing and not self.page_ready() and time.perf_counter() < deadline:
            session.train(1)
        if self.page_ready() or not session.playing:
            return session.frame()
        return None


def _is_drawn(text: str) -> bool:
    return len(text) < 40 and text.replace(" ", "") == '{"type":"drawn"}'


def create_app(
    token: str,
    hosts: set[str],
    any_host: bool = False,
    start: Callable[[], Handler] = Handler,
) -> Any:
    """The ASGI application: the page, its static files and the WebSocket, behind the Guard.
    ``start`` makes each new tab's handler (a new session, or one on the command line's
    table)."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket

    folder = static_folder()
    tabs: set[Tab] = set()

    async def page(_: Any) -> Any:
        return FileResponse(folder / "index.html", media_type="text/html; charset=utf-8")

    async def socket_endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        tab = Tab(websocket, await asyncio.to_thread(start))
        tabs.add(tab)
        LOG.info("tab opened (%d open)", len(tabs))
        try:
            await tab.run()
        except Exception:  # the socket broke: the tab is gone, the server stays
            LOG.info("tab connection ended abruptly", exc_info=True)
        finally:
            tabs.discard(tab)
            LOG.info("tab closed (%d open)", len(tabs))

    app = Starlette(
        routes=[
            Route("/", page),
            Mount("/static", StaticFiles(directory=folder), name="static"),
            WebSocketRoute("/ws", socket_endpoint),
        ]
    )
    app.state.tabs = tabs
    return Guard(app, token, hosts, any_host)


class Playground:
    """A bound socket and the server that will serve it: ``url`` is known before ``run``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        start: Callable[[], Handler] = Handler,
    ) -> None:
        self.host = host
        self.token = new_token()
        self.socket = _bind(host, port)
        self.port = self.socket.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/?token={self.token}"
        hosts = {f"{name}:{self.port}" for name in LOCAL_NAMES} | {f"{shown}:{self.port}"}
        self.any_host = _is_wildcard(host)
        self.app = create_app(self.token, {h.lower() for h in hosts}, self.any_host, start)
        self.server: Any = None

    def run(self) -> None:
        """Serve until Ctrl-C (or ``stop``)."""
        import uvicorn

        config = uvicorn.Config(
            self.app,
            log_level="warning",
            ws_max_size=MAX_MESSAGE_BYTES,
            timeout_graceful_shutdown=1,
            ws_ping_interval=None,
            # Frames are quantised heat maps on a local socket: compressing them cost more
            # time than sending them.
            ws_per_message_deflate=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        # Training runs in worker threads, which hold the GIL for a switch interval at a time;
        # each step of the event loop (a message read, a frame sent) waits that long for it.
        # At the default 5 ms a frame's round trip took 60 ms; at 0.5 ms it takes a few.
        previous = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            self.server.run(sockets=[self.socket])
        finally:
            sys.setswitchinterval(previous)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _bind(host: str, port: int | None) -> socket.socket:
    """A listening socket on ``host``: ``port``, or 8765 and the next ones, or any free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    candidates = [port] if port is not None else [*range(8765, 8775), 0]
    last: OSError | None = None
    for candidate in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as error:
            sock.close()
            last = error
            continue
        sock.listen(64)
        sock.set_inheritable(True)
        return sock
    reason = last.strerror if last is not None and last.strerror else str(last)
    where = f"port {port}" if port is not None else "ports 8765-8774 or a free port"
    raise OSError(f"cannot listen on {host} {where}: {reason}")
