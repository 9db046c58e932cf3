"""Issue 9: act only on the right page, once, and count every credit (real headless Chromium)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grok_tui.cli import JsonPrinter
from grok_tui.runner import SessionRunner
from grok_tui.settings import state_dir
from grok_tui.store import StateStore
from grok_tui.tablock import TabBusy, TabLock
from test_faults import rig as rigs  # noqa: F401 (a fixture)

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
        assert any(type(n).__name__ == "Refused" and "pid 4242" in n.message for n in notes)
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


# ------------------------------------------------------------------ item 9: no query string in any output


async def test_no_query_string_in_any_output(rigs):
    from grok_tui.browser.launcher import launch_chrome
    from grok_tui.sim import SimSite
    from grok_tui.ui.export import gather_from_runner, write_export

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
    [summary] = [c.summary for c in out if type(c).__name__ == "SessionEnded"]
    assert summary.outcome == "cancelled" and summary.creditsUsed == credits


# ------------------------------------------------------------------ item 1: an empty --tab is refused


@pytest.mark.parametrize("tab", ["", "   "])
def test_empty_tab_is_refused_in_one_sentence(tab):
    p = subprocess.run([sys.executable, "-m", "grok_tui", "run", "--no-ui", "--tab", tab, "--prompt", "x"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 3
    assert p.stderr.count("\n") == 1 and "tab cannot be empty" in p.stderr and "Traceback" not in p.stderr


