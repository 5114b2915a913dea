"""The playground's server (chainrule.playground.server) and ``chainrule playground``: the token,
Host and Origin checks, the static files, the WebSocket conversation (settings, play with one
frame in flight, pause, refused messages, oversized uploads), and the real process started,
served and stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainrule.cli import main
from chainrule.playground.protocol import Handler, decode_binary, encode_binary
from chainrule.playground.server import create_app, static_folder
from chainrule.playground.session import GRID, Session
from chainrule.playground.settings import Settings

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # Starlette's notice that it prefers httpx2 to httpx
    warnings.filterwarnings("ignore", message=".*httpx2")
    from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*httpx2")

TOKEN = "test-token-0123456789abcdefghij"
COOKIE = "chainrule-playground-token"


def small_handler() -> Handler:
    return Handler(Session(Settings().updated({"points": 60})))


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app(TOKEN, hosts={"testserver"}, start=small_handler)
    with TestClient(app) as test_client:
        yield test_client


# ---------------------------------------------------------------- HTTP
def test_the_page_needs_the_token(client: TestClient) -> None:
    assert client.get("/").status_code == 401
    assert client.get("/?token=wrong").status_code == 401
    assert client.get(f"/?token={TOKEN}x").status_code == 401
    assert client.get("/", headers={"cookie": f"{COOKIE}=nope"}).status_code == 401
    refused = client.get("/static/playground.css")
    assert refused.status_code == 401
    assert TOKEN not in refused.text


def test_the_page_with_the_token_sets_the_cookie_and_the_security_headers(
    client: TestClient,
) -> None:
    response = client.get(f"/?token={TOKEN}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    # The token in an Authorization header serves too.
    assert client.get("/", headers={"authorization": f"token {TOKEN}"}).status_code == 200


def test_static_files_with_the_cookie(client: TestClient) -> None:
    cookie = {"cookie": f"{COOKIE}={TOKEN}"}
    css = client.get("/static/playground.css", headers=cookie)
    assert css.status_code == 200
    assert css.content == (static_folder() / "playground.css").read_bytes()
    assert "content-security-policy" in css.headers
    script = client.get("/static/js/main.js", headers=cookie)
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert client.get("/static/nothing.js", headers=cookie).status_code == 404


def test_a_foreign_host_is_refused(client: TestClient) -> None:
    for host in ("evil.example", "testserver.evil.example", "localhost", "testserver:80"):
        response = client.get(f"/?token={TOKEN}", headers={"host": host})
        assert response.status_code == 403, host
        assert "set-cookie" not in response.headers
    assert client.get(f"/?token={TOKEN}", headers={"host": "TestServer"}).status_code == 200


def test_a_foreign_origin_is_refused_and_our_own_accepted(client: TestClient) -> None:
    for origin in (
        "http://evil.example",
        "https://evil.example",
        "http://testserver.evil.example",
        "null",
        "file://",
        "ftp://testserver",
    ):
        response = client.get(f"/?token={TOKEN}", headers={"origin": origin})
        assert response.status_code == 403, origin
    for origin in ("http://testserver", "https://testserver"):
        assert client.get(f"/?token={TOKEN}", headers={"origin": origin}).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/%2E%2E/server.py",
        "/static/..%2fserver.py",
        "/static/%2e%2e%2fserver.py",
        "/static/js/../../server.py",
        "/static/js/%2e%2e/%2e%2e/session.py",
        "/static/....//server.py",
        "/static/%252e%252e/server.py",
        "/static//etc/passwd",
        "/static/..\\server.py",
        "/../server.py",
        "/%2e%2e/server.py",
    ],
)
def test_no_path_leaves_the_static_folder(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"cookie": f"{COOKIE}={TOKEN}"})
    body = response.text
    assert "from __future__" not in body and "import " not in body and "root:" not in body
    assert response.status_code in (400, 401, 403, 404)


# ---------------------------------------------------------------- the WebSocket
def ws_url(token: str | None = TOKEN) -> str:
    return "/ws" if token is None else f"/ws?token={token}"


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        (ws_url(None), {}),
        (ws_url("wrong"), {}),
        (ws_url(), {"origin": "http://evil.example"}),
        (ws_url(), {"host": "evil.example"}),
    ],
    ids=["no-token", "wrong-token", "foreign-origin", "foreign-host"],
)
def test_the_socket_is_refused_without_token_or_from_elsewhere(
    client: TestClient, url: str, headers: dict[str, str]
) -> None:
    with pytest.raises(WebSocketDisconnect) as caught:
        with client.websocket_connect(url, headers=headers) as websocket:
            websocket.send_text('{"type": "reset"}')
            websocket.receive_text()
    assert caught.value.code == 1008


def receive(websocket: Any) -> dict[str, Any] | tuple[dict[str, Any], bytes]:
    message = websocket.receive()
    assert message["type"] == "websocket.send", message
    if message.get("text") is not None:
        return json.loads(message["text"])  # type: ignore[no-any-return]
    return decode_binary(message["bytes"])


def receive_frame(websocket: Any) -> dict[str, Any]:
    reply = receive(websocket)
    assert isinstance(reply, tuple), reply
    header, payload = reply
    assert header["type"] == "frame"
    assert len(payload) == len(header["maps"]) * GRID * GRID
    return header


def test_settings_then_state_and_frame(client: TestClient) -> None:
    with client.websocket_connect(ws_url(), headers={"origin": "http://testserver"}) as websocket:
        websocket.send_text(json.dumps({"type": "settings", "settings": {"dataset": "xor"}}))
        state = receive(websocket)
        assert isinstance(state, dict) and state["type"] == "state"
        assert state["settings"]["dataset"] == "xor"
        assert len(state["points"]) == 60
        header = receive_frame(websocket)
        assert header["epoch"] == 0
    # The cookie opens the socket too.
    with client.websocket_connect("/ws", headers={"cookie": f"{COOKIE}={TOKEN}"}) as websocket:
        websocket.send_text('{"type": "reset"}')
        assert receive(websocket)["type"] == "state"  # type: ignore[index]


def test_play_sends_a_frame_per_drawn_and_pause_stops(client: TestClient) -> None:
    with client.websocket_connect(ws_url()) as websocket:
        websocket.send_text(json.dumps({"type": "settings", "settings": {"dataset": "xor"}}))
        assert receive(websocket)["type"] == "state"  # type: ignore[index]
        receive_frame(websocket)  # now one frame is in flight
        websocket.send_text('{"type": "play"}')
        websocket.send_text('{"type": "drawn"}')
        epochs = []
        for _ in range(3):
            header = receive_frame(websocket)
            assert header["playing"] is True
            epochs.append(header["epoch"])
            websocket.send_text('{"type": "drawn"}')
        assert epochs[0] >= 1
        assert epochs == sorted(epochs) and epochs[-1] > epochs[0]
        websocket.send_text('{"type": "pause"}')
        for _ in range(5):  # a frame already on its way may come first
            header = receive_frame(websocket)
            if header["playing"] is False:
                break
        assert header["playing"] is False
        stopped_at = header["epoch"]
        # Nothing more trains: a step is the next epoch.
        websocket.send_text('{"type": "step"}')
        assert receive_frame(websocket)["epoch"] == stopped_at + 1


def test_malformed_messages_get_errors_and_the_socket_stays(client: TestClient) -> None:
    with client.websocket_connect(ws_url()) as websocket:
        for bad in (
            "not json",
            '{"type": "teleport"}',
            '{"type": "neuron", "point": "1", "layer": 1, "neuron": 1}',
            '{"type": "set-bias", "layer": 1, "to": 0, "value": NaN}',
            "[" * 10_000,
            "x" * 70_000,
        ):
            websocket.send_text(bad)
            reply = receive(websocket)
            assert isinstance(reply, dict) and reply["type"] == "error", bad[:40]
            assert reply["message"].startswith("refused:")
            assert "\n" not in reply["message"]
        websocket.send_bytes(b"\x01\x02")
        assert receive(websocket)["type"] == "error"  # type: ignore[index]
        websocket.send_text(json.dumps({"type": "settings", "settings": {"hidden": [99]}}))
        reply = receive(websocket)
        assert reply["type"] == "error" and "hidden" in reply["message"]  # type: ignore[index]
        websocket.send_text('{"type": "step"}')
        assert receive_frame(websocket)["epoch"] == 1


def test_an_upload_over_the_cap_is_refused_and_the_server_goes_on(client: TestClient) -> None:
    content = b"a,b,c\n" + b"1,2,3\n" * (6 * 1024 * 1024 // 6)
    with client.websocket_connect(ws_url()) as websocket:
        websocket.send_bytes(encode_binary({"type": "upload", "name": "big.csv"}, content))
        reply = receive(websocket)
        assert isinstance(reply, dict) and reply["type"] == "error"
        assert "\n" not in reply["message"]
        # The same socket still answers.
        websocket.send_text('{"type": "reset"}')
        assert receive(websocket)["type"] == "state"  # type: ignore[index]
    with client.websocket_connect(ws_url()) as websocket:
        table = b"x,y,kind\n" + b"".join(f"{i},{i % 7},{'ab'[i % 2]}\n".encode() for i in range(30))
        websocket.send_bytes(encode_binary({"type": "upload", "name": "ok.csv"}, table))
        reply = receive(websocket)
        assert reply["type"] == "columns" and reply["numeric"] == ["x", "y"]  # type: ignore[index]
    assert client.get(f"/?token={TOKEN}").status_code == 200


# ---------------------------------------------------------------- the real process
URL = re.compile(r"^playground: http://127\.0\.0\.1:(\d+)/\?token=([\w-]{20,})$")


def start(*args: str, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("BROWSER", None)
    return subprocess.Popen(
        [sys.executable, "-m", "chainrule", "playground", "--no-browser", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=home,
    )


def first_line(process: subprocess.Popen[str], timeout: float = 60) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            process.kill()
            raise AssertionError("no address printed in time")
    return process.stdout.readline().rstrip("\n")


def stop(process: subprocess.Popen[str]) -> tuple[int, float, str]:
    """Ctrl-C: the exit code, the seconds it took, and standard error."""
    began = time.perf_counter()
    process.send_signal(signal.SIGINT)
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    took = time.perf_counter() - began
    assert process.stderr is not None
    return code, took, process.stderr.read()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("port", ["chosen", "0"])
def test_the_command_prints_its_address_serves_and_stops_on_ctrl_c(home: Path, port: str) -> None:
    # "0" asks the system for any free port, as scripts do; the printed address has the real one.
    process = start("--port", str(free_port()) if port == "chosen" else "0", home=home)
    try:
        line = first_line(process)
        match = URL.match(line)
        assert match, line
        url = line.split(" ", 1)[1]
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            assert b"<html" in response.read().lower()
        listening = match.group(1)
        assert listening != "0"
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://127.0.0.1:{listening}/", timeout=10)
        assert caught.value.code == 401
    finally:
        code, took, err = stop(process)
    assert code == 0, err
    assert took < 1.0, took
    assert "Traceback" not in err
    assert list(home.iterdir()) == []  # nothing written to the home folder


def test_a_busy_port_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(["playground", "--no-browser", "--port", str(port)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("chainrule playground: ")
    assert str(port) in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["--target", "species"],
        ["--features", "a,b"],
        ["--data", "no-such-file.csv", "--target", "species"],
        ["--data", "table.csv"],
        ["--data", "table.csv", "--target", "nothere"],
        ["--data", "table.csv", "--target", "kind", "--features", "x"],
        ["--data", "table.csv", "--target", "kind", "--features", "x,kind"],
        ["--data", "table.csv", "--target", "kind", "--features", "x,nothere"],
    ],
)
def test_bad_command_lines_are_one_line_and_exit_1(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "table.csv").write_text(
        "x,y,kind\n" + "".join(f"{i},{i % 5},{'ab'[i % 2]}\n" for i in range(20))
    )
    code = main(["playground", "--no-browser", *args])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err


def test_listening_on_every_address_warns(home: Path) -> None:
    port = free_port()
    process = start("--host", "0.0.0.0", "--port", str(port), home=home)
    try:
        line = first_line(process)
        assert line.startswith(f"playground: http://0.0.0.0:{port}/?token=")
        token = line.rsplit("=", 1)[1]
        # Served (on every address, so on this one too) before Ctrl-C.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?token={token}", timeout=10) as page:
            assert page.status == 200
    finally:
        code, _, err = stop(process)
    assert code == 0
    assert "warning" in err and "0.0.0.0" in err


def test_the_command_starts_on_a_table(home: Path) -> None:
    websockets_client = pytest.importorskip("websockets.sync.client")
    from websockets.exceptions import ConnectionClosed

    table = home / "birds.csv"
    table.write_text(
        "wing,beak,bird\n"
        + "".join(
            f"{10 + i % 9},{3 + (i * 7) % 5},{['owl', 'tit', 'wren'][i % 3]}\n" for i in range(45)
        )
    )
    process = start("--data", str(table), "--target", "bird", "--port", str(free_port()), home=home)
    try:
        match = URL.match(first_line(process))
        assert match
        port, token = match.groups()
        address = f"ws://127.0.0.1:{port}/ws?token={token}"
        with websockets_client.connect(address, open_timeout=10) as websocket:
            websocket.send(json.dumps({"type": "reset"}))
            state = json.loads(websocket.recv(timeout=10))
            assert state["type"] == "state"
            assert state["settings"]["dataset"] == "own"
            assert state["classes"] == ["owl", "tit", "wren"]
            assert len(state["points"]) == 45
            assert state["network"]["sizes"][-1] == 3
            header, _ = decode_binary(websocket.recv(timeout=10))  # type: ignore[arg-type]
            assert header["type"] == "frame"
            # A second tab starts on the table too, with a session of its own.
            with websockets_client.connect(address, open_timeout=10) as second:
                second.send(json.dumps({"type": "settings", "settings": {"dataset": "xor"}}))
                assert json.loads(second.recv(timeout=10))["settings"]["dataset"] == "xor"
            websocket.send(json.dumps({"type": "reset"}))
            assert json.loads(websocket.recv(timeout=10))["settings"]["dataset"] == "own"
            websocket.recv(timeout=10)  # its frame

            # A message beyond the cap is refused (an error, or the socket closed) ...
            oversized = encode_binary({"type": "upload", "name": "big.csv"}, b"1" * 6_000_000)
            with websockets_client.connect(address, open_timeout=10) as third:
                try:
                    third.send(oversized)
                    reply = json.loads(third.recv(timeout=10))
                    assert reply["type"] == "error"
                except ConnectionClosed:
                    pass
            # ... and the server answers the next connection, and the open ones.
            with websockets_client.connect(address, open_timeout=10) as fourth:
                fourth.send(json.dumps({"type": "reset"}))
                assert json.loads(fourth.recv(timeout=10))["type"] == "state"

            # Ctrl-C stops it promptly even while a tab is training.
            websocket.send(json.dumps({"type": "play"}))
            websocket.send(json.dumps({"type": "drawn"}))
            header, _ = decode_binary(websocket.recv(timeout=10))  # type: ignore[arg-type]
            assert header["type"] == "frame" and header["playing"] is True
            code, took, err = stop(process)
            assert took < 1.5, took
    finally:
        if process.poll() is None:
            code, _, err = stop(process)
    assert code == 0, err
    assert "Traceback" not in err
