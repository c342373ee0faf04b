"""One headless Chromium for many pages, driven over the DevTools protocol on a pipe.

Chromium is started once with ``--remote-debugging-pipe`` (commands on its fd 3, replies and
events on its fd 4, JSON messages ended by NUL); each page opens in its own tab. Every request a
page makes is paused (``Fetch``) and only ``file:`` and ``data:`` URLs go on: anything else is
failed and recorded, so a page that would reach the network is caught with the network blocked.
Console messages, uncaught exceptions and failed loads are collected per page.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
         "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,OptimizationHintsFetching,"
         "OptimizationGuideModelDownloading,MediaRouter,Translate",
         "--allow-file-access-from-files"]

# What a page reports about itself once its scripts ran: the charts drawn, what overflows the viewport.
PROBE = """(() => {
  const vw = document.documentElement.clientWidth;
  const clipped = el => { for (let a = el.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX; if (o === 'auto' || o === 'scroll' || o === 'hidden') return true; }
    return false; };
  const wide = [];
  document.querySelectorAll('body *').forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 1 && !clipped(el)) wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') + ' ' + Math.round(r.right));
  });
  const charts = document.querySelectorAll('div.chart');
  return JSON.stringify({
    charts: charts.length,
    drawn: Array.from(charts).filter(d => d.dataset.drawn && +d.dataset.drawn > 0 && d.querySelector('svg.main-svg')).length,
    images: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length,
    all_images: document.images.length,
    wide: wide.slice(0, 10), page_width: document.documentElement.scrollWidth, viewport: vw,
    text: document.body ? document.body.innerText : '', lang: document.documentElement.lang,
  });
})()"""


class Browser:
    """A headless Chromium; :meth:`open` renders a page and returns what it found (a dict)."""

    def __init__(self, profile: Path, executable: str | None = None, width: int = 1280, height: int = 900):
        exe = executable or CHROMIUM
        if exe is None:
            raise FileNotFoundError("chromium is not installed")
        self.width, self.height = width, height
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()
        self.log = open(Path(profile).with_suffix(".log"), "wb")
        # the shell puts our pipes on fds 3 and 4, where --remote-debugging-pipe looks for them
        self.proc = subprocess.Popen(
            ["sh", "-c", 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2', exe, *FLAGS, "--remote-debugging-pipe",
             f"--user-data-dir={profile}", "about:blank"],
            stdin=cmd_r, stdout=res_w, stderr=self.log, start_new_session=True)
        os.close(cmd_r)
        os.close(res_w)
        self._buf = b""
        self._id = 0
        self._events: list[dict] = []

    # --- the protocol -----------------------------------------------------------------------
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        return self._id

    def _read(self, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._res_r], [], [], left)
            if ready:
                chunk = os.read(self._res_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed its DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        """Send a command and wait for its reply (events that arrive meanwhile are queued)."""
        want = self._send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(max(0.0, deadline - time.monotonic()))
            if msg is None:
                raise TimeoutError(f"chromium did not answer {method}")
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._handle(msg)

    def _handle(self, msg: dict) -> None:
        if msg.get("method") == "Fetch.requestPaused":
            p, session = msg["params"], msg.get("sessionId")
            url = p["request"]["url"]
            if url.startswith(("file:", "data:")):
                self._send("Fetch.continueRequest", {"requestId": p["requestId"]}, session)
            else:
                self._events.append({"method": "blocked", "params": {"url": url}, "sessionId": session})
                self._send("Fetch.failRequest", {"requestId": p["requestId"], "errorReason": "BlockedByClient"},
                           session)
            return
        if "method" in msg:
            self._events.append(msg)

    def _pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self._read(max(0.0, deadline - time.monotonic()))
            if msg is not None:
                self._handle(msg)

    # --- a page ----------------------------------------------------------------------------
    def open(self, page: Path, screenshot: Path | None = None, settle: float = 20.0) -> dict:
        """Load ``page`` in a new tab; wait until its charts are drawn (or ``settle`` seconds);
        return the probe's findings with ``console`` (errors and warnings), ``blocked`` (requests
        that tried to leave the machine); save a full-page PNG at ``screenshot``."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._events.clear()
        try:
            for method, params in (("Page.enable", {}), ("Runtime.enable", {}), ("Log.enable", {}),
                                   ("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}),
                                   ("Emulation.setDeviceMetricsOverride",
                                    {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                                     "mobile": False})):
                self.call(method, params, session)
            self.call("Page.navigate", {"url": page.resolve().as_uri()}, session)
            deadline = time.monotonic() + settle
            loaded = False
            found: dict = {}
            while time.monotonic() < deadline:
                self._pump(0.2)
                loaded = loaded or any(e.get("method") == "Page.loadEventFired" for e in self._events)
                if not loaded:
                    continue
                found = self._probe(session)
                if found["drawn"] == found["charts"] and found["images"] == found["all_images"]:
                    break
            self._pump(0.3)
            found = self._probe(session)
            found["console"] = self._console()
            found["blocked"] = [e["params"]["url"] for e in self._events if e.get("method") == "blocked"]
            if screenshot is not None:
                self._screenshot(session, screenshot)
            return found
        finally:
            self.call("Target.closeTarget", {"targetId": target})

    def _probe(self, session: str) -> dict:
        res = self.call("Runtime.evaluate", {"expression": PROBE, "returnByValue": True}, session)
        return json.loads(res["result"]["value"])

    def _console(self) -> list[str]:
        out = []
        for e in self._events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                out.append(f"console.{p['type']}: " + " ".join(str(a.get("value", a.get("description", "")))
                                                               for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"exception: {d.get('text', '')} {d.get('exception', {}).get('description', '')}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(f"log.{p['entry']['level']}: {p['entry'].get('text', '')} {p['entry'].get('url', '')}")
        return out

    def _screenshot(self, session: str, path: Path, most: int = 8000) -> None:
        size = self.call("Page.getLayoutMetrics", {}, session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": self.width, "height": min(most, max(self.height, int(size["height"]))),
                "scale": 1}
        data = self.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True},
                         session)["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._cmd_w)
            os.close(self._res_r)
            self.log.close()
