"""Faults in a real Chromium: the browser dies, the tab goes, the page reloads, the socket drops."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from grok_tui.browser.cdp import CdpSession
from grok_tui.browser.endpoint import discover
from grok_tui.headless import JsonPrinter, run_headless
from grok_tui.settings import state_dir
from grok_tui.store import StateStore


class Watcher(JsonPrinter):
    """The headless printer, plus a hook that injects a fault when a line matches."""

    def __init__(self, when, action):
        super().__init__(io.StringIO())
        self.when, self.action, self.fired = when, action, False

    def emit(self, obj):
        super().emit(obj)
        if not self.fired and self.when(obj):
            self.fired = True
            threading.Thread(target=self.action, daemon=True).start()

    def lines(self):
        return [json.loads(line) for line in self.stream.getvalue().splitlines()]


def page_session(r) -> CdpSession:
    _, targets = discover(port=r.chrome.port)
    return CdpSession([t for t in targets if "/imagine/" in t["url"]][0])


def reload_page(r) -> None:
    """Reload the rig's post page, as the user would (F5)."""
    s = page_session(r)
    try:
        s.call("Page.reload", ignoreCache=True)
    finally:
        s.close()


async def run(r, watcher, prompt="a fox", links=None, **kw):
    """The headless run; `links` (a list), when given, receives the BrowserLink the run creates."""
    from grok_tui.browser.link import BrowserLink

    def factory(**link_kw):
        link = BrowserLink(**link_kw)
        if links is not None:
            links.append(link)
        return link

    store = StateStore(state_dir())
    rc = await run_headless(r.settings(**kw), store, prompt, watcher, link_factory=factory)
    return rc, watcher.lines(), store


def progress_at(attempt, pct):
    return lambda o: o["event"] == "progress" and o["attempt"] == attempt and o["percent"] >= pct


def last_summary(lines):
    assert lines[-1]["event"] == "summary", lines[-3:]
    return lines[-1]


async def test_chrome_killed_mid_attempt(rigs, capfd):
    r = rigs("ok,mod@40", step_ms=80)
    w = Watcher(progress_at(2, 20), r.chrome.kill)
    t0 = time.time()
    rc, lines, store = await run(r, w, video_goal=2, tab_wait_s=1)
    s = last_summary(lines)
    assert rc == 2
    # attempt 2's generation request was seen before Chrome died: a paid generation, counted
    assert (s["outcome"], s["completedVideos"], s["creditsUsed"]) == ("cancelled", 1, 2)
    assert any(l["event"] == "disconnected" for l in lines)
    assert time.time() - t0 < 15
    [rec] = store.history()
    assert rec["outcome"] == "cancelled" and "browser lost" in rec["reason"]
    assert rec["attemptsDetail"][-1]["outcome"] == "cancelled"
    with open(rec["logPath"]) as fh:
        assert "browser link lost" in fh.read()
    assert "Traceback" not in capfd.readouterr().err


async def test_tab_closed_waits_then_cancels(rigs):
    r = rigs("ok", step_ms=100)

    def close_tab():
        _, targets = discover(port=r.chrome.port)
        tid = [t for t in targets if "/imagine/" in t["url"]][0]["id"]
        urllib.request.urlopen(f"http://127.0.0.1:{r.chrome.port}/json/close/{tid}", timeout=5).read()

    w = Watcher(progress_at(1, 20), close_tab)
    t0 = time.time()
    rc, lines, store = await run(r, w, tab_wait_s=2)
    s = last_summary(lines)
    assert rc == 2 and s["outcome"] == "cancelled"
    assert 2 <= time.time() - t0 < 15  # it waited tab_wait_s for the tab to come back
    assert store.history()[-1]["reason"].startswith("browser lost")


async def test_page_reload_between_attempts_reinstalls_observer(rigs):
    r = rigs("mod@40,mod@30,ok", step_ms=30, toast_ms=300)
    w = Watcher(lambda o: o["event"] == "outcome" and o["attempt"] == 1, lambda: reload_page(r))
    rc, lines, store = await run(r, w, cooldown_s=2.0)
    s = last_summary(lines)
    assert rc == 0 and (s["creditsUsed"], s["layer2Failures"], s["completedVideos"]) == (3, 2, 1)
    assert w.fired
    rec = store.history()[-1]
    # the page's toast for attempt 2 was seen too: the observer was re-installed after the reload
    second = rec["attemptsDetail"][1]
    assert second["outcome"] == "moderated"
    assert "dom" in second["sources"], second


async def test_navigation_away_ends_session_cleanly(rigs):
    r = rigs("mod@40,ok", step_ms=30)

    def navigate_away():
        s = page_session(r)
        try:
            s.call("Page.navigate", url=r.site.base_url + "/imagine")
        finally:
            s.close()

    w = Watcher(lambda o: o["event"] == "outcome" and o["attempt"] == 1, navigate_away)
    rc, lines, store = await run(r, w, cooldown_s=1.5, tab_wait_s=1)
    s = last_summary(lines)
    assert rc == 2 and s["outcome"] == "cancelled" and s["creditsUsed"] == 1
    assert len(r.site.requests) == 1  # nothing was clicked on the gallery page
    assert "could not be started" in store.history()[-1]["reason"] or "browser lost" in store.history()[-1]["reason"]


async def test_websocket_drop_reconnects_and_session_continues(rigs):
    r = rigs("mod@40,ok,ok", step_ms=40)
    links = []

    def drop_socket():
        ws = links[0].page.session.connection._sock._ws  # the real WebSocket of the link; the tab stays open
        ws.sock.close() if ws.sock else ws.close()

    w = Watcher(lambda o: o["event"] == "outcome" and o["attempt"] == 1, drop_socket)
    rc, lines, _ = await run(r, w, links=links, video_goal=2, cooldown_s=1.5, tab_wait_s=10)
    assert len(links) == 1  # re-attached on the same link
    s = last_summary(lines)
    assert w.fired
    assert any(l["event"] == "disconnected" for l in lines)
    assert sum(1 for l in lines if l["event"] == "attached") == 2
    assert rc == 0, lines[-5:]
    assert (s["outcome"], s["completedVideos"], s["creditsUsed"]) == ("success", 2, 3)


def test_sigterm_mid_session_records_cancelled(rigs):
    r = rigs("ok,ok,ok", step_ms=200)
    env = dict(os.environ, GROK_TUI_COOLDOWN_S="0.3", GROK_TUI_NEXT_VIDEO_DELAY_S="0.3")
    p = subprocess.Popen(
        [sys.executable, "-m", "grok_tui", "run", "--no-ui", "--cdp-port", str(r.chrome.port), "--tab",
         "/imagine/post/", "--prompt", "a fox", "--goal", "3"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines = []
    for raw in p.stdout:
        lines.append(json.loads(raw))
        if lines[-1]["event"] == "progress" and lines[-1]["attempt"] == 2:
            p.send_signal(signal.SIGTERM)
            break
    rest, err = p.communicate(timeout=30)
    lines += [json.loads(x) for x in rest.splitlines()]
    assert p.returncode == 2, err
    s = last_summary(lines)
    assert (s["outcome"], s["completedVideos"]) == ("cancelled", 1)
    assert "Traceback" not in err
    rec = StateStore(state_dir()).history()[-1]
    assert rec["outcome"] == "cancelled" and "SIGTERM" in rec["reason"]


async def test_tab_reopened_within_tab_wait_resumes(rigs):
    """The session's tab closes between attempts; a matching tab opened within tab_wait_s takes over.

    The next-video delay (8 s) leaves room for a slow machine to reopen the tab before the next click.
    """
    r = rigs("ok,ok", step_ms=30)
    times = {}

    def close_and_reopen():
        _, targets = discover(port=r.chrome.port)
        tid = [t for t in targets if "/imagine/" in t["url"]][0]["id"]
        urllib.request.urlopen(f"http://127.0.0.1:{r.chrome.port}/json/close/{tid}", timeout=5).read()
        time.sleep(1.0)
        times["reopened"] = time.time()
        req = urllib.request.Request(f"http://127.0.0.1:{r.chrome.port}/json/new?{r.site.post_url()}", method="PUT")
        urllib.request.urlopen(req, timeout=5).read()

    w = Watcher(lambda o: o["event"] == "outcome" and o["attempt"] == 1, close_and_reopen)
    rc, lines, store = await run(r, w, video_goal=2, cooldown_s=3.0, next_video_delay_s=8.0, tab_wait_s=20)
    s = last_summary(lines)
    assert w.fired and any(l["event"] == "disconnected" for l in lines)
    assert sum(1 for l in lines if l["event"] == "attached") == 2, [l for l in lines if l["event"] != "progress"]
    assert rc == 0 and (s["outcome"], s["completedVideos"], s["creditsUsed"]) == ("success", 2, 2)
    assert [q["prompt"] for q in r.site.requests] == ["a fox", "a fox"]
    assert store.history()[-1]["outcome"] == "success"
