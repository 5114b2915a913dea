"""The playground in a real browser: Debian's Chromium driven by Playwright against the real
server (``python -m chainrule playground --no-browser`` in a subprocess).

One server and one browser serve the whole module; each test has its own page in a new
context. Every page is watched: a console error, an uncaught exception, or a request to any
host but the server (the page must work offline) fails the test that caused it.

Skipped, with the reason, where Chromium or the ``playwright`` package is missing. Screenshots
of every view are written to /tmp/pg-test-*.png only when CHAINRULE_SCREENSHOTS is set.

The page's Content-Security-Policy forbids ``eval``, so Playwright's ``wait_for_function`` (which
evaluates its predicate as a string in the page) cannot run; the tests poll from Python instead.
"""

from __future__ import annotations

import http.client
import importlib.util
import math
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import io as cr_io
from chainrule.playground.points import feature_matrix
from chainrule.playground.session import Session
from chainrule.playground.settings import Settings


def _chromium() -> str | None:
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


CHROMIUM = _chromium()
HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None
SCREENSHOTS = bool(os.environ.get("CHAINRULE_SCREENSHOTS"))

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium (neither /usr/bin/chromium nor `chromium` on PATH): install "
        "Debian's chromium package to run the playground's browser tests",
    ),
    pytest.mark.skipif(
        not HAVE_PLAYWRIGHT,
        reason="the Python package playwright is not installed (pip install playwright; the "
        "tests use the system Chromium, no `playwright install`)",
    ),
]

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--headless=new"]
SERVER_START_SECONDS = 30


