"""A headless Chromium for the kit's tests, driven over the DevTools protocol on a pipe.

``--remote-debugging-pipe`` makes Chromium read protocol commands from its fd 3 and
write answers and events to its fd 4, each message JSON ended by a NUL byte: no port,
no websocket library, nothing else on the machine to find. The test asks what it
needs — open a page at a phone's size, evaluate an expression in it, take a
screenshot — and gets every console error, uncaught exception and log error the
page caused, which is what "opens without errors" means.

Chromium comes from the distribution's packages (``apt-get install chromium``);
``.ci/run`` installs it when it is missing.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install -y chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
DEADLINE = 30.0
"""Seconds to wait for one answer or event before the test fails saying which."""


def chromium() -> str | None:
    """Chromium's path, when it is installed."""
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")


class BrowserError(RuntimeError):
    """Chromium did not answer as the protocol says, or not in time."""


@dataclass(frozen=True)
class Page:
    """A page opened in the browser, by its protocol session."""

    browser: Browser
    session: str

    def problems(self) -> list[str]:
        """The errors the page caused so far, as its console would show them."""
        return self.browser.problems(self.session)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (returned by value)."""
        answer = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True},
            session=self.session,
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"{expression!r} raised: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, path: Path, selector: str = "body") -> Path:
        """A PNG of the first element ``selector`` finds, as drawn, even where off screen."""
        box = self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect(); return {x: r.x + scrollX, y: r.y + scrollY,"
            " width: r.width, height: r.height, scale: 1}; })()"
        )
        answer = self.browser.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": box},
            session=self.session,
        )
        path.write_bytes(base64.b64decode(answer["data"]))
        return path


class Browser:
    """One headless Chromium, a fresh profile in ``profile``; use it in a ``with``."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()

        def give_pipes() -> None:  # in the child: the pipes become its fds 3 and 4
            commands = fcntl.fcntl(to_browser, fcntl.F_DUPFD, 10)
            answers = fcntl.fcntl(from_browser, fcntl.F_DUPFD, 10)
            os.dup2(commands, 3)
            os.dup2(answers, 4)

        self._process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=give_pipes,
            close_fds=False,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.call("Browser.close")
        except (BrowserError, OSError):
            self._process.kill()
        finally:
            self._process.wait(DEADLINE)
            os.close(self._to_browser)
            os.close(self._from_browser)

    def open(self, url: str, size: dict[str, Any] = PHONE) -> Page:
        """A new tab at ``size``, loaded with ``url``: it returns once that document's load
        event fired (told apart from any other load by the navigation's loader id)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session=session)
        self.call("Page.setLifecycleEventsEnabled", {"enabled": True}, session=session)
        self.call("Emulation.setDeviceMetricsOverride", size, session=session)
        navigated = self.call("Page.navigate", {"url": url}, session=session)
        if navigated.get("errorText"):
            raise BrowserError(f"could not open {url}: {navigated['errorText']}")
        self.wait_for(
            f"the load of {url}",
            lambda message: (
                message.get("sessionId") == session
                and message.get("method") == "Page.lifecycleEvent"
                and message["params"].get("name") == "load"
                and message["params"].get("loaderId") == navigated.get("loaderId")
            ),
        )
        return Page(self, session)

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: str = "") -> Any:
        """Send one command and return its result; events that come meanwhile are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read(f"the answer to {method}")
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def wait_for(self, what: str, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first event that is ``wanted``, whether it came already or comes next."""
        seen = 0
        while True:
            for message in self._events[seen:]:
                if wanted(message):
                    return message
            seen = len(self._events)
            self._events.append(self._read(what))

    def problems(self, session: str) -> list[str]:
        """What a person would see in the page's console as an error."""
        problems = []
        for message in self._events:
            if message.get("sessionId") != session:
                continue
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.exceptionThrown":
                problems.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                texts = [str(arg.get("value", arg.get("description"))) for arg in params["args"]]
                problems.append("console: " + " ".join(texts))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                problems.append(f"log: {params['entry'].get('text')}")
        return problems

    def _read(self, waiting_for: str) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0))
            if not ready:
                raise BrowserError(f"Chromium sent nothing for {DEADLINE:.0f} s: {waiting_for}")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium closed the pipe while waiting for {waiting_for}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed
