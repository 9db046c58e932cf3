"""Issue 9: act only on the right page, once, and count every credit (real headless Chromium)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from grok_tui import notices
from grok_tui.browser.cdp import CdpSession
from grok_tui.browser.endpoint import discover
from grok_tui.headless import JsonPrinter
from grok_tui.runner import SessionRunner
from grok_tui.settings import state_dir
from grok_tui.store import StateStore
from grok_tui.tablock import TabBusy, TabLock
from test_faults import Watcher, last_summary, page_session, reload_page, run

SECRET = "SEKRET42tok"


def _run_cmd(rig, *extra, prompt="a fox"):
    return [sys.executable, "-m", "grok_tui", "run", "--no-ui", "--cdp-port", str(rig.chrome.port),
            "--tab", "/imagine/post/", "--prompt", prompt, *extra]


async def run_with_runner(rig, prompt="a fox", *, on_busy="fail", **kw):
    """A whole headless session through a runner we keep (for export and inspection)."""
    from grok_tui.browser.link import BrowserLink

    out = io.StringIO()
    printer = JsonPrinter(out)
    runner = SessionRunner(rig.settings(**kw), StateStore(state_dir()), BrowserLink, listener=printer, on_busy=on_busy)
    await runner.attach()
    runner.start_loop()
    await runner.start_session(prompt)
    await asyncio.wait_for(runner.ended.wait(), 60)
    return runner, [json.loads(x) for x in out.getvalue().splitlines()]


# ------------------------------------------------------------------ item 2: one controller per tab


def test_second_instance_exits_3_naming_the_holder(rigs):
    r = rigs("ok,ok", step_ms=600)
    env = dict(os.environ, GROK_TUI_COOLDOWN_S="0.5", GROK_TUI_NEXT_VIDEO_DELAY_S="0.5")
    first = subprocess.Popen(_run_cmd(r, "--goal", "2"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    for raw in first.stdout:
        lines.append(json.loads(raw))
        if lines[-1]["event"] == "attempt":
            break
    second = subprocess.run(_run_cmd(r, "--goal", "2", prompt="another prompt"), env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 3, second.stderr
    assert f"pid {first.pid}" in second.stderr and "Another grok-tui controls this tab" in second.stderr
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert second.stdout == ""  # it printed nothing: it never attached, installed or clicked
    rest, err = first.communicate(timeout=60)
    lines += [json.loads(x) for x in rest.splitlines()]
    assert first.returncode == 0, err
    s = lines[-1]
    assert (s["event"], s["completedVideos"], s["creditsUsed"]) == ("summary", 2, 2)
    # the first instance's observer survived the second's start and exit: both outcomes came via the DOM too
    assert [req["prompt"] for req in r.site.requests] == ["a fox", "a fox"]


async def test_ui_runner_watches_read_only_when_the_tab_is_held(rigs):
    r = rigs("ok")
    from grok_tui.browser.link import BrowserLink

    tid = BrowserLink(port=r.chrome.port, tab_match="/imagine/post/", emit=lambda e: None).list_tabs()[0]["id"]
    held = TabLock.acquire(state_dir() / "locks", tid, {"pid": 4242, "command": "grok-tui run", "host": os.uname().nodename})
    notes = []
    try:
        runner = SessionRunner(r.settings(), StateStore(state_dir()), BrowserLink, listener=notes.append, on_busy="watch")
        await runner.attach()
        assert runner.attached and runner.read_only and "pid 4242" in runner.read_only
        runner.start_loop()
        await runner.start_session("a fox")
        await asyncio.sleep(0.3)
        assert any(isinstance(n, notices.Refused) and "pid 4242" in n.message for n in notes)
        assert r.site.requests == []
        await runner.close()
        # a headless runner refuses outright
        with pytest.raises(TabBusy, match="pid 4242"):
            await SessionRunner(r.settings(), StateStore(state_dir()), BrowserLink).attach()
    finally:
        held.release()
    # released: the next one takes the tab
    again = SessionRunner(r.settings(), StateStore(state_dir()), BrowserLink)
    await again.attach()
    assert again.read_only is None and again._tab_lock is not None
    await again.close()


async def test_page_marker_stops_an_instance_that_cannot_see_the_lock(rigs, tmp_path):
    """Instances on other machines or users share no lock folder: the page-side marker names the holder;
    a watcher installs only its own names, and nothing it does removes the holder's."""
    from grok_tui.browser.link import BrowserLink

    r = rigs("ok")
    holder = SessionRunner(r.settings(), StateStore(state_dir()), BrowserLink)
    await holder.attach()
    try:
        other = SessionRunner(r.settings(), StateStore(tmp_path / "elsewhere"), BrowserLink)
        with pytest.raises(TabBusy, match=f"pid {os.getpid()}"):
            await other.attach()
        await other.close()
        watcher = SessionRunner(r.settings(), StateStore(tmp_path / "elsewhere-ui"), BrowserLink, on_busy="watch")
        await watcher.attach()
        assert watcher.attached and f"pid {os.getpid()}" in (watcher.read_only or "")
        await watcher.close()
        holder.start_loop()
        await holder.start_session("a fox")
        await asyncio.wait_for(holder.ended.wait(), 30)
        [ended] = holder.records
        [rec] = holder.store.history()  # what was recorded for it
        assert ended.summary.outcome == "success"
        assert "dom" in rec["attemptsDetail"][0]["sources"]  # the holder's observer survived the others
    finally:
        await holder.close()
    assert len(r.site.requests) == 1
    # the holder's marker left with it: an instance with yet another lock folder now takes the tab
    after = SessionRunner(r.settings(), StateStore(tmp_path / "later"), BrowserLink)
    await after.attach()
    assert after.attached and after.read_only is None
    await after.close()


