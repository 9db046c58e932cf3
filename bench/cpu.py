"""CPU used by the grok-tui process alone, as % of one core (utime + stime from /proc/<pid>/stat).

The sim runs in its own process (`grok-tui sim`), Chromium in its own; only the grok-tui process
is measured (not its children: it has none). Scenarios, one grok-tui process each:
  idle_attached   attached to the tab, no session (bench/_attach_idle.py: SessionRunner +
                  BrowserLink, what the UI holds while it waits for "s") - the idle figure
  idle_session    `grok-tui run --no-ui` with a session whose attempt sits waiting (the sim's
                  `silent` outcome: 3 progress objects, then nothing; --timeout 3600)
  active          `grok-tui run --no-ui`, a steady stream of attempts (ok and mod@50 alternating,
                  progress every 20 ms, 0.2 s cooldown / next-video delay: ~2 attempts a second,
                  each success saved to disk)
  app_idle        the Textual UI (`grok-tui --cdp-port P --tab ...`) in a 110x34 tmux pane, attached,
                  no session
  app_active      the same UI after pressing "s" (the same steady stream of attempts)
  app_active_100ms  the same at 100 ms progress steps (the earlier benchmark's pace)
Issue 15's figures (`figures`): app_active <= 5 %, app_idle <= 0.2 % of a core.
Each window starts after the process is attached and has settled.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

GROK = str(C.VENV_BIN / "grok-tui")
ACTIVE_SCRIPT = ",".join(["ok/20", "mod@50/20"] * 400)  # progress every 20 ms
SLOW_SCRIPT = ",".join(["ok/100", "mod@50/100"] * 200)
SESSION_ENV = {"GROK_TUI_COOLDOWN_S": "0.2", "GROK_TUI_NEXT_VIDEO_DELAY_S": "0.2", "GROK_TUI_VIDEO_GOAL": "50",
               "GROK_TUI_MAX_RETRIES": "50", "GROK_TUI_SESSION_TIMEOUT_S": "3600"}


class Lines:
    """Read a process's stdout lines on a thread (so its pipe never fills)."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self.attached = threading.Event()
        self._t = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._t.start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self.lines.append(line)
            if '"attached"' in line:
                self.attached.set()


set_script = C.set_script


def window(pid: int, seconds: float) -> tuple[float, float]:
    c0, t0 = C.cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    c1, t1 = C.cpu_seconds(pid), time.monotonic()
    return 100.0 * (c1 - c0) / (t1 - t0), t1 - t0


def stop(proc: subprocess.Popen) -> None:
    from grok_tui.browser.launcher import stop_process

    stop_process(proc, grace=10)


def headless(port: int, extra_env: dict, *args: str) -> subprocess.Popen:
    cmd = [GROK, "run", "--no-ui", "--cdp-port", str(port), "--tab", C.TAB, "--prompt", "a fox running through snow", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                            text=True, env={**os.environ, **extra_env})


def measure_proc(name: str, proc: subprocess.Popen, ns, seconds: float, requests_before: int, sim_base: str) -> dict:
    lines = Lines(proc)
    if not lines.attached.wait(20):
        stop(proc)
        raise RuntimeError(f"{name}: grok-tui did not attach")
    time.sleep(ns.settle)
    cpu, wall = window(proc.pid, seconds)
    reqs = len(json.loads(C._NO_PROXY.open(sim_base + "/__sim/requests", timeout=10).read())) - requests_before
    stop(proc)
    return {"scenario": name, "cpu_pct": C.r(cpu, 3), "window_s": C.r(wall, 1), "sim_requests_total": reqs}


