"""The report in a real browser: Debian's headless Chromium opens the page from a file, driven over
the DevTools protocol. The test fails on any console message of level error, any uncaught exception
and any request that leaves the file; every chart must have drawn (an SVG with marks and a non-zero
size), and a full-page screenshot is saved as a test artefact (build/test-artifacts/ by default, or
$COBUY_TEST_ARTIFACTS)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from jobs.report import report_location
from tests.report_builders import D, small_report

websocket = pytest.importorskip("websocket")

ARTIFACTS = Path(os.environ.get("COBUY_TEST_ARTIFACTS", Path(__file__).resolve().parent.parent / "build" / "test-artifacts"))
BROWSERS = ("chromium", "chromium-browser")
TIMEOUT_S = 30
# Every figure: its section, whether it holds an <svg>, the svg's size and how many marks it drew.
CHARTS_JS = """
JSON.stringify([...document.querySelectorAll('figure.chart')].map(f => {
  const svg = f.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const marks = svg ? svg.querySelectorAll('path, rect, circle, line, text, symbol').length : 0;
  return {section: f.dataset.section, svg: !!svg, width: box.width, height: box.height, marks: marks};
}))
"""


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class DevTools:
    """A minimal DevTools-protocol client over one page's websocket: commands and the events seen."""

    def __init__(self, url: str) -> None:
        self.socket = websocket.create_connection(url, timeout=TIMEOUT_S, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {TIMEOUT_S}s")
            self.events.append(json.loads(self.socket.recv()))

    def close(self) -> None:
        self.socket.close()


@pytest.fixture(scope="module")
def report_file(spark, tmp_path_factory) -> Path:
    _, config, _, _ = small_report(spark, tmp_path_factory)
    return Path(report_location(config))


@pytest.fixture
def browser(tmp_path):
    binary = find_browser()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    process = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-default-apps", "--mute-audio", f"--user-data-dir={tmp_path / 'profile'}",
         "--remote-debugging-port=0", "--remote-allow-origins=*", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        port = None
        deadline = time.monotonic() + TIMEOUT_S
        while port is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if "DevTools listening on ws://" in line:
                port = int(line.split("ws://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
            elif not line and process.poll() is not None:
                break
        assert port is not None, f"chromium did not start its DevTools endpoint (exit {process.poll()})"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=TIMEOUT_S) as response:
            pages = [t for t in json.load(response) if t["type"] == "page"]
        client = DevTools(pages[0]["webSocketDebuggerUrl"])
        yield client
        client.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_report_renders_offline_in_chromium_with_every_chart_drawn(report_file, browser):
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.call(f"{domain}.enable")
    browser.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
    browser.call("Page.navigate", url=report_file.as_uri())
    browser.wait_for("Page.loadEventFired")
    charts = json.loads(browser.call("Runtime.evaluate", expression=CHARTS_JS, returnByValue=True)["result"]["value"])
    height = browser.call("Runtime.evaluate", expression="document.documentElement.scrollHeight",
                          returnByValue=True)["result"]["value"]
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / f"report-{D}.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    print(f"screenshot: {screenshot} ({screenshot.stat().st_size:,} bytes); report {report_file.stat().st_size:,} bytes")

    errors = [e["params"]["entry"] for e in browser.events
              if e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
    errors += [e["params"] for e in browser.events if e.get("method") == "Runtime.exceptionThrown"]
    errors += [e["params"] for e in browser.events
               if e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert")]
    assert errors == []
    requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    assert requests and all(url == report_file.as_uri() for url in requests), requests  # only the file itself

    sections = {c["section"] for c in charts}
    assert len(charts) == 12 and len(sections) == 12, charts
    undrawn = [c for c in charts if not (c["svg"] and c["width"] > 50 and c["height"] > 50 and c["marks"] >= 5)]
    assert undrawn == []
    assert screenshot.stat().st_size > 20_000  # a blank page of this size compresses to a few KB
