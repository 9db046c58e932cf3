"""Test helpers: a simulated Grok site plus a real headless Chromium on it, the headless run in-process,
and waiting on a running app (wait_until)."""

from __future__ import annotations

import io
import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Callable

from grok_tui.browser.launcher import ChromeProcess, launch_chrome
from grok_tui.settings import load_settings
from grok_tui.sim import SimSite


@dataclass
class Rig:
    site: SimSite
    chrome: ChromeProcess
    owns_chrome: bool = True  # False: the chrome is a SharedChrome's, which outlives this rig

    def settings(self, **kw):
        base = dict(
            cdp_port=self.chrome.port,
            tab="/imagine/post/",
            cooldown_s=0.3,
            next_video_delay_s=0.3,
            session_timeout_s=20,
            tab_wait_s=1,
        )
        base.update(kw)
        return load_settings(**base)

    def close(self) -> None:
        if self.owns_chrome:
            self.chrome.close()
        self.site.stop()


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _devtools(chrome: ChromeProcess, path: str, method: str = "GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{chrome.port}{path}", method=method)
    with _NO_PROXY.open(req, timeout=10) as resp:
        body = resp.read()
    try:
        return json.loads(body)
    except ValueError:
        return body


def _load(target: dict, url: str, *, navigate: bool, timeout: float = 15.0) -> bool:
    """Until the tab shows `url`, loaded (`navigate`: send it there first)."""
    from grok_tui.browser.cdp import CdpSession

    page = CdpSession(target)
    try:
        if navigate:
            page.call("Page.navigate", url=url, timeout=10)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = page.call("Runtime.evaluate", returnByValue=True, timeout=10,
                          expression="[location.href, document.readyState]")
            href, state = (r.get("result") or {}).get("value") or ["", ""]
            if href == url and state == "complete":
                return True
            time.sleep(0.02)
        return False
    finally:
        page.close()


class SharedChrome:
    """One headless Chromium for many rigs (a test module's), instead of one started per rig.

    `show(url)` gives the next rig the browser as a fresh one would look: exactly one page tab,
    loaded anew at `url` (a new sim site: another port, so another origin, with its own
    sessionStorage; its page sets its own session cookie). Tabs that earlier rigs opened are
    closed. A browser that died is started again.
    """

    def __init__(self) -> None:
        self.chrome: ChromeProcess | None = None

    def show(self, url: str) -> ChromeProcess:
        from grok_tui.browser.cdp import BrowserError

        chrome = self.chrome
        if chrome is not None and chrome.proc.poll() is None:
            try:
                pages = [t for t in _devtools(chrome, "/json/list") if t.get("type") == "page"]
                if not pages:
                    pages = [_devtools(chrome, "/json/new?about:blank", "PUT")]
                keep, rest = pages[0], pages[1:]
                for t in rest:
                    _devtools(chrome, f"/json/close/{t['id']}")
                if _load(keep, url, navigate=True):
                    return chrome
            except (OSError, ValueError, KeyError, BrowserError):
                pass
            chrome.close()  # not in a state a test can start from: a new one
        self.chrome = launch_chrome(url)
        try:  # as after a navigation: the page has loaded (its image, editor and cookie are there)
            pages = [t for t in _devtools(self.chrome, "/json/list") if t.get("type") == "page"]
            _load(pages[0], url, navigate=False)
        except (OSError, ValueError, KeyError, IndexError, BrowserError):
            pass
        return self.chrome

    def close(self) -> None:
        if self.chrome is not None:
            self.chrome.close()
            self.chrome = None


def make_rig(script: str = "", *, editor: str = "textarea", step_ms: int = 20, shared: SharedChrome | None = None,
             **site_kw) -> Rig:
    """A sim site and a headless Chromium showing its post page (`shared`: that browser, not a new one)."""
    site = SimSite(script=script, editor=editor, step_ms=step_ms, **site_kw).start()
    try:
        chrome = shared.show(site.post_url()) if shared is not None else launch_chrome(site.post_url())
    except BaseException:
        site.stop()
        raise
    return Rig(site, chrome, owns_chrome=shared is None)


async def run_session(rig: Rig, prompt: str | None, **settings_kw) -> tuple[int, list[dict], object]:
    """`grok-tui run --no-ui` in-process: exit code, the JSON Lines, the store."""
    from grok_tui.headless import JsonPrinter, run_headless
    from grok_tui.settings import state_dir
    from grok_tui.store import StateStore

    out = io.StringIO()
    store = StateStore(state_dir())
    rc = await run_headless(rig.settings(**settings_kw), store, prompt, JsonPrinter(out))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return rc, lines, store


async def wait_until(pilot, cond: Callable[[], object], timeout: float = 20.0, what: str = "condition",
                     *, settle: float | None = None) -> None:
    """Let the app run until `cond()` holds, then until the screen settles (`settle` seconds, else one refresh)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    await pilot.pause(settle)


class Seen:
    """Textual's `message_hook` for `run_test`: keeps the notifications the app posts and the runner's notices."""

    def __init__(self) -> None:
        from textual.notifications import Notify

        from grok_tui.ui.messages import RunnerNotice

        self.kept = (Notify, RunnerNotice)
        self.messages: list = []

    def __call__(self, message) -> None:
        if isinstance(message, self.kept):  # the hook sees every message of every widget: keep only these
            self.messages.append(message)

    def notifications(self, severity: str | None = None) -> list:
        return [m.notification for m in self.messages
                if hasattr(m, "notification") and (severity is None or m.notification.severity == severity)]

    def notes(self, severity: str | None = None) -> list[str]:
        return [n.message for n in self.notifications(severity)]