# ------------------------------------------------------------------ item 9: no query string in any output


async def test_no_query_string_in_any_output(rigs):
    from grok_tui.browser.launcher import launch_chrome
    from grok_tui.sim import SimSite
    from grok_tui.export import gather_from_runner, write_export

    from browser_rig import Rig

    site = SimSite(script="mod@20,ok", step_ms=20).start()
    r = Rig(site, launch_chrome(site.post_url() + f"?access_token={SECRET}&lang=en#frag{SECRET}"))
    try:
        runner, lines = await run_with_runner(r, "a fox")
        text = "\n".join(json.dumps(x) for x in lines)
        assert SECRET not in text
        attached = next(x for x in lines if x["event"] == "attached")
        assert attached["url"].endswith("/imagine/post/" + site.post_id)
        assert SECRET not in Path(runner.logbook.path).read_text()
        for f in state_dir().rglob("*"):
            if f.is_file():
                assert SECRET not in f.read_text(errors="replace"), f
        j, t = write_export(gather_from_runner(runner), state_dir() / "exports")
        tabs = await runner.list_tabs()
        assert tabs and all(SECRET not in json.dumps(tab) for tab in tabs)
        assert SECRET not in j.read_text() and SECRET not in t.read_text()
        await runner.close()
        # the "no matching tab" sentence lists the open tabs' URLs: without their queries
        p = subprocess.run(_run_cmd(r) + ["--tab", "no-such-tab"], capture_output=True, text=True, timeout=60)
        assert p.returncode == 3 and "no-such-tab" in p.stderr and SECRET not in p.stderr
    finally:
        r.close()


# ------------------------------------------------------------------ item 8: a slow-drip DevTools endpoint


class DripServer:
    """Answers every connection with an HTTP response that trickles out at 1 byte a second.

    `held` records, per connection, how long the client stayed before it hung up."""

    def __init__(self):
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.held: list[float] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading

        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        import select
        import time

        t0 = time.monotonic()
        body = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"Browser": "Chrome/1", "x": "yyyyyyy"}'
        try:
            conn.recv(4096)
            for b in body:
                readable, _, _ = select.select([conn], [], [], 1.0)
                if readable and not conn.recv(1):  # the client hung up
                    break
                if self.stop.is_set():
                    return
                conn.sendall(bytes([b]))
        except OSError:
            pass
        finally:
            self.held.append(time.monotonic() - t0)
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def drip():
    d = DripServer()
    yield d
    d.close()


