"""Memory over a long session: 1,000 attempts in one session, in this process.

The runner (SessionRunner + BrowserLink + engine) runs in this process; the sim runs in its own
process and Chromium in its own, so this process's RSS is grok-tui's. Every attempt is a
`mod@0` (moderated at once); ResetRetries keeps the session going past max_retries; the
session is cancelled after the last attempt. RSS (VmRSS) is read at the half-way attempt and
at the end, peak RSS (VmHWM) at the end; the capped collections are checked at both points,
as are the link's own bookkeeping collections.

`what: "app"`: the Textual app in a tmux pane (its own process, measured through /proc), one
session of the same `mod@0` attempts; "r" (reset retries) every 2 s keeps it going; VmRSS when the
sim has seen half and all of the attempts, VmHWM at the end.
Issue 15's figures: peak RSS after 1,000 attempts <= 40 MB headless, <= 70 MB app, both flat
(less than 2 MB from half-way to the end).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def sizes(runner) -> dict:
    link = runner.link
    out = {
        "logbook_lines": len(runner.logbook.lines),
        "attempt_progress": len(runner.engine.session.attempt_progress),
        "session_logs": len(runner.engine.session.logs),
        "runner_last_progress": len(runner._last_progress),
    }
    if link is not None:
        out.update({
            "link_toast_keys": len(link.dom.toast_keys),
            "link_video_attempt": len(link.board._video_attempt),
            "link_store_seen": len(link.dom.store_seen),
            "link_known_srcs": len(link.dom.known_srcs),
            "link_streams": len(link.network.streams),
            "link_progress_max": len(link.board._progress_max),
        })
    return out


async def main_async(ns) -> int:
    C.isolate_state()
    rig = C.Rig("", default="mod@0", step_ms=5, toast_ms=500)
    half = ns.attempts // 2
    marks: dict[int, dict] = {}
    try:
        settings = rig.settings(video_goal=1, max_retries=50, cooldown_s=ns.cooldown, next_video_delay_s=ns.cooldown,
                                session_timeout_s=30)
        runner = C.new_runner(settings, reset_at=40, stop_after=ns.attempts, record=False)
        rss_start = C.status_kb("self", "VmRSS")

        def on_resolved(n: int) -> None:
            if n in (half, ns.attempts):
                marks[n] = {"rss_kb": C.status_kb("self", "VmRSS"), "t": time.time(), **sizes(runner)}

        runner.on_resolved = on_resolved
        t0 = time.time()
        try:
            await C.run_session(runner, timeout=ns.timeout)
        finally:
            at_end = sizes(runner)
            await runner.close()
        wall = time.time() - t0
    finally:
        rig.close()
    gc.collect()
    hwm = C.status_kb("self", "VmHWM")
    m_half, m_end = marks.get(half, {}), marks.get(ns.attempts, {})
    rss_half, rss_end = m_half.get("rss_kb"), m_end.get("rss_kb")
    growth = (rss_end - rss_half) / 1024.0 if rss_half and rss_end else None
    capped = (at_end["logbook_lines"] <= 200 and at_end["attempt_progress"] <= 25 and at_end["session_logs"] <= 200)
    C.emit({
        "bench": "memory", "n": runner.engine.attempt_no, "attempts": runner.engine.attempt_no,
        "session_s": C.r(wall, 1), "attempts_per_s": C.r(runner.engine.attempt_no / wall if wall else None),
        "rss_start_mb": C.r(rss_start / 1024.0), f"rss_at_{half}_mb": C.r(rss_half / 1024.0 if rss_half else None),
        f"rss_at_{ns.attempts}_mb": C.r(rss_end / 1024.0 if rss_end else None),
        "rss_half_mb": C.r(rss_half / 1024.0 if rss_half else None), "rss_end_mb": C.r(rss_end / 1024.0 if rss_end else None),
        "growth_half_to_end_mb": C.r(growth), "peak_rss_mb": C.r(hwm / 1024.0),
        "sizes_half": {k: v for k, v in m_half.items() if k not in ("rss_kb", "t")},
        "sizes_end": {k: v for k, v in m_end.items() if k not in ("rss_kb", "t")},
        "caps_held": capped, "outcome": runner.records[-1].summary.outcome if runner.records else None,
        "target_peak_mb": 80, "met": hwm / 1024.0 <= 80 and capped and growth is not None and growth < 2.0,
        "figures": {f"peak RSS after {ns.attempts} attempts, headless": C.figure(hwm / 1024.0, 40.0, unit="MB"),
                    f"RSS growth from attempt {half} to {ns.attempts}, headless": C.figure(growth, 2.0, unit="MB")},
    })
    if not ns.no_app:
        app_memory(ns)
    return 0


def app_memory(ns) -> None:
    import shutil

    if not shutil.which("tmux"):
        C.emit({"bench": "memory", "what": "app", "n": 0, "note": "not measured: no tmux"})
        return
    rig = C.Rig("", default="mod@0", step_ms=5, toast_ms=500)
    half = ns.attempts // 2
    marks: dict[int, float] = {}
    env = {"GROK_TUI_COOLDOWN_S": str(ns.cooldown), "GROK_TUI_NEXT_VIDEO_DELAY_S": str(ns.cooldown),
           "GROK_TUI_VIDEO_GOAL": "1", "GROK_TUI_MAX_RETRIES": "50", "GROK_TUI_SESSION_TIMEOUT_S": "30"}
    app = None
    try:
        # a prompt for the app's session: the last one used (a headless attempt stores it)
        C.set_script(rig.sim.base, "ok")
        subprocess.run([str(C.VENV_BIN / "grok-tui"), "run", "--no-ui", "--cdp-port", str(rig.port), "--tab", C.TAB,
                        "--prompt", "a fox running through snow", "--goal", "1", "--no-download"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        C.set_script(rig.sim.base, "")
        base = len(rig.sim.requests())
        app = C.AppInTmux(rig.port, env)
        app.wait_for("● attached")
        rss_start = C.status_kb(app.pid, "VmRSS")
        app.keys("s")
        t0 = time.time()
        last_reset = t0
        while time.time() - t0 < ns.timeout:
            n = len(rig.sim.requests()) - base
            for mark in (half, ns.attempts):
                if n >= mark and mark not in marks:
                    marks[mark] = C.status_kb(app.pid, "VmRSS")
            if n >= ns.attempts:
                break
            if time.time() - last_reset >= 2.0:
                app.keys("r")
                last_reset = time.time()
            time.sleep(0.2)
        wall = time.time() - t0
        hwm = C.status_kb(app.pid, "VmHWM")
        app.keys("c")
        time.sleep(0.5)
    finally:
        if app is not None:
            app.close()
        rig.close()
    rss_half, rss_end = marks.get(half), marks.get(ns.attempts)
    growth = (rss_end - rss_half) / 1024.0 if rss_half and rss_end else None
    C.emit({"bench": "memory", "what": "app", "n": n, "attempts": n, "session_s": C.r(wall, 1),
            "rss_start_mb": C.r(rss_start / 1024.0), "rss_half_mb": C.r(rss_half / 1024.0 if rss_half else None),
            "rss_end_mb": C.r(rss_end / 1024.0 if rss_end else None), "growth_half_to_end_mb": C.r(growth),
            "peak_rss_mb": C.r(hwm / 1024.0),
            "figures": {f"peak RSS after {ns.attempts} attempts, app": C.figure(hwm / 1024.0, 70.0, unit="MB"),
                        f"RSS growth from attempt {half} to {ns.attempts}, app": C.figure(growth, 2.0, unit="MB")}})


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="60 attempts, for the smoke test")
    p.add_argument("--attempts", type=int, default=None, help="attempts in the session (default 1000)")
    p.add_argument("--cooldown", type=float, default=0.05, help="cooldown, s (default 0.05, the minimum)")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--no-app", action="store_true", help="leave out the Textual app")
    ns = p.parse_args()
    if ns.attempts is None:
        ns.attempts = 60 if ns.quick else 1000
    return asyncio.run(main_async(ns))


if __name__ == "__main__":
    sys.exit(main())
