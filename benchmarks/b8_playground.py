"""B8 playground: frames drawn and epochs trained per second, in headless Chromium.

The issue's configuration: 6 hidden layers of 8 neurons, 500 points (half for training),
batch 10, every neuron's heat map on (the page always draws them all). The server runs
``chainrule playground`` in its own process; Debian's Chromium loads the page, presses play and
counts, for ``--seconds`` seconds, the frames the page drew (each ``drawn`` message it sends
after drawing one) and the epochs trained (the page's epoch counter). Targets: at least 30
frames and 60 epochs per second.

With ``--tf-playground DIR`` (a built copy of TensorFlow Playground's public source, its
``dist`` folder: ``npm install && npm run build``), the same browser measures it beside
chainrule on the same network: its iteration counter per second (one epoch per animation
frame) and the frames it drew.

Run: python benchmarks/b8_playground.py [--seconds 10] [--rounds 3] [--tf-playground DIR]
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _harness import versions  # noqa: E402

SETTINGS = (
    "dataset=spiral&points=500&trainRatio=50&batch=10&hidden=8,8,8,8,8,8"
    "&activations=tanh,tanh,tanh,tanh,tanh,tanh&lr=0.03&features=x1,x2"
)
# TensorFlow Playground's own hash for the same network and data.
TF_SETTINGS = (
    "activation=tanh&batchSize=10&dataset=spiral&regDataset=reg-plane&learningRate=0.03"
    "&regularizationRate=0&noise=0&networkShape=8,8,8,8,8,8&seed=0.1&showTestData=false"
    "&discretize=false&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false"
    "&ySquared=false&cosX=false&sinX=false&cosY=false&sinY=false&collectStats=false"
    "&problem=classification&initZero=false&hideText=false"
)
# Counts the frames a page drew: the animation frames after which the page changed.
COUNT_DRAWN = """
window.__drawn = 0;
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (data === '{"type":"drawn"}') window.__drawn += 1;
  return send.call(this, data);
};
"""
COUNT_FRAMES = """
window.__frames = 0;
const tick = () => { window.__frames += 1; requestAnimationFrame(tick); };
requestAnimationFrame(tick);
"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        sys.exit("b8_playground: needs Debian's chromium (apt-get install chromium)")
    return found


def start_server() -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "HOME": tempfile.mkdtemp()}
    server = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "playground", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert server.stdout is not None
    first = server.stdout.readline().split()
    if len(first) != 2 or first[0] != "playground:":
        server.kill()
        sys.exit(f"b8_playground: the server printed {first!r} instead of its address")
    return server, first[1]


def measure_chainrule(browser: Any, url: str, seconds: float) -> tuple[float, float]:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.add_init_script(COUNT_DRAWN)
    page.goto(f"{url}#{SETTINGS}")
    page.get_by_test_id("neuron-6-8").wait_for()
    page.wait_for_timeout(500)
    page.get_by_test_id("play").click()
    page.wait_for_timeout(1000)  # past the first frames
    epoch0 = int(page.get_by_test_id("epoch").inner_text().replace(",", ""))
    drawn0 = page.evaluate("window.__drawn")
    page.wait_for_timeout(seconds * 1000)
    epoch1 = int(page.get_by_test_id("epoch").inner_text().replace(",", ""))
    drawn1 = page.evaluate("window.__drawn")
    page.get_by_test_id("play").click()
    page.close()
    return (drawn1 - drawn0) / seconds, (epoch1 - epoch0) / seconds


def measure_tf_playground(browser: Any, folder: Path, seconds: float) -> tuple[float, float]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.add_init_script(COUNT_FRAMES)
        page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/index.html#{TF_SETTINGS}")
        page.wait_for_timeout(1500)
        page.click("#play-pause-button")
        page.wait_for_timeout(1000)
        iter0 = int(page.inner_text("#iter-number").replace(",", ""))
        frames0 = page.evaluate("window.__frames")
        page.wait_for_timeout(seconds * 1000)
        iter1 = int(page.inner_text("#iter-number").replace(",", ""))
        frames1 = page.evaluate("window.__frames")
        page.close()
    finally:
        httpd.shutdown()
    return (frames1 - frames0) / seconds, (iter1 - iter0) / seconds


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tf-playground", type=Path, metavar="DIR")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    executable = chromium()
    server, url = start_server()
    results: dict[str, list[tuple[float, float]]] = {"chainrule": []}
    if args.tf_playground:
        results["TF Playground"] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=executable,
                args=["--no-sandbox", "--disable-gpu", "--headless=new"],
            )
            version = browser.version
            for _ in range(args.rounds):
                results["chainrule"].append(measure_chainrule(browser, url, args.seconds))
                if args.tf_playground:
                    results["TF Playground"].append(
                        measure_tf_playground(browser, args.tf_playground, args.seconds)
                    )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"B8 playground: 6x8 tanh network, spiral, 500 points, batch 10, every heat map on; "
        f"{args.rounds} rounds of {args.seconds:g} s, median (min-max)"
    )
    print(versions({"chromium": version, "machine": platform.processor() or platform.machine()}))
    print(f"{'page':<16} {'frames/s':>22} {'epochs/s':>22}")
    for name, rounds in results.items():
        frames = [f for f, _ in rounds]
        epochs = [e for _, e in rounds]
        print(f"{name:<16} {_spread(frames):>22} {_spread(epochs):>22}")
    frames = statistics.median(f for f, _ in results["chainrule"])
    epochs = statistics.median(e for _, e in results["chainrule"])
    print(
        f"targets: >= 30 frames/s ({'met' if frames >= 30 else 'NOT met'}), "
        f">= 60 epochs/s ({'met' if epochs >= 60 else 'NOT met'})"
    )


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


if __name__ == "__main__":
    main()
