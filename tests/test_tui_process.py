"""The real `grok-tui` process in a pseudo-terminal: start by key, killed mid-session, restarted."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

from browser_rig import make_rig
from grok_tui.browser.cdp import CdpError, CdpSession
from grok_tui.browser.endpoint import discover
from grok_tui.settings import state_dir
from grok_tui.store import StateStore


class Terminal:
    """A child process on a pty; collects everything it prints."""

    def __init__(self, args, env):
        self.master, slave = pty.openpty()
        os.set_blocking(self.master, False)
        env = dict(env, TERM="xterm-256color", COLUMNS="110", LINES="34")
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.output = b""

    def read(self, seconds: float) -> str:
        end = time.time() + seconds
        while time.time() < end:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    break
        return self.output.decode("utf-8", "replace")

    def wait_for(self, needle: str, seconds: float = 20) -> bool:
        end = time.time() + seconds
        while time.time() < end:
            if needle in self.read(0.1):
                return True
        return False

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)


def type_on_page(port: int, text: str) -> None:
    _, targets = discover(port=port)
    page = CdpSession([t for t in targets if "/imagine/post/" in t["url"]][0])
    ready = """new Promise(done => { const f = () => { const t = document.querySelector('textarea');
        if (t) { t.focus(); done(true); } else setTimeout(f, 20); }; f(); })"""
    try:
        for _ in range(50):
            try:
                page.call("Runtime.evaluate", expression=ready, awaitPromise=True, timeout=10)
                break
            except CdpError:
                time.sleep(0.1)
        page.call("Input.insertText", text=text)
    finally:
        page.close()


def test_tui_sigterm_mid_session_records_cancelled_and_next_start_shows_it():
    rig = make_rig("ok,ok,ok", step_ms=250)
    args = [sys.executable, "-m", "grok_tui", "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/",
            "--goal", "3", "--cooldown", "0.3", "--next-video-delay", "0.3"]
    term = None
    try:
        type_on_page(rig.chrome.port, "a fox in a pty")
        term = Terminal(args, os.environ)
        assert term.wait_for("attached"), term.read(0)[-2000:]
        # A key sent in the first instants after start-up can be lost on a bare pty (nothing
        # answers Textual's terminal queries); press again until the session starts. A second
        # press while it runs is refused, never a second session.
        deadline = time.time() + 20
        while not rig.site.requests and time.time() < deadline:
            term.send("s")
            term.read(1.0)
        while len(rig.site.requests) < 2 and time.time() < deadline:
            term.read(0.1)
        assert len(rig.site.requests) == 2  # the second video is being made
        term.proc.send_signal(signal.SIGTERM)
        term.proc.wait(15)
        out = term.read(0.5)
        # SIGTERM quits through the app's handler (unmount records the session): a clean exit,
        # not death by the signal (-15) nor an error code
        assert term.proc.returncode == 0
        assert "Traceback" not in out
        hist = StateStore(state_dir()).history()
        assert len(hist) == 1
        rec = hist[0]
        assert (rec["outcome"], rec["completedVideos"], rec["videoGoal"]) == ("cancelled", 1, 3)
        assert rec["reason"] == "grok-tui was closed"
        assert [r["prompt"] for r in rig.site.requests] == ["a fox in a pty"] * 2
        term.close()

        # on the next start, the last session is shown
        term = Terminal(args, os.environ)
        assert term.wait_for("last session", 20), term.read(0)[-3000:]
        assert term.wait_for("cancelled", 5)
        term.send("q")
        term.proc.wait(15)
        assert "Traceback" not in term.read(0.3)
        assert term.proc.returncode == 0
    finally:
        if term is not None:
            term.close()
        rig.close()


def test_tui_refuses_bad_theme_with_one_sentence():
    p = subprocess.run(
        [sys.executable, "-m", "grok_tui", "--theme", "no-such-theme"], capture_output=True, text=True, timeout=30
    )
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    # one sentence naming the bad theme and the valid ones
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("grok-tui: "), p.stderr
    assert "no-such-theme" in lines[0] and "grok-dark" in lines[0] and "grok-light" in lines[0]


def wakeups(pid: int) -> dict[str, int]:
    """Voluntary context switches of each thread of `pid` (a thread that sleeps and wakes adds one a wake-up)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as fh:
                out[tid] = next(int(line.split()[1]) for line in fh if line.startswith("voluntary_ctxt_switches"))
        except (OSError, StopIteration):
            pass
    return out


def test_tui_idle_input_thread_sleeps_and_keys_still_work():
    """Idle and attached, no thread of the app wakes ten times a second (Textual's input thread did: most of
    the idle CPU); a key, and a lone Esc after the parser's escape delay, still arrive."""
    rig = make_rig("ok")
    args = [sys.executable, "-m", "grok_tui", "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/"]
    term = None
    try:
        term = Terminal(args, os.environ)
        assert term.wait_for("attached"), term.read(0)[-2000:]
        term.read(1.5)  # the first frames and the terminal's answers
        before = wakeups(term.proc.pid)
        term.read(3.0)
        after = wakeups(term.proc.pid)
        woke = {tid: after[tid] - n for tid, n in before.items() if tid in after}
        assert max(woke.values()) < 10, woke  # Textual's own input thread: ~30 in 3 s
        deadline = time.time() + 10
        while "this help" not in term.read(0.5) and time.time() < deadline:
            term.send("?")  # a key sent right after start-up can be lost on a bare pty (see above)
        assert "this help" in term.read(0)  # the help dialog's line for ?
        term.read(0.5)
        shown = len(term.output)
        term.send("\x1b")  # a lone Esc: the parser waits out its escape delay, then the thread must tick
        end = time.time() + 5
        while b"Attempts" not in term.output[shown:] and time.time() < end:
            term.read(0.1)
        assert b"Attempts" in term.output[shown:]  # the dialog closed: the main screen is drawn again
        term.send("q")
        term.proc.wait(15)
        assert term.proc.returncode == 0 and "Traceback" not in term.read(0.3)
    finally:
        if term is not None:
            term.close()
        rig.close()