@pytest.mark.parametrize("command", [["run", "--no-ui", "--prompt", "x"], []])
def test_drip_endpoint_fails_within_6_s(drip, command):
    """1 byte a second on /json/version: one sentence and exit 3, the endpoint given up within 6 s.

    The wall time is measured against the same command on a port where nothing listens, so the
    interpreter's start-up on a loaded machine is not counted as waiting for the endpoint."""
    import socket
    import time

    def grok(port):
        t0 = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "grok_tui", *command, "--cdp-port", str(port)],
                           capture_output=True, text=True, timeout=60)
        return p, time.monotonic() - t0

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        nobody = free.getsockname()[1]
    base, base_s = grok(nobody)
    assert base.returncode == 3 and "Nothing is listening" in base.stderr
    p, took = grok(drip.port)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr and str(drip.port) in p.stderr
    deadline = time.monotonic() + 3
    while not drip.held and time.monotonic() < deadline:
        time.sleep(0.05)
    assert drip.held and max(drip.held) <= 6.0, drip.held  # the endpoint was given up within 6 s
    if command:  # `run`: the whole command too (the UI path loads more before it gives up; its endpoint wait is above)
        assert took - base_s <= 6.0, (took, base_s)
    print(f"drip: connection held {max(drip.held):.2f} s; run {took:.2f} s vs {base_s:.2f} s with nothing listening")


# ------------------------------------------------------------------ pure parts


def test_page_text_escapes_controls_and_caps():
    from grok_tui.sanitize import page_text, strip_url

    raw = "Done\n2026-01-01 00:00:00 ERROR forged\x1b]0;pwned\x07\x1b[2J\u202etxt\r" + "x" * 5000
    out = page_text(raw)
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029\u202e" for c in out)
    assert out.startswith("Done\\x0a2026") and "\\x1b]0;pwned\\x07" in out and "\\u202e" in out
    assert len(out) == 300 and out.endswith("…")
    assert page_text(out) == out  # idempotent: escaping twice changes nothing
    assert strip_url(f"https://grok.com/imagine/post/ab-12?access_token={SECRET}#x") == "https://grok.com/imagine/post/ab-12"
    assert strip_url(f"/imagine/post/ab?t={SECRET}") == "/imagine/post/ab"


def test_tab_lock_is_released_when_its_holder_is_killed(tmp_path):
    import signal

    code = (
        "import sys, time; from pathlib import Path; from grok_tui.tablock import TabLock;"
        "TabLock.acquire(Path(sys.argv[1]), 'T1'); print('held', flush=True); time.sleep(60)"
    )
    p = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(TabBusy, match=f"pid {p.pid}"):
            TabLock.acquire(tmp_path, "T1")
        TabLock.acquire(tmp_path, "T2").release()  # another tab is free
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    lock = TabLock.acquire(tmp_path, "T1")  # the kernel released the dead holder's lock
    assert lock.held
    lock.release()


# ------------------------------------------------------------------ item 4 (engine): a seen request is a credit


# ------------------------------------------------------------------ item 3: the 8 s floor follows the page


async def test_after_navigation_to_a_non_local_host_the_retry_waits_8_s():
    """The tab is attached on 127.0.0.1, then moves to grok.test (Chromium maps that name to the sim):
    the floor is re-computed from the page's URL, not kept from the attach."""
    from browser_rig import Rig
    from grok_tui.browser.launcher import launch_chrome
    from grok_tui.browser.link import BrowserLink
    from grok_tui.sim import SimSite

    site = SimSite(script="mod@10,ok", step_ms=20).start()
    r = Rig(site, launch_chrome(site.post_url(), extra_args=("--host-resolver-rules=MAP grok.test 127.0.0.1",)))
    notes = []
    try:
        runner = SessionRunner(r.settings(cooldown_s=0.3, next_video_delay_s=0.3), StateStore(state_dir()), BrowserLink,
                               listener=notes.append)
        info = await runner.attach()
        assert info.identity.url.startswith("http://127.0.0.1:")
        assert runner.engine.timings.cooldown_s == 0.3
        runner.start_loop()
        _, targets = discover(port=r.chrome.port)
        page = CdpSession([t for t in targets if "/imagine/post/" in t["url"]][0])
        away = site.post_url().replace("127.0.0.1", "grok.test")
        page.call("Runtime.evaluate", expression="new Promise(ok => document.readyState === 'complete' ? ok(1) : "
                  "addEventListener('load', () => ok(1)))", awaitPromise=True, timeout=20)
        page.call("Page.navigate", url=away, timeout=20)
        page.close()
        # a cross-site load swaps the renderer: the link sees a route change or re-attaches
        for _ in range(200):
            if runner._page_url.startswith("http://grok.test:") and runner.attached:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"the runner never saw the page on grok.test: {runner._page_url} {discover(port=r.chrome.port)}")
        assert runner.engine.timings.cooldown_s == 8.0
        await runner.start_session("a fox")
        await asyncio.wait_for(runner.ended.wait(), 60)
        await runner.close()
    finally:
        r.close()
    reqs = site.requests
    assert [q["outcome"] for q in reqs] == ["mod@10", "ok"]
    first, second = runner.engine.session.attempt_progress
    assert first.outcome == "moderated" and second.outcome == "success"
    assert second.started_at - first.ended_at >= 8.0 - 0.05
    assert reqs[1]["t"] - reqs[0]["t"] >= 8.0
    assert any("raised to 8 s" in getattr(n, "message", "") for n in notes)


