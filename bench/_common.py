"""Shared pieces of the benchmarks: a sim in its own process, Chromium, an instrumented runner.

Every benchmark runs the simulated Grok site in a separate Python process (bench/_sim_proc.py)
so that the sim's threads do not share the benchmark process's GIL or CPU, and launches its own
headless Chromium on a fresh profile. State and config go to a temporary directory.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
TAB = "/imagine/post/"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# ----------------------------------------------------------------------------- environment


def isolate_state() -> str:
    """Point grok-tui's state/config at a temporary directory (this process and its children)."""
    tmp = tempfile.mkdtemp(prefix="grok-tui-bench-")
    atexit.register(shutil.rmtree, tmp, True)  # removed when the benchmark ends
    os.environ["GROK_TUI_STATE_DIR"] = os.path.join(tmp, "state")
    os.environ["GROK_TUI_CONFIG_FILE"] = os.path.join(tmp, "config.toml")
    os.environ["XDG_DATA_HOME"] = os.path.join(tmp, "data")
    os.environ["XDG_CONFIG_HOME"] = os.path.join(tmp, "xdg-config")
    os.environ["GROK_TUI_DOWNLOADS_DIR"] = os.path.join(tmp, "videos")  # never the user's own download folder
    for name in list(os.environ):
        if name.startswith("GROK_TUI_") and name not in ("GROK_TUI_STATE_DIR", "GROK_TUI_CONFIG_FILE",
                                                         "GROK_TUI_DOWNLOADS_DIR"):
            del os.environ[name]
    return tmp


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def note(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- statistics


def pct(values, q: float) -> float | None:
    """Percentile by linear interpolation (q in 0..100)."""
    xs = sorted(values)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def r(x, nd: int = 2):
    return None if x is None else round(float(x), nd)


def figure(value, target, *, unit: str = "ms", note: str = "") -> dict:
    """One of issue 15's figures: its value, its target (value <= target) and whether it is met."""
    out = {"value": r(value, 3), "target": target, "unit": unit, "met": value is not None and value <= target}
    if note:
        out["note"] = note
    return out


def stats(values, prefix: str = "") -> dict:
    vals = list(values)
    return {
        f"{prefix}n": len(vals),
        f"{prefix}p50_ms": r(pct(vals, 50)),
        f"{prefix}p99_ms": r(pct(vals, 99)),
        f"{prefix}max_ms": r(max(vals) if vals else None),
    }


# ----------------------------------------------------------------------------- paired comparisons


def tolerance(base: float | None, q: float) -> float | None:
    """How far (ms) a q-th percentile may rise above `base` and still count as no worse: the median
    max(1 ms, 10 % of base), up to p90 max(2 ms, 20 %), beyond (p99: a handful of samples) max(5 ms, 30 %)."""
    if base is None:
        return None
    if q <= 50:
        return max(1.0, 0.10 * abs(base))
    if q <= 90:
        return max(2.0, 0.20 * abs(base))
    return max(5.0, 0.30 * abs(base))


def bootstrap_interval(stat, samples: list[list[float]], reps: int, rng) -> list | None:
    """95 % interval of `stat(samples)` over `reps` resamples, each sample resampled (with replacement) on its own."""
    values = []
    for _ in range(reps):
        v = stat([rng.choices(s, k=len(s)) for s in samples])
        if v is not None:
            values.append(v)
    if not values:
        return None
    return [r(pct(values, 2.5)), r(pct(values, 97.5))]


def no_worse(ci: list | None, tol: float | None) -> bool | None:
    """The rule: the interval's upper end (current - baseline) within the tolerance; None when either is missing."""
    if ci is None or tol is None:
        return None
    return ci[1] <= tol


# ----------------------------------------------------------------------------- sim + chrome


def set_script(base: str, script: str) -> None:
    """The sim's outcome script from now on (POST /__sim/script)."""
    req = urllib.request.Request(base + "/__sim/script", data=script.encode(), method="POST")
    _NO_PROXY.open(req, timeout=10).read()


class SimProc:
    """bench/_sim_proc.py in a subprocess; `emitted()` / `requests()` read its records over HTTP."""

    def __init__(self, script: str = "", *, default: str = "ok", step_ms: int = 20, toast_ms: int = 1000, port: int = 0,
                 video_size: int = 0):
        args = [sys.executable, str(BENCH_DIR / "_sim_proc.py"), "--script", script, "--default", default,
                "--step-ms", str(step_ms), "--toast-ms", str(toast_ms), "--port", str(port)]
        if video_size:
            args += ["--video-size", str(video_size)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the sim process did not start")
        info = json.loads(line)
        self.base, self.post = info["base"], info["post"]

    def _get(self, path: str):
        with _NO_PROXY.open(self.base + path, timeout=10) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def emitted(self) -> list[dict]:
        return self._get("/__sim/emitted")

    def requests(self) -> list[dict]:
        return self._get("/__sim/requests")

    def page_events(self) -> list[dict]:
        """What was done to the pages (SimSite.page_events); a generate click carries the page's own time `at` (ms)."""
        return self._get("/__sim/events")

    def close(self) -> None:
        from grok_tui.browser.launcher import stop_process

        stop_process(self.proc)


class Rig:
    def __init__(self, script: str = "", **sim_kw):
        from grok_tui.browser.launcher import launch_chrome

        self.sim = SimProc(script, **sim_kw)
        try:
            self.chrome = launch_chrome(self.sim.post)
        except BaseException:
            self.sim.close()
            raise
        wait_for_page(self.chrome.port)

    @property
    def port(self) -> int:
        return self.chrome.port

    def settings(self, **kw):
        from grok_tui.settings import load_settings

        base = dict(cdp_port=self.chrome.port, tab=TAB, cooldown_s=0.1, next_video_delay_s=0.1,
                    session_timeout_s=30, tab_wait_s=2)
        base.update(kw)
        return load_settings(**base)

    def close(self) -> None:
        try:
            self.chrome.close()
        finally:
            self.sim.close()


def wait_for_page(port: int, timeout: float = 15.0) -> None:
    """Until the post page's editor exists (the first navigation may still be loading)."""
    from grok_tui.browser.cdp import BrowserError, CdpSession
    from grok_tui.browser.endpoint import discover

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            _, targets = discover(port=port)
            pages = [t for t in targets if TAB in t.get("url", "")]
            if pages:
                s = CdpSession(pages[0])
                try:
                    res = s.call("Runtime.evaluate", expression="!!document.querySelector('#generate')", returnByValue=True)
                    if (res.get("result") or {}).get("value"):
                        return
                finally:
                    s.close()
        except BrowserError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the sim page did not load in Chromium")


def page_session(port: int):
    """A second, independent CDP session on the post tab (for RTT probes)."""
    from grok_tui.browser.cdp import CdpSession
    from grok_tui.browser.endpoint import discover

    _, targets = discover(port=port)
    return CdpSession([t for t in targets if TAB in t.get("url", "")][0])


def rtt_process(port: int, gap_s: float = 0.05) -> subprocess.Popen:
    """`_rtt_proc.py` on the post tab, in its own process: round trips every `gap_s` until rtt_process_stop."""
    from grok_tui.browser.endpoint import discover

    _, targets = discover(port=port)
    url = [t for t in targets if TAB in t.get("url", "")][0]["webSocketDebuggerUrl"]
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_rtt_proc.py")), url, str(gap_s)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the RTT probe process did not start")
    return proc


def rtt_process_stop(proc: subprocess.Popen) -> list[float]:
    """Its samples (ms); [] when it failed."""
    try:
        out, _ = proc.communicate("stop\n", timeout=10)
        return list(json.loads(out.strip().splitlines()[-1])["rtt_ms"])
    except Exception:
        proc.kill()
        return []


def rtt_samples(session, n: int, gap_s: float = 0.0) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        session.call("Runtime.evaluate", expression="1", returnByValue=True)
        out.append((time.perf_counter() - t0) * 1000.0)
        if gap_s:
            time.sleep(gap_s)
    return out


# ----------------------------------------------------------------------------- process figures


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` (this process only, not its children), in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        data = fh.read()
    fields = data[data.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / clock_ticks()


def status_kb(pid: int | str, key: str) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


# ----------------------------------------------------------------------------- the app in tmux


def tmux(sock: str, *args: str, check: bool = True) -> str:
    return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=check).stdout


def tmux_gone(sock: str) -> None:
    """The tmux server of `sock` ends, and its socket file goes too (tmux leaves it behind in /tmp)."""
    tmux(sock, "kill-server", check=False)
    path = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}" / sock
    try:
        path.unlink()
    except OSError:
        pass


_TMUX_RUNS = iter(range(1, 10**6))


class AppInTmux:
    """The Textual app (`grok-tui --cdp-port P --tab ...`) in a 110x34 pane of a tmux server of its own.

    `env`: settings for it (GROK_TUI_*), on top of this process's GROK_TUI_* and XDG_* variables.
    """

    def __init__(self, port: int, env: dict | None = None, size: tuple[int, int] = (110, 34)):
        self.sock = f"grok-bench-{os.getpid()}-{next(_TMUX_RUNS)}"
        envs = {k: v for k, v in os.environ.items() if k.startswith(("GROK_TUI_", "XDG_"))}
        envs.update(env or {})
        cmd = (f"exec env {' '.join(f'{k}={v}' for k, v in envs.items())} TERM=xterm-256color "
               f"{VENV_BIN / 'grok-tui'} --cdp-port {port} --tab {TAB}")
        tmux(self.sock, "-f", "/dev/null", "new-session", "-d", "-s", "b", "-x", str(size[0]), "-y", str(size[1]), cmd)
        self.pid = int(tmux(self.sock, "list-panes", "-t", "b", "-F", "#{pane_pid}").split()[0])

    def screen(self) -> str:
        return tmux(self.sock, "capture-pane", "-p", "-t", "b", check=False)

    def keys(self, *keys: str) -> None:
        tmux(self.sock, "send-keys", "-t", "b", *keys)

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.time() + timeout
        while text not in self.screen():
            if time.time() > deadline:
                raise RuntimeError(f"the app did not show {text!r}")
            time.sleep(0.2)

    def close(self) -> None:
        """q, then the tmux server goes (with the app, if it is still there)."""
        try:
            self.keys("q")
            deadline = time.time() + 10
            while time.time() < deadline and os.path.exists(f"/proc/{self.pid}"):
                time.sleep(0.1)
        finally:
            tmux_gone(self.sock)


# ----------------------------------------------------------------------------- instrumented runner


def make_runner_class():
    from grok_tui.engine.events import ResetRetries, UserCancel
    from grok_tui.runner import SessionRunner

    class InstrumentedRunner(SessionRunner):
        """Records when each item reaches the engine; keeps the retry counter low; stops after N attempts."""

        record = True
        reset_at: int | None = None
        stop_after: int | None = None  # cancel once this many attempts have resolved
        on_resolved = None  # callback(attempt_no) after each resolved attempt

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.received: list[tuple[float, object]] = []
            self.clicks: list[tuple[float, int, float | None]] = []  # (time, attempt, due)
            self._reset_sent = False
            self._cancel_sent = False
            self._resolved_seen = 0

        def _process(self, item):
            t = time.time()
            if self.record and item is not None:
                self.received.append((t, item))
            if isinstance(item, ResetRetries):
                self._reset_sent = False
            super()._process(item)
            eng = self.engine
            if self.reset_at is not None and not self._reset_sent and eng.session.retry_count >= self.reset_at:
                self._reset_sent = True
                self.submit(ResetRetries())
            a = eng.current
            if a is not None and a.resolved and a.number > self._resolved_seen:
                self._resolved_seen = a.number
                if self.on_resolved is not None:
                    self.on_resolved(a.number)
                if self.stop_after is not None and a.number >= self.stop_after and not self._cancel_sent:
                    self._cancel_sent = True
                    self.submit(UserCancel("benchmark done"))

        def _spawn_click(self, cmd):
            self.clicks.append((time.time(), cmd.attempt, None))
            super()._spawn_click(cmd)

    return InstrumentedRunner


def link_class(timed: bool = False):
    from grok_tui.browser.link import BrowserLink

    if not timed:
        return BrowserLink

    class TimedLink(BrowserLink):
        """Records when each event leaves the link (emit) and how long each CDP event handler runs.

        The handlers run one at a time on pychrome's single event thread, so a slow handler
        (one that makes a blocking CDP call) delays every event queued behind it.
        """

        HANDLERS = {
            "network": ("_on_request", "_on_response", "_on_streaming", "_on_data", "_on_finished"),
            "dom": ("_on_binding",),
            "page": ("_on_frame_navigated", "_on_within_document", "_on_context_created"),
        }

        STAMPED = ("Network.dataReceived", "Runtime.bindingCalled")  # events whose socket read is stamped

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.emitted_at: dict[int, float] = {}
            # id(emitted event) -> (socket read, Chromium's own event timestamp or None, handled on the receive
            # thread?) of the CDP event whose handler emitted it (epoch s)
            self.came_from: dict[int, tuple[float, float | None, bool]] = {}
            self._read_at: dict[int, float] = {}  # id(event params) -> when the receive thread read it
            self._current = threading.local()
            self._epoch_minus_mono = time.time() - time.monotonic()  # Chromium's MonotonicTime is CLOCK_MONOTONIC
            self.handler_ms: dict[str, list[float]] = {h: [] for names in self.HANDLERS.values() for h in names}
            for part, names in self.HANDLERS.items():
                obj = getattr(self, part)
                for h in names:
                    setattr(obj, h, self._timed(h, getattr(obj, h)))
            emit = self.board.emit

            def timed_emit(event):
                self.emitted_at[id(event)] = time.time()
                src = getattr(self._current, "src", None)
                if src is not None:
                    self.came_from[id(event)] = src
                emit(event)

            self.board.emit = timed_emit

        def attach(self, *a, **kw):
            info = super().attach(*a, **kw)
            s = self.page.session
            if s is not None:
                for name in self.STAMPED:  # an arrival callback: run by the receive thread as it reads the message
                    s.on_arrival(name, self._stamp_read)
            return info

        def _stamp_read(self, params: dict) -> None:
            self._read_at[id(params)] = time.time()

        def _timed(self, name, fn):
            sink = self.handler_ms[name]
            cur = self._current

            def run(*a):
                params = a[0] if a and isinstance(a[0], dict) else None
                read = self._read_at.pop(id(params), None) if params is not None else None
                if read is not None:
                    ts = params.get("timestamp")
                    chrome = ts + self._epoch_minus_mono if isinstance(ts, (int, float)) else None
                    cur.src = (read, chrome, threading.current_thread().name == "cdp-recv")
                t0 = time.perf_counter()
                try:
                    return fn(*a)
                finally:
                    sink.append((time.perf_counter() - t0) * 1000.0)
                    cur.src = None

            return run

    return TimedLink


async def run_session(runner, prompt: str = "a fox running through snow", timeout: float = 600.0) -> None:
    await runner.attach()
    runner.start_loop()
    await runner.start_session(prompt)
    await asyncio.wait_for(runner.ended.wait(), timeout)


def new_runner(settings, timed_link: bool = False, listener=None, **attrs):
    from grok_tui.settings import state_dir
    from grok_tui.store import StateStore

    cls = make_runner_class()
    kw = {"listener": listener} if listener is not None else {}
    runner = cls(settings, StateStore(state_dir()), link_class(timed_link), **kw)
    for k, v in attrs.items():
        setattr(runner, k, v)
    return runner