# ------------------------------------------------------------------------ the server
@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT/?token=TOKEN
    origin: str  # http://127.0.0.1:PORT
    netloc: str  # 127.0.0.1:PORT
    token: str
    log: Path

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("playground-server")
    home = folder / "home"
    home.mkdir()
    log = folder / "stderr.log"
    env = {**os.environ, "HOME": str(home), "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "chainrule", "playground", "--no-browser"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=folder,
            text=True,
        )
    lines: queue.Queue[str] = queue.Queue()

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)

    threading.Thread(target=read_stdout, daemon=True).start()
    try:
        try:
            first = lines.get(timeout=SERVER_START_SECONDS)
        except queue.Empty:
            pytest.fail(
                f"the playground printed nothing in {SERVER_START_SECONDS} s; stderr:\n"
                + log.read_text(errors="replace")[-2000:]
            )
        assert first.startswith("playground: http://127.0.0.1:"), first
        url = first.split("playground: ", 1)[1].strip()
        parts = urllib.parse.urlsplit(url)
        token = urllib.parse.parse_qs(parts.query)["token"][0]
        yield Server(url, f"{parts.scheme}://{parts.netloc}", parts.netloc, token, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ------------------------------------------------------------------------ the browser
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Tab:
    """A page of its own context, watched for console errors and foreign requests."""

    page: Any
    server: Server
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def watch(self) -> None:
        allowed = (
            f"{self.server.origin}/",
            f"ws://{self.server.netloc}/",
            "data:",
            "blob:",
        )

        def request(url: str) -> None:
            if not url.startswith(allowed):
                self.foreign.append(url)

        self.page.on(
            "console",
            lambda message: (
                message.type == "error" and self.errors.append(f"console: {message.text}")
            ),
        )
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("request", lambda r: request(r.url))
        self.page.on("websocket", lambda socket: request(socket.url))

    # ---- reading the page
    def text(self, testid: str) -> str:
        return (self.page.get_by_test_id(testid).text_content() or "").strip()

    def number(self, testid: str) -> float:
        """A number shown by the element (NaN while it shows a dash)."""
        try:
            return float(self.text(testid))
        except ValueError:
            return math.nan

    def epoch(self) -> int:
        return int(self.text("epoch"))

    def message(self) -> str:
        return self.text("message")

    def hash_settings(self) -> dict[str, str]:
        raw = self.page.evaluate("() => location.hash").lstrip("#")
        return {key: values[0] for key, values in urllib.parse.parse_qs(raw).items()}

    # ---- waiting
    def wait_until(self, condition: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        """Poll ``condition`` (from Python: the page's CSP forbids wait_for_function's eval)."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout:g} s waiting for {what}; page message "
                    f"{self.message()!r}, epoch {self.text('epoch')!r}, console {self.errors}; "
                    f"server log:\n{self.server.log_tail()}"
                )
            time.sleep(0.05)

    def open(self, hash_: str = "") -> None:
        """Load the page with settings in the hash; wait for the server's state (the full
        normalised hash is written back on it) and the first frame."""
        # From another page: the same address with a new hash would only be a hashchange,
        # which merges the new keys into the old configuration.
        if self.page.url != "about:blank":
            self.page.goto("about:blank")
        self.page.goto(self.server.url + ("#" + hash_ if hash_ else ""))
        self.wait_until(
            lambda: "maxNorm" in self.hash_settings(), "the first state (the normalised hash)"
        )
        self.page.get_by_test_id("output-neuron-1").wait_for(state="attached")
        # The gradient-norm chart is filled by the first frame (bars, or a note for the classic
        # models), never by a state.
        self.page.locator("[data-testid=grad-norms] > *").first.wait_for(state="attached")

    def step(self, times: int) -> None:
        start = self.epoch()
        for _ in range(times):
            self.page.get_by_test_id("step").click()
        self.wait_until(lambda: self.epoch() == start + times, f"epoch {start + times}")

    def play_until(self, condition: Callable[[], Any], what: str, timeout: float = 40.0) -> None:
        play = self.page.get_by_test_id("play")
        play.click()
        try:
            self.wait_until(condition, what, timeout)
        finally:
            self.pause()

    def pause(self, press: Callable[[], None] | None = None) -> int:
        """Pause (by ``press``, else a click on play) and wait for the run to stop: frames
        already on their way still arrive after the click. The epoch it stopped at."""
        play = self.page.get_by_test_id("play")
        if play.get_attribute("aria-pressed") == "true":
            (press or play.click)()
        self.wait_until(lambda: play.get_attribute("aria-pressed") == "false", "the pause")
        return self.settled_epoch()

    def settled_epoch(self, quiet: float = 0.3) -> int:
        """The epoch once it stopped changing for ``quiet`` seconds."""
        seen = [self.epoch()]

        def unchanged() -> bool:
            time.sleep(quiet)
            seen.append(self.epoch())
            return seen[-1] == seen[-2]

        self.wait_until(unchanged, "the epoch to stop advancing", 10)
        return seen[-1]

    def export(self, folder: Path) -> tuple[Path, str]:
        """Click export: the downloaded file's path and its suggested name."""
        with self.page.expect_download() as download_info:
            self.page.get_by_test_id("export-model").click()
        download = download_info.value
        path = folder / download.suggested_filename
        download.save_as(path)
        self.page.locator("#export-box").wait_for(state="visible")
        return path, download.suggested_filename

    def shoot(self, name: str) -> None:
        if SCREENSHOTS:
            self.page.screenshot(path=f"/tmp/pg-test-{name}.png", full_page=True)


@pytest.fixture
def tab(browser: Any, server: Server) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    watched = Tab(page, server)
    watched.watch()
    try:
        yield watched
    finally:
        context.close()
    assert not watched.errors, f"errors in the browser console: {watched.errors}"
    assert not watched.foreign, f"the page asked hosts other than the server: {watched.foreign}"


# ------------------------------------------------------------------------ Python's view
def session_for(metadata: dict[str, Any]) -> Session:
    """A Session on the settings an exported file names: it draws the page's very points."""
    return Session(Settings().updated(metadata["playground"]))


def accuracy_text(value: float) -> str:
    """As the page's percent() shows it."""
    return f"{value * 100:.1f}%"


def close(shown: float, expected: float, rel: float = 1e-4) -> bool:
    return math.isclose(shown, expected, rel_tol=rel, abs_tol=1e-9)


# ------------------------------------------------------------------------ 1. XOR
def test_xor_trains_to_a_small_test_loss(tab: Tab) -> None:
    tab.open("dataset=xor&hidden=4,4&activations=tanh,tanh&optimizer=adam&lr=0.01&seed=1")
    assert tab.page.get_by_test_id("dataset").input_value() == "xor"
    tab.play_until(lambda: tab.number("test-loss") < 0.05, "a test loss below 0.05", 40)
    epoch = tab.settled_epoch()
    assert epoch > 0
    assert tab.page.get_by_test_id("play").get_attribute("aria-pressed") == "false"
    assert tab.number("test-loss") < 0.1
    # The output map shows both classes: orange and blue regions, not a flat picture.
    spread = tab.page.evaluate(
        """() => {
            const c = document.getElementById('output-map');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let blue = 0, orange = 0;
            for (let i = 0; i < d.length; i += 4) {
                if (d[i + 2] > d[i] + 40) blue += 1;
                if (d[i] > d[i + 2] + 40) orange += 1;
            }
            return [blue / (d.length / 4), orange / (d.length / 4)];
        }"""
    )
    assert min(spread) > 0.15, f"blue and orange shares of the output map: {spread}"


# ------------------------------------------------------------------------ 2. the neuron panel
def test_neuron_panel_delta_equals_an_independent_backward_pass(tab: Tab, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    tab.open("dataset=circle&hidden=3,2&activations=sigmoid,tanh&lr=0.3&seed=5&points=200")
    tab.step(3)
    # The page's network, and its points: a Session on the file's settings draws the same
    # points from the seed. (Exporting changes nothing: the panel below is of this network.)
    path, _ = tab.export(tmp_path)
    model, metadata = cr_io.load_with_metadata(path)
    assert metadata["epoch"] == 3
    assert metadata["playground"]["activations"] == ["sigmoid", "tanh"]
    points = session_for(metadata).points
    box = tab.page.evaluate(
        """() => {
            const c = document.getElementById('output-map');
            c.scrollIntoView({block: 'center'});
            const r = c.getBoundingClientRect();
            return [r.left + c.clientLeft, r.top + c.clientTop, c.clientWidth];
        }"""
    )
    left, top, size = box
    xmin, xmax, ymin, ymax = points.domain
    pixels = np.column_stack(
        [
            (points.xy[:, 0] - xmin) / (xmax - xmin) * size,
            (ymax - points.xy[:, 1]) / (ymax - ymin) * size,
        ]
    )
    train = np.flatnonzero(points.part == 0)
    # A training point well inside the map with no other training point near it on screen.
    index = None
    for i in train:
        others = pixels[train[train != i]]
        inside = 10 < pixels[i, 0] < size - 10 and 10 < pixels[i, 1] < size - 10
        if inside and np.hypot(*(others - pixels[i]).T).min() > 14:
            index = int(i)
            break
    assert index is not None, "no isolated training point to click"
    tab.page.mouse.click(left + pixels[index, 0], top + pixels[index, 1])
    tab.wait_until(
        lambda: f"training point {index} at" in tab.message(), f"the selection of point {index}"
    )
    tab.page.get_by_test_id("neuron-1-1").click()
    tab.page.get_by_test_id("panel-delta").wait_for()
    title = tab.page.locator("#neuron-panel .panel-title").text_content() or ""
    assert f"Layer 1 neuron 1: training point {index} at" in title
    shown = {name: tab.number(f"panel-{name}") for name in ("z", "a", "gprime", "delta")}

    linears = [m for m in model if isinstance(m, cr.nn.Linear)]
    assert len(linears) == 3

    # PyTorch in float64: z1 = W1 x + b1, a1 = sigmoid, z2, tanh, z3 = the two classes' scores,
    # E = cross-entropy of the point; δ = ∂E/∂z1 of neuron 1.
    def tensor(value: Any) -> Any:
        return torch.tensor(np.asarray(value, dtype=np.float64))

    inputs = feature_matrix(points.xy[index : index + 1], tuple(metadata["inputs"]))
    x = tensor(inputs)
    weights = [(tensor(lin.weight.data), tensor(lin.bias.data)) for lin in linears]
    z1 = x @ weights[0][0].T + weights[0][1]
    z1.requires_grad_(True)
    a1 = torch.sigmoid(z1)
    z2 = a1 @ weights[1][0].T + weights[1][1]
    scores = torch.tanh(z2) @ weights[2][0].T + weights[2][1]
    label = torch.tensor([int(points.labels[index])])
    loss = torch.nn.functional.cross_entropy(scores, label)
    loss.backward()
    expected = {
        "z": float(z1.detach()[0, 0]),
        "a": float(a1.detach()[0, 0]),
        "gprime": float(a1.detach()[0, 0] * (1 - a1.detach()[0, 0])),
        "delta": float(z1.grad[0, 0]),
    }
    # The loaded model computes the same scores (the file is the page's network).
    loaded = model(inputs.astype(np.float32))
    np.testing.assert_allclose(loaded.numpy()[0], scores.detach().numpy()[0], rtol=1e-4, atol=1e-6)
    assert expected["delta"] != 0
    for name, value in expected.items():
        assert close(shown[name], value), f"{name}: the panel shows {shown[name]}, torch {value}"


# ------------------------------------------------------------------------ 3. gradient check
def test_gradient_check_passes(tab: Tab) -> None:
    tab.open("dataset=moons&hidden=4,3&activations=tanh,relu&seed=3")
    tab.step(2)
    tab.page.get_by_test_id("gradcheck").click()
    result = tab.page.get_by_test_id("gradcheck-result")
    tab.wait_until(
        lambda: "pass" in (result.text_content() or "") or "fail" in (result.text_content() or ""),
        "the gradient check's verdict",
        30,
    )
    text = result.text_content() or ""
    assert text.startswith("pass"), text


# ------------------------------------------------------------------------ 4. export
def test_exported_model_reproduces_the_pages_accuracy(tab: Tab, tmp_path: Path) -> None:
    tab.open("dataset=moons&noise=20&hidden=5&activations=tanh&seed=2")
    tab.step(4)
    shown = tab.text("test-accuracy")
    path, name = tab.export(tmp_path)
    assert name == "playground-moons-epoch4.safetensors"
    info = tab.page.locator("#export-info").text_content() or ""
    assert info == f"{name}, accuracy {shown}"
    assert "chainrule train" in tab.text("export-command")
    assert "cr.load" in tab.text("export-python")

    model = cr.load(path)
    metadata = cr_io.load_metadata(path)["metadata"]
    assert metadata["playground"]["dataset"] == "moons"
    assert metadata["playground"]["noise"] == 20
    points = session_for(metadata).points
    xy, labels = points.part_of(1)
    scores = model(feature_matrix(xy, tuple(metadata["inputs"])).astype(np.float32)).numpy()
    predicted = scores.argmax(axis=1) if scores.shape[1] > 1 else (scores[:, 0] > 0)
    accuracy = float((predicted == labels).mean())
    assert 0.5 < accuracy < 1.0, accuracy  # a half-trained network: a number worth comparing
    assert accuracy_text(accuracy) == shown


# ------------------------------------------------------------------------ 5. links
def test_a_link_restores_its_configuration(tab: Tab) -> None:
    page = tab.page
    tab.open(
        "dataset=spiral&hidden=8,8,5&activations=relu,relu,relu&lr=0.01&seed=7&features=x1,x2,sinx1"
    )
    assert page.get_by_test_id("dataset").input_value() == "spiral"
    assert page.get_by_test_id("learning-rate").input_value() == "0.01"
    assert page.get_by_test_id("seed").input_value() == "7"
    assert page.get_by_test_id("activation").input_value() == "relu"
    assert tab.text("hidden-count") == "3 hidden layers"
    for layer, count in ((1, 8), (2, 8), (3, 5)):
        assert page.get_by_test_id(f"neuron-{layer}-{count}").count() == 1
        assert page.get_by_test_id(f"neuron-{layer}-{count + 1}").count() == 0
        assert page.get_by_test_id(f"layer-activation-{layer}").input_value() == "relu"
    assert page.get_by_test_id("neuron-4-1").count() == 0
    for feature in ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"):
        pressed = page.get_by_test_id(f"features-{feature}").get_attribute("aria-pressed")
        assert pressed == ("true" if feature in ("x1", "x2", "sinx1") else "false"), feature

    restored = tab.hash_settings()
    assert {k: restored[k] for k in ("dataset", "hidden", "activations", "lr", "seed")} == {
        "dataset": "spiral",
        "hidden": "8,8,5",
        "activations": "relu,relu,relu",
        "lr": "0.01",
        "seed": "7",
    }
    assert restored["features"] == "x1,x2,sinx1"

    page.get_by_test_id("learning-rate").select_option("0.003")
    tab.wait_until(lambda: tab.hash_settings().get("lr") == "0.003", "lr=0.003 in the hash")
    assert tab.hash_settings()["hidden"] == "8,8,5"
    assert page.get_by_test_id("learning-rate").input_value() == "0.003"


# ------------------------------------------------------------------------ 6. keyboard
def _focused(page: Any) -> str:
    return page.evaluate("() => document.activeElement && document.activeElement.dataset.testid")


def _tab_to(page: Any, testid: str, backwards: bool = False, limit: int = 150) -> None:
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if _focused(page) == testid:
            return
        page.keyboard.press(key)
    pytest.fail(f"{limit} presses of {key} never reached {testid!r}")


ACCESSIBLE_NAMES = """() => {
    const text = (node) => (node ? (node.textContent || '').trim() : '');
    const nameOf = (el) => {
        if ((el.getAttribute('aria-label') || '').trim()) return el.getAttribute('aria-label');
        const by = el.getAttribute('aria-labelledby');
        if (by) {
            const named = by.split(/\\s+/).map((id) => text(document.getElementById(id))).join(' ');
            if (named.trim()) return named;
        }
        const labels = [...(el.labels || [])].map(text).join(' ').trim();
        if (labels) return labels;
        if ((el.getAttribute('title') || '').trim()) return el.getAttribute('title');
        if (el.tagName === 'BUTTON' && text(el)) return text(el);
        return '';
    };
    return [...document.querySelectorAll('button, select, input, textarea, [role=button]')]
        .filter((el) => !nameOf(el))
        .map((el) => el.outerHTML.slice(0, 160));
}"""

INTERACTIVE_ROLES = {
    "button",
    "checkbox",
    "combobox",
    "listbox",
    "radio",
    "slider",
    "spinbutton",
    "textbox",
    "switch",
    "menuitem",
}


def test_a_run_by_keyboard_alone(tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    tab.open()
    assert page.get_by_test_id("dataset").input_value() == "circle"
    page.keyboard.press("Tab")  # from the document into the page's controls

    _tab_to(page, "dataset")
    page.keyboard.press("ArrowDown")  # circle -> xor (the next option)
    tab.wait_until(lambda: tab.hash_settings().get("dataset") == "xor", "dataset=xor")
    assert page.get_by_test_id("dataset").input_value() == "xor"

    _tab_to(page, "add-layer")
    page.keyboard.press("Enter")
    tab.wait_until(lambda: tab.text("hidden-count") == "3 hidden layers", "three hidden layers")
    assert tab.hash_settings()["hidden"] == "4,2,2"

    _tab_to(page, "play", backwards=True)
    page.keyboard.press("Space")
    tab.wait_until(lambda: tab.epoch() > 0, "the epoch to advance")
    play = page.get_by_test_id("play")
    assert play.get_attribute("aria-pressed") == "true"
    assert _focused(page) == "play"
    epoch = tab.pause(lambda: page.keyboard.press("Space"))
    assert epoch > 0
    assert play.get_attribute("aria-pressed") == "false"

    _tab_to(page, "neuron-1-1")
    page.keyboard.press("Enter")
    page.get_by_test_id("panel-delta").wait_for()
    assert math.isfinite(tab.number("panel-delta"))
    assert "Layer 1 neuron 1" in (page.locator("#neuron-panel .panel-title").text_content() or "")

    # Every control has an accessible name: with the network, the neuron panel (its weight
    # inputs), the export box and an uploaded table's column selects all on the page.
    _tab_to(page, "export-model")
    with page.expect_download():
        page.keyboard.press("Enter")
    table = tmp_path / "table.csv"
    table.write_text("a,b,kind\n1,2,x\n2,1,y\n3,3,x\n0.5,4,y\n")
    page.get_by_test_id("upload").set_input_files(table)
    page.locator("#columns-box").wait_for(state="visible")
    unnamed = page.evaluate(ACCESSIBLE_NAMES)
    assert not unnamed, f"controls without an accessible name: {unnamed}"
    # And as Chromium's accessibility tree computes them (visible controls only).
    cdp = page.context.new_cdp_session(page)
    tree = cdp.send("Accessibility.getFullAXTree")["nodes"]
    nameless = [
        node.get("role", {}).get("value")
        for node in tree
        if not node.get("ignored")
        and node.get("role", {}).get("value") in INTERACTIVE_ROLES
        and not (node.get("name", {}).get("value") or "").strip()
    ]
    assert not nameless, f"interactive nodes Chromium finds no name for: {nameless}"


# ------------------------------------------------------------------------ 7. security
def _http(server: Server, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection(server.netloc, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        return connection.getresponse().status
    finally:
        connection.close()


def _websocket_handshake(server: Server, origin: str | None, token: str | None) -> int:
    headers = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    if origin is not None:
        headers["Origin"] = origin
    return _http(server, f"/ws?token={token}" if token else "/ws", headers)


OPEN_SOCKET = """(address) => new Promise((resolve) => {
    const events = [];
    let socket;
    try { socket = new WebSocket(address); } catch (error) { resolve(['throw ' + error]); return; }
    socket.onopen = () => { events.push('open'); socket.close(); };
    socket.onerror = () => events.push('error');
    socket.onclose = () => { events.push('close'); resolve(events); };
    setTimeout(() => resolve(events.concat(['timeout'])), 8000);
})"""


def test_requests_without_the_token_or_from_elsewhere_are_refused(
    browser: Any, server: Server
) -> None:
    token = urllib.parse.quote(server.token)
    assert _http(server, f"/?token={token}") == 200
    assert _http(server, "/") == 401
    assert _http(server, "/?token=wrong") == 401
    assert _http(server, "/static/js/main.js") == 401
    assert _http(server, f"/?token={token}", {"Origin": "http://evil.example"}) == 403
    assert _http(server, f"/?token={token}", {"Host": "evil.example"}) == 403
    assert (
        _http(server, f"/?token={token}", {"Host": f"evil.example:{server.netloc.split(':')[1]}"})
        == 403
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.origin + "/", timeout=10)
    assert refused.value.code == 401

    # The WebSocket handshake: the server's own origin and the token open it, nothing else.
    assert _websocket_handshake(server, server.origin, server.token) == 101
    # (A WebSocket refused before it is accepted is answered 403 by the ASGI server, whatever
    # the reason; the documented refusals are 401 or 403.)
    assert _websocket_handshake(server, server.origin, None) in (401, 403)
    assert _websocket_handshake(server, server.origin, "wrong") in (401, 403)
    assert _websocket_handshake(server, "http://evil.example", server.token) == 403
    assert _websocket_handshake(server, "null", server.token) == 403

    # In the browser: a page of another origin that knows the token still cannot open the
    # socket (cross-site WebSocket hijacking). The foreign page is served by Playwright itself.
    address = f"ws://{server.netloc}/ws?token={server.token}"
    context = browser.new_context()
    try:
        page = context.new_page()
        page.route(
            "http://evil.example/**",
            lambda route: route.fulfill(
                status=200, content_type="text/html", body="<!DOCTYPE html><title>evil</title>"
            ),
        )
        for foreign in ("http://evil.example/", "about:blank", "data:text/html,<title>x</title>"):
            page.goto(foreign)
            events = page.evaluate(OPEN_SOCKET, address)
            assert "open" not in events and "close" in events, (foreign, events)
        # The server's own page, for contrast, does open it.
        page.goto(server.url)
        assert page.evaluate(OPEN_SOCKET, address)[0] == "open"
    finally:
        context.close()


# ------------------------------------------------------------------------ 8. screenshots
@pytest.mark.skipif(not SCREENSHOTS, reason="set CHAINRULE_SCREENSHOTS=1 to save the views")
def test_screenshots_of_every_view(browser: Any, server: Server, tmp_path: Path) -> None:
    """Every view, saved to /tmp/pg-test-*.png for a person to look at."""
    for old in Path("/tmp").glob("pg-test-*.png"):
        old.unlink()

    def new_tab(width: int = 1280) -> Tab:
        context = browser.new_context(
            viewport={"width": width, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        watched = Tab(page, server)
        watched.watch()
        tabs.append(watched)
        return watched

    tabs: list[Tab] = []
    try:
        t = new_tab()
        t.open()
        t.shoot("01-default-circle")

        t.open("dataset=xor&hidden=4,4&activations=tanh,tanh&optimizer=adam&lr=0.01")
        t.play_until(lambda: t.number("test-loss") < 0.05, "xor trained")
        t.shoot("02-xor-trained")
        t.page.get_by_test_id("neuron-1-2").click()
        t.page.get_by_test_id("panel-delta").wait_for()
        t.page.get_by_test_id("neuron-panel").scroll_into_view_if_needed()
        t.shoot("03-neuron-panel")
        t.page.get_by_test_id("backprop").click()
        time.sleep(0.5)
        t.shoot("04-backprop-midway")
        t.page.get_by_test_id("gradcheck").click()
        t.wait_until(lambda: "pass" in t.text("gradcheck-result"), "gradcheck", 30)
        t.shoot("05-gradcheck")
        t.export(tmp_path)
        t.shoot("06-export-box")

        t.open("dataset=spiral&classes=3&hidden=8,8&activations=relu,relu&optimizer=adam&lr=0.01")
        t.play_until(lambda: t.epoch() >= 150, "spiral epochs")
        t.shoot("07-spiral-3-classes")
        t.open("dataset=blobs&classes=4&hidden=4&activations=tanh&lr=0.1")
        t.play_until(lambda: t.epoch() >= 30, "blobs epochs")
        t.shoot("08-blobs-4-classes")
        t.open("dataset=plane&hidden=3&activations=tanh&lr=0.01")
        t.play_until(lambda: t.epoch() >= 30, "plane epochs")
        t.shoot("09-regression-plane")

        t.open("model=perceptron&dataset=separable")
        t.play_until(lambda: "perceptron stopped" in t.message(), "the perceptron's notice")
        t.shoot("10-perceptron-stopped")
        t.open("model=nearest-mean&dataset=elongated")
        t.play_until(lambda: "nearest mean" in t.message(), "the nearest mean's notice")
        t.shoot("11-nearest-mean-elongated")

        t.open("hidden=4,2&activations=step,step")
        t.step(3)
        t.page.get_by_test_id("neuron-1-1").click()
        t.page.get_by_test_id("panel-delta").wait_for()
        assert t.number("panel-delta") == 0 and t.number("panel-gprime") == 0
        t.shoot("12-step-activation")

        t.open("dataset=plane&lr=10")
        t.play_until(lambda: "training stopped" in t.message(), "the divergence message")
        t.shoot("13-diverged")

        t.open()
        table = tmp_path / "penguins.csv"
        rng = np.random.default_rng(0)
        rows = [
            f"{a:.2f},{b:.2f},{c:.1f},{'Adelie' if a < 40 else 'Gentoo'}"
            for a, b, c in rng.uniform([30, 13, 170], [55, 22, 230], size=(60, 3))
        ]
        table.write_text("bill_length,bill_depth,flipper,species\n" + "\n".join(rows) + "\n")
        t.page.get_by_test_id("upload").set_input_files(table)
        t.page.locator("#columns-box").wait_for(state="visible")
        t.shoot("14-upload-columns")
        t.page.get_by_test_id("use-columns").click()
        t.wait_until(lambda: t.hash_settings().get("dataset") == "own", "own data")
        t.step(5)
        t.shoot("15-upload-used")

        narrow = new_tab(width=900)
        narrow.open("dataset=xor&hidden=6,4&activations=tanh,tanh&optimizer=adam&lr=0.01")
        narrow.step(20)
        narrow.shoot("16-narrow-900px")
    finally:
        for watched in tabs:
            watched.page.context.close()
    for watched in tabs:
        assert not watched.errors, watched.errors
        assert not watched.foreign, watched.foreign