# ------------------------------------------------------------------ item 4 (engine): a seen request is a credit


@pytest.mark.parametrize(
    "ending, credits",
    [
        ("browser_lost", 1),  # tab closed / Chrome gone after the request
        ("timeout", 1),  # the outcome never came
        ("cancel", 1),  # the user cancelled mid-attempt
        ("rate", 0),  # a 429 is no generation
        ("click_failed", 0),  # no request was seen
    ],
)
def test_an_attempt_whose_request_was_seen_is_a_credit(ending, credits):
    from grok_tui.engine import PersistentData, SessionEngine, Timings
    from grok_tui.engine.events import BrowserLost, ClickFailed, ClickSent, RateLimited, StartSession, UserCancel

    e = SessionEngine(PersistentData(max_retries=3, video_goal=1), Timings(1, 1, 30))
    out = e.handle(StartSession("a fox", media_id="m1"), 100.0)
    if ending == "click_failed":
        out += e.handle(ClickFailed(1, "no button"), 100.5)
    else:
        e.handle(ClickSent(1, "clicked"), 100.5)
        if ending == "browser_lost":
            out += e.handle(BrowserLost("tab closed"), 101)
        elif ending == "timeout":
            out += e.advance(131)
        elif ending == "cancel":
            out += e.handle(UserCancel("you"), 101)
        else:
            out += e.handle(RateLimited(1, "network", "429"), 101)
    [summary] = [c.summary for c in out if isinstance(c, notices.SessionEnded)]
    assert summary.outcome == "cancelled" and summary.creditsUsed == credits


# ------------------------------------------------------------------ item 1: an empty --tab is refused