def app_scenarios(port: int, ns, sim_base: str) -> list[dict]:
    """The Textual app in a tmux pane: idle (attached) then active (after "s")."""
    out = []
    app = C.AppInTmux(port, SESSION_ENV)
    try:
        pid = app.pid
        app.wait_for("● attached")
        time.sleep(ns.settle)
        cpu, wall = window(pid, ns.idle_seconds)
        out.append({"scenario": "app_idle", "cpu_pct": C.r(cpu, 3), "window_s": C.r(wall, 1)})
        before = len(json.loads(C._NO_PROXY.open(sim_base + "/__sim/requests", timeout=10).read()))
        set_script(sim_base, ACTIVE_SCRIPT)
        app.keys("s")
        time.sleep(ns.settle)
        cpu, wall = window(pid, ns.active_seconds)
        reqs = len(json.loads(C._NO_PROXY.open(sim_base + "/__sim/requests", timeout=10).read())) - before
        out.append({"scenario": "app_active", "cpu_pct": C.r(cpu, 3), "window_s": C.r(wall, 1), "sim_requests_total": reqs})
        before += reqs
        set_script(sim_base, SLOW_SCRIPT)
        app.keys("r")  # the retry counter back to 0: the session goes on
        time.sleep(ns.settle)
        cpu, wall = window(pid, ns.active_seconds)
        reqs = len(json.loads(C._NO_PROXY.open(sim_base + "/__sim/requests", timeout=10).read())) - before
        out.append({"scenario": "app_active_100ms", "cpu_pct": C.r(cpu, 3), "window_s": C.r(wall, 1),
                    "sim_requests_total": reqs})
        app.keys("c")
        time.sleep(0.3)
    finally:
        app.close()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 s windows, for the smoke test")
    p.add_argument("--idle-seconds", type=float, default=None, help="idle windows (default 60)")
    p.add_argument("--active-seconds", type=float, default=None, help="active windows (default 30)")
    p.add_argument("--settle", type=float, default=None, help="wait after attaching before a window (default 2)")
    p.add_argument("--no-app", action="store_true", help="leave out the Textual app scenarios")
    ns = p.parse_args()
    ns.idle_seconds = ns.idle_seconds or (1.0 if ns.quick else 60.0)
    ns.active_seconds = ns.active_seconds or (1.0 if ns.quick else 30.0)
    ns.settle = ns.settle if ns.settle is not None else (0.5 if ns.quick else 2.0)
    C.isolate_state()
    from grok_tui.browser.launcher import free_port, launch_chrome

    port = free_port()
    sim = subprocess.Popen([GROK, "sim", "--port", str(port), "--script", "silent", "--step-ms", "100"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    results = []
    chrome = None
    try:
        post_url = sim.stdout.readline().strip()
        base = post_url.split("/imagine/")[0]
        chrome = launch_chrome(post_url)
        C.wait_for_page(chrome.port)
        nreq = lambda: len(json.loads(C._NO_PROXY.open(base + "/__sim/requests", timeout=10).read()))  # noqa: E731

        proc = subprocess.Popen([sys.executable, str(C.BENCH_DIR / "_attach_idle.py"), "--cdp-port", str(chrome.port)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        results.append(measure_proc("idle_attached", proc, ns, ns.idle_seconds, nreq(), base))

        set_script(base, "silent")
        proc = headless(chrome.port, {}, "--timeout", "3600")
        results.append(measure_proc("idle_session", proc, ns, ns.idle_seconds, nreq(), base))

        set_script(base, ACTIVE_SCRIPT)
        proc = headless(chrome.port, SESSION_ENV)
        results.append(measure_proc("active", proc, ns, ns.active_seconds, nreq(), base))

        app = None
        if not ns.no_app:
            if shutil.which("tmux") and (C.ROOT / "grok_tui" / "ui" / "app.py").exists():
                try:
                    results.extend(app_scenarios(chrome.port, ns, base))
                    app = "measured"
                except Exception as exc:  # the app is someone else's work in progress
                    app = f"not measured: {exc}"
            else:
                app = "not measured: no tmux or no grok_tui/ui/app.py"
    finally:
        if chrome is not None:
            chrome.close()
        stop(sim)
    issue = {"app_active": ("app CPU while a session runs (sim progress every 20 ms)", 5.0),
             "app_idle": ("app CPU idle, attached", 0.2)}
    for res in results:
        idle = res["scenario"] in ("idle_attached", "idle_session", "app_idle")
        extra = {}
        if res["scenario"] in issue:
            name, target = issue[res["scenario"]]
            extra["figures"] = {name: C.figure(res["cpu_pct"], target, unit="% of a core")}
        C.emit({"bench": "cpu", **res, "n": 1, "target_pct": 0.5 if idle else None,
                "met": (res["cpu_pct"] <= 0.5) if idle else None, **extra})
    if ns.no_app is False and app != "measured":
        C.emit({"bench": "cpu", "scenario": "app", "n": 0, "cpu_pct": None, "note": app})
    return 0


if __name__ == "__main__":
    sys.exit(main())
