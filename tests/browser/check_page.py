#!/usr/bin/env python3
"""Loads an HTML page in headless Chromium and reports what a reader would see.

Usage: check_page.py CHROMIUM PAGE SCREENSHOT PROFILE_DIR

Drives the browser through the DevTools protocol over a pipe (--remote-debugging-pipe; the
Python standard library only), loads PAGE, and prints one JSON object on stdout:
  console_errors  console.error/assert calls, uncaught exceptions and browser log errors
  charts          for every <figure class="chart">: its name, whether it holds an <svg>,
                  the svg's rendered width and height, and how many data marks it draws
                  (filled bars of non-zero size, points, lines of a series)
  broken_links    in-page links (#id) whose target does not exist
  title           the document title
and writes a PNG screenshot of the whole page to SCREENSHOT.
"""
import base64
import json
import os
import select
import subprocess
import sys
import time

CHECK = r"""
JSON.stringify({
  title: document.title,
  charts: [...document.querySelectorAll('figure.chart')].map(f => {
    const s = f.querySelector('svg');
    const b = s ? s.getBoundingClientRect() : {width: 0, height: 0};
    const marks = s ? [...s.querySelectorAll('rect, circle, polyline, path')].filter(e => {
      if (e.tagName === 'rect') {
        const fill = (e.getAttribute('fill') || '').toUpperCase();
        return fill !== '#FFFFFF' && fill !== 'NONE' && fill !== '' &&
               Number(e.getAttribute('width')) > 0 && Number(e.getAttribute('height')) > 0;
      }
      if (e.tagName === 'circle') return Number(e.getAttribute('r')) > 0;
      return (e.getAttribute('stroke') || '').toUpperCase() === '#787878';
    }).length : 0;
    return {name: f.dataset.chart || '', svg: !!s, width: b.width, height: b.height, marks: marks};
  }),
  broken_links: [...document.querySelectorAll('a[href^="#"]')]
    .map(a => a.getAttribute('href').slice(1))
    .filter(id => id && !document.getElementById(id)),
})
"""


class Browser:
    def __init__(self, chromium, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child():
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--remote-debugging-pipe",
             "--user-data-dir=" + profile, "--window-size=1100,1400", "about:blank"],
            preexec_fn=child, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def read(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit("chromium did not answer within 60 s")
            ready, _, _ = select.select([self.from_chrome], [], [], left)
            if ready:
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    raise SystemExit("chromium closed the DevTools pipe (did it start?)")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 60
        while True:
            reply = self.read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SystemExit(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method):
        deadline = time.monotonic() + 60
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self.read(deadline))


def console_errors(events):
    errors = []
    for e in events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
        elif e.get("method") == "Runtime.exceptionThrown":
            errors.append(p.get("exceptionDetails", {}).get("text", "exception"))
        elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            errors.append(p["entry"].get("text", "log error"))
    return errors


def main():
    chromium, page, shot, profile = sys.argv[1:5]
    b = Browser(chromium, profile)
    try:
        target = b.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = b.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            b.call(domain + ".enable", session=session)
        b.call("Page.navigate", {"url": "file://" + os.path.abspath(page)}, session=session)
        b.wait_for("Page.loadEventFired")
        found = json.loads(b.call("Runtime.evaluate", {"expression": CHECK, "returnByValue": True},
                                  session=session)["result"]["value"])
        size = b.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000), "scale": 1}
        png = b.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True},
                     session=session)["data"]
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png))
        found["console_errors"] = console_errors(b.events)
        print(json.dumps(found))
        b.call("Browser.close")
    finally:
        try:
            b.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            b.proc.kill()


if __name__ == "__main__":
    main()