@pytest.mark.parametrize("tab", ["", "   "])
def test_empty_tab_is_refused_in_one_sentence(tab):
    p = subprocess.run([sys.executable, "-m", "grok_tui", "run", "--no-ui", "--tab", tab, "--prompt", "x"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 3
    assert p.stderr.count("\n") == 1 and "tab cannot be empty" in p.stderr and "Traceback" not in p.stderr


# ------------------------------------------------------------------ item 1: only the session's post gets a write or a click


DRAFT = "my own draft, not yours"

_LOADED = ("new Promise(ok => { const f = () => document.readyState === 'complete' && document.querySelector('#prompt-editor')"
           " ? ok(true) : setTimeout(f, 50); f(); })")
# The user's own draft, typed as a person would (an input event, so the page's editor model holds it too:
# a textContent write alone would be replaced by the model's text at the page's next render).
_SET_DRAFT = ("(() => { const el = document.querySelector('#prompt-editor'); el.focus();"
              " if (el.tagName === 'TEXTAREA') el.value = %s; else el.textContent = %s;"
              " el.dispatchEvent(new Event('input', { bubbles: true })); return true; })()")
_READ_EDITOR = ("(() => { const el = document.querySelector('#prompt-editor');"
                " return el ? (el.tagName === 'TEXTAREA' ? el.value : el.textContent) : null; })()")


def _eval(session, expr, **kw):
    from grok_tui.browser.cdp import CdpError

    for _ in range(50):  # a page still loading destroys its first context: evaluate again in the new one
        try:
            res = session.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True, timeout=20, **kw)
            return (res.get("result") or {}).get("value")
        except CdpError as exc:
            if "context" not in str(exc):
                raise
            time.sleep(0.1)
    raise AssertionError("the page never settled")


@pytest.mark.parametrize("where", ["foreign_origin", "settings_route", "other_image"])
async def test_tab_moved_off_the_session_post_gets_no_write_and_no_click(rigs, where):
    """During the cooldown the tab goes to another site's post (same markup: a contenteditable and a
    "Make video" button), to /settings/account by pushState, or to another image in-page."""
    from grok_tui.sim import SimSite

    r = rigs("mod@20,ok", step_ms=30, editor="prosemirror")
    foreign = SimSite(editor="prosemirror", step_ms=30).start()  # another origin
    state = {}

    def move():
        s = page_session(r)
        try:
            if where == "foreign_origin":
                s.call("Page.navigate", url=foreign.post_url(), timeout=20)
                time.sleep(0.3)
                s.close()
                _, targets = discover(port=r.chrome.port)
                s = CdpSession([t for t in targets if t["url"].startswith(foreign.base_url)][0])
                _eval(s, _LOADED)
            elif where == "settings_route":
                _eval(s, "history.pushState({}, '', '/settings/account'), true")
            else:
                _eval(s, "history.pushState({}, '', '/imagine/post/0000-aaaa'), document.querySelector("
                         "'img[src*=\"imagine-public/images/\"]').setAttribute('src', '/imagine-public/images/0000-aaaa.jpg'), true")
            _eval(s, _SET_DRAFT % (json.dumps(DRAFT), json.dumps(DRAFT)))
            state["draft_set"] = True
        finally:
            s.close()

    w = Watcher(lambda o: o["event"] == "outcome" and o["attempt"] == 1, move)
    try:
        # (for /settings/account the tab setting names the site, so the post-route check is the one that refuses)
        tab = "127.0.0.1" if where == "settings_route" else "/imagine/post/"
        rc, lines, store = await run(r, w, cooldown_s=3.0, tab_wait_s=2, tab=tab)
        s = last_summary(lines)
        assert state.get("draft_set")
        assert rc == 2 and (s["outcome"], s["creditsUsed"], s["completedVideos"]) == ("cancelled", 1, 0)
        reason = store.history()[-1]["reason"]
        assert "nothing was written or clicked" in reason, reason
        assert {"foreign_origin": "another site than the session's", "settings_route": "not an image post",
                "other_image": "not the session's image"}[where] in reason, reason
        assert len(r.site.requests) == 1 and foreign.requests == []  # the retry was never clicked
        _, targets = discover(port=r.chrome.port)
        page = CdpSession(targets[0])
        try:
            assert _eval(page, _READ_EDITOR) == DRAFT  # the page kept its own text
        finally:
            page.close()
        assert any(l["event"] == "log" and "not writing or clicking" in l["message"] for l in lines)
    finally:
        foreign.stop()


_OURS = "Object.getOwnPropertyNames(window).filter((k) => k.startsWith('__grokTui'))"


async def test_reattach_only_takes_a_tab_showing_the_session_image(rigs):
    """The session's tab closes and the only matching tab left shows another image: it is read, never
    attached (nothing installed, its draft kept, no click), and the session ends when tab_wait_s is over."""
    r = rigs("ok,ok", step_ms=30, image_posts=2)
    (post_a, _), (post_b, img_b) = [(p["postId"], p["mediaId"]) for p in r.site.image_posts[:2]]
    state = {}

    def swap_tabs():
        req = urllib.request.Request(f"http://127.0.0.1:{r.chrome.port}/json/new?{r.site.post_url(post_b)}", method="PUT")
        other = json.loads(urllib.request.urlopen(req, timeout=5).read())
        s = CdpSession(other)
        try:
            _eval(s, _LOADED)
            _eval(s, _SET_DRAFT % (json.dumps(DRAFT), json.dumps(DRAFT)))
        finally:
            s.close()
        _, targets = discover(port=r.chrome.port)
        mine = [t for t in targets if post_a in t["url"]][0]["id"]
        urllib.request.urlopen(f"http://127.0.0.1:{r.chrome.port}/json/close/{mine}", timeout=5).read()
        state["other"] = other["id"]

    w = Watcher(lambda o: o["event"] == "outcome" and o["attempt"] == 1, swap_tabs)
    rc, lines, store = await run(r, w, video_goal=2, next_video_delay_s=8.0, tab_wait_s=3)
    s = last_summary(lines)
    assert w.fired and state.get("other")
    assert rc == 2 and (s["outcome"], s["completedVideos"], s["creditsUsed"]) == ("cancelled", 1, 1)
    assert store.history()[-1]["reason"].startswith("browser lost"), store.history()[-1]["reason"]
    assert sum(1 for x in lines if x["event"] == "attached") == 1  # never attached to the other image's tab
    assert any(x["event"] == "log" and "is not taken" in x["message"] for x in lines)
    assert len(r.site.requests) == 1
    page = CdpSession(next(t for t in discover(port=r.chrome.port)[1] if t["id"] == state["other"]))
    try:
        assert _eval(page, _READ_EDITOR) == DRAFT  # the other tab kept its own text
        assert _eval(page, _OURS) == []  # and has nothing of grok-tui's: no observer, binding, marker or title
    finally:
        page.close()
    assert img_b not in [q["parentPostId"] for q in r.site.requests]


async def test_a_click_waiting_for_a_cover_is_never_made_after_the_session_ends(rigs):
    """The retry waits for a covering toast; the session times out meanwhile. The runner lives on (as in
    the UI) and the cover goes: the click that was waiting is never made."""
    from grok_tui.browser.link import BrowserLink

    r = rigs("mod@20,ok", step_ms=30)

    def cover():
        s = page_session(r)
        try:
            _eval(s, COVER_JS % 5000)
        finally:
            s.close()

    notes = []
    runner = SessionRunner(r.settings(cooldown_s=0.5, session_timeout_s=2, tab_wait_s=10), StateStore(state_dir()),
                           BrowserLink, listener=notes.append)
    try:
        await runner.attach()
        runner.start_loop()
        await runner.start_session("a fox")
        for _ in range(200):
            if runner.engine.current is not None and runner.engine.current.resolved:
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(cover)
        await asyncio.wait_for(runner.ended.wait(), 30)
        t_end = time.monotonic()
        await asyncio.sleep(max(0.0, 7.0 - (time.monotonic() - t_end)))  # the cover went 5 s after it came
        s = page_session(r)
        try:
            clicks = _eval(s, "window.__clicks")
            covered = _eval(s, "!!document.querySelector('li.cover-test')")
        finally:
            s.close()
    finally:
        await runner.close()
    assert runner.records[-1].summary.outcome == "cancelled"
    assert not covered
    assert clicks == {"cover": 0, "button": 0}
    assert len(r.site.requests) == 1


# ------------------------------------------------------------------ item 5: a covered button gets no mouse click

COVER_JS = """(() => {
  const b = document.querySelector('#generate');
  window.__clicks = {cover: 0, button: 0};
  b.addEventListener('mousedown', () => window.__clicks.button++, true);
  b.addEventListener('click', () => window.__clicks.button++, true);
  const r = b.getBoundingClientRect();
  const li = document.createElement('li');
  li.className = 'toast cover-test';
  li.setAttribute('data-visible', 'true');
  li.textContent = 'Saved to your library';
  li.style.cssText = `position:fixed;z-index:99;left:${r.left - 20}px;top:${r.top - 10}px;width:${r.width + 40}px;height:${r.height + 20}px;background:#333`;
  li.addEventListener('mousedown', () => window.__clicks.cover++);
  li.addEventListener('click', () => window.__clicks.cover++);
  document.body.appendChild(li);
  setTimeout(() => li.remove(), %d);
  return true;
})()"""


@pytest.mark.parametrize("cover_ms", [10_000, 1_200])
async def test_covered_button_gets_no_mouse_click(rigs, cover_ms):
    r = rigs("mod@20,ok", step_ms=30)
    clicks = {}

    def cover():
        s = page_session(r)
        try:
            _eval(s, COVER_JS % cover_ms)
        finally:
            s.close()

    w = Watcher(lambda o: o["event"] == "outcome" and o["attempt"] == 1, cover)
    rc, lines, store = await run(r, w, cooldown_s=0.5, tab_wait_s=1)
    s = page_session(r)
    try:
        clicks = _eval(s, "window.__clicks")
    finally:
        s.close()
    summary = last_summary(lines)
    assert clicks["cover"] == 0  # no mouse click ever landed on the covering element
    if cover_ms > 3000:  # it stayed: the attempt is not clicked, and says what covers the button
        assert rc == 2 and summary["outcome"] == "cancelled" and summary["creditsUsed"] == 1
        reason = store.history()[-1]["reason"]
        assert "covered by li.toast.cover-test" in reason and "Saved to your library" in reason, reason
        assert clicks["button"] == 0 and len(r.site.requests) == 1
    else:  # it cleared: one click, one request
        assert rc == 0 and summary["outcome"] == "success" and summary["creditsUsed"] == 2
        assert clicks["button"] == 2 and len(r.site.requests) == 2  # mousedown + click of one mouse click


# ------------------------------------------------------------------ item 4: a page busy in its mouseup handler

HANG_JS = """(() => {
  document.querySelector('#generate').addEventListener('mouseup', () => {
    const end = Date.now() + %d; while (Date.now() < end) {}
  });
  return true;
})()"""


async def test_page_hanging_in_mouseup_is_counted_and_tied_to_its_attempt(rigs):
    r = rigs("ok", step_ms=30)
    s = page_session(r)
    try:
        _eval(s, _LOADED)
        _eval(s, HANG_JS % 7000)
    finally:
        s.close()
    rc, lines, store = await run(r, Watcher(lambda o: False, None), session_timeout_s=40)
    summary = last_summary(lines)
    assert rc == 0 and (summary["outcome"], summary["creditsUsed"], summary["completedVideos"]) == ("success", 1, 1)
    assert len(r.site.requests) == 1  # one click, one request, never a second click
    attempt = next(x for x in store.history()[-1]["attemptsDetail"] if x["attempt"] == 1)
    assert attempt["outcome"] == "success"
    assert any("busy in its own click handler" in l.get("message", "") for l in lines if l["event"] == "log")


# ------------------------------------------------------------------ item 7: page text cannot forge log lines


NOTICE_JS = """(() => {
  const ol = document.querySelector('section[aria-label*="Notifications"] ol');
  const add = (text, i) => {
    const li = document.createElement('li');
    li.className = 'toast'; li.setAttribute('data-visible', 'true'); li.setAttribute('data-ts', String(1000 + i));
    const span = document.createElement('span'); span.textContent = text; li.appendChild(span); ol.appendChild(li);
  };
  add("Saved.\\n2026-01-01 00:00:00 ERROR session failure: forged\\u001b]0;pwned\\u0007\\u001b[2J\\u202e", 0);
  for (let i = 1; i <= 44; i++) add('Tip number ' + i + '\\u001b[31m', i);
  return true;
})()"""


async def test_log_files_hold_no_raw_control_characters_and_cap_page_notices(rigs):
    r = rigs("ok", step_ms=150)

    def notices():
        s = page_session(r)
        try:
            _eval(s, NOTICE_JS)
        finally:
            s.close()

    w = Watcher(lambda o: o["event"] == "progress" and o["attempt"] == 1 and o["percent"] >= 10, notices)
    rc, lines, store = await run(r, w)
    assert rc == 0 and w.fired
    rec = store.history()[-1]
    raw = Path(rec["logPath"]).read_bytes().decode("utf-8")
    body = raw.replace("\n", "")
    assert not [c for c in body if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029\u202e"]
    assert raw.count("\n") == len(raw.splitlines())  # one record per line: nothing forged a line
    assert not any(line.startswith("2026-01-01") for line in raw.splitlines())
    assert "\\x1b]0;pwned\\x07" in raw  # shown escaped, not dropped
    notices_logged = [line for line in raw.splitlines() if "page notice:" in line]
    assert len(notices_logged) == 20
    assert "25 more page notices were not logged (at most 20 per session)" in raw
    printed = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)
    assert "\x1b" not in printed and "\x07" not in printed


# ------------------------------------------------------------------ item 6: memory stays flat under a route flood


ROUTE_FLOOD_JS = """(() => {
  const name = Object.getOwnPropertyNames(window).find((k) => k.startsWith("__grokTuiSignal"));
  const send = window[name];
  const end = Date.now() + %d;
  let n = 0;
  const burst = () => {
    for (let k = 0; k < 20; k++) {
      const batch = [];
      for (let i = 0; i < 50; i++) batch.push({kind: 'route', path: '/imagine/post/flood-' + (n++)});
      send(JSON.stringify(batch));
      history.pushState({}, '', '/imagine/post/push-' + (n++));
    }
    if (Date.now() < end) setTimeout(burst, 0); else window.__floodSent = n;
  };
  burst();
  return true;
})()"""


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_rss_of_grok_tui_stays_flat_under_a_20_s_route_flood(rigs):
    # One generation of ~45 s: the flood and the 2 s after it fall inside it, so neither the outcome
    # nor the video's download (at ~45 s) is in what is measured.
    r = rigs("ok", step_ms=4500)
    env = dict(os.environ, GROK_TUI_COOLDOWN_S="0.5")
    p = subprocess.Popen(_run_cmd(r, "--timeout", "90"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        for raw in p.stdout:
            if json.loads(raw)["event"] == "attempt":
                break
        # Its output is read as a consumer would: a pipe nobody reads blocks grok-tui's loop on its
        # next write (one "tab" line per coalesced route), and that is not what this test measures.
        threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True).start()
        time.sleep(1.0)
        before = _rss_mb(p.pid)
        s = page_session(r)
        try:
            _eval(s, ROUTE_FLOOD_JS % 20_000)
            samples = []
            for _ in range(20):
                time.sleep(1.0)
                samples.append(_rss_mb(p.pid))
            sent = _eval(s, "new Promise(ok => { const f = () => window.__floodSent ? ok(window.__floodSent) : setTimeout(f, 100); f(); })")
        finally:
            s.close()
        settling = []
        for _ in range(4):  # what grok-tui keeps once it has taken in the last of the flood
            time.sleep(0.5)
            settling.append(_rss_mb(p.pid))
        after = settling[-1]
    finally:
        p.terminate()
        p.communicate(timeout=30)
    print(f"route flood: {sent} route signals in 20 s; grok-tui RSS {before:.1f} -> {after:.1f} MB "
          f"(peak {max(samples):.1f} during, {max(settling):.1f} in the 2 s after)")
    assert sent > 20_000
    assert any('"event": "tab"' in line for line in lines)  # the flood reached grok-tui
    assert after - before < 5.0, (before, after, samples, settling)
    assert max(samples) - before < 5.0, samples


# ------------------------------------------------------------------ item 4: a reload mid-attempt


class _ClientGone:
    """The handler of a generation whose page went away: Grok finishes the generation anyway."""

    def __init__(self, h):
        self._h, self.gone = h, False

    def __getattr__(self, name):
        return getattr(self._h, name)

    def _quietly(self, fn, *a):
        if not self.gone:
            try:
                fn(*a)
            except OSError:
                self.gone = True

    def write_chunk(self, data):
        self._quietly(self._h.write_chunk, data)

    def end_chunked(self):
        self._quietly(self._h.end_chunked)


def _server_side_site(**kw):
    from grok_tui.sim import SimSite

    class ServerSide(SimSite):
        def _generate(self, h, body):
            super()._generate(_ClientGone(h), body)

    return ServerSide(**kw).start()


async def test_reload_mid_attempt_counts_the_credit_and_finds_the_outcome_in_the_post_list():
    from browser_rig import Rig
    from grok_tui.browser.launcher import launch_chrome

    site = _server_side_site(script="mod@70,ok", step_ms=250)
    r = Rig(site, launch_chrome(site.post_url()))
    w = Watcher(lambda o: o["event"] == "progress" and o["attempt"] == 1 and o["percent"] >= 20, lambda: reload_page(r))
    try:
        t0 = time.monotonic()
        rc, lines, store = await run(r, w, cooldown_s=0.5, session_timeout_s=60, tab_wait_s=5)
        took = time.monotonic() - t0
    finally:
        r.close()
    s = last_summary(lines)
    assert w.fired
    assert rc == 0 and (s["outcome"], s["creditsUsed"], s["completedVideos"]) == ("success", 2, 1), s
    first = store.history()[-1]["attemptsDetail"][0]
    assert first["outcome"] == "moderated" and first["sources"] == ["postlist"], first
    assert first["videoId"] == site.posts[0]["videoId"]
    assert len(site.requests) == 2  # the reloaded attempt was never clicked again
    assert took < 30  # found in the post list, not left to the 60 s session timeout
