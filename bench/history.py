"""Opening a long history: 10,000 recorded sessions (targets: < 1 s, < 30 MB more memory).

Generates the sessions (grok_tui.history_sample: records shaped like the runner's, each with
its attemptsDetail) into a temporary history.jsonl, then, in a fresh Python process per run
(so one run's memory does not hide the next one's), with grok_tui already imported:

  read_ms       HistoryReader.refresh(): parse every line into rows
  aggregate_ms  newest first, per-prompt groups, per-day totals, overall totals
  open_ms       read_ms + aggregate_ms, wall time (the target, < 1 s)
  open_cpu_ms   the CPU time of the same (what the wall time is on an idle machine; this
                2-core machine is often shared, and the wall time then includes waiting)
  screen_ms     the History screen's first render with these rows (App.run_test at 160x48: from
                pushing the screen to its tables filled and the next frame; at most 300 rows are
                put in a table, sorted and filtered over every session first); screen_cpu_ms:
                its CPU time (this process runs the app's loop and the reader thread)
  rss_extra_mb  VmRSS after the read and aggregates minus VmRSS before (the target, < 30 MB)
  peak_extra_mb VmHWM minus VmRSS before (the parse's transient peak)
  screen_rss_extra_mb  VmRSS after the screen rendered minus VmRSS before the read (Textual and
                the UI modules already imported: what the screen and its tables add)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

TARGET_OPEN_MS, TARGET_MB = 1000.0, 30.0


def child(path: str, screen: bool) -> None:
    """One measurement, in this (fresh) process."""
    import gc

    from grok_tui import history as h

    if screen:  # imported first: the memory figures are the history's and the screen's, not Textual's
        import grok_tui.ui.app  # noqa: F401
        import grok_tui.ui.history  # noqa: F401
    gc.collect()
    rss0 = C.status_kb("self", "VmRSS")
    c0 = time.process_time()
    t0 = time.perf_counter()
    reader = h.HistoryReader(Path(path))
    reader.refresh()
    t1 = time.perf_counter()
    rows = h.newest_first(reader.sessions)
    groups = h.by_prompt(rows)
    days = h.by_day(rows)
    tot = h.totals(rows)
    t2 = time.perf_counter()
    c2 = time.process_time()
    rss1 = C.status_kb("self", "VmRSS")
    hwm = C.status_kb("self", "VmHWM")
    out = {
        "read_ms": (t1 - t0) * 1000, "aggregate_ms": (t2 - t1) * 1000, "open_cpu_ms": (c2 - c0) * 1000, "rss_extra_mb": (rss1 - rss0) / 1024,
        "peak_extra_mb": (hwm - rss0) / 1024, "rows": len(rows), "prompts": len(groups), "days": len(days),
        "skipped": reader.skipped, "credits": tot["credits"],
    }
    if screen:
        out["screen_ms"], out["screen_cpu_ms"] = asyncio.run(_screen_ms(reader))
        out["screen_rss_extra_mb"] = (C.status_kb("self", "VmRSS") - rss0) / 1024
    print(json.dumps(out), flush=True)


async def _screen_ms(reader) -> tuple[float, float]:
    """From pushing the screen to its tables filled and painted (the rows are already read)."""
    from textual.app import App

    import grok_tui.ui.app as ui_app
    from grok_tui.ui.history import HistoryScreen

    class Host(App):
        CSS_PATH = str(Path(ui_app.__file__).with_name("app.tcss"))
        t_push = 0.0

    app = Host()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        c0, app.t_push = time.process_time(), time.perf_counter()
        app.push_screen(HistoryScreen(reader))
        while not getattr(app.screen, "loaded", False):
            await pilot.pause(0.005)
        await pilot.pause()  # the painted frame
        return (time.perf_counter() - app.t_push) * 1000, (time.process_time() - c0) * 1000


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1,000 sessions, 1 run, for the smoke test")
    p.add_argument("--sessions", type=int, default=None, help="recorded sessions (default 10,000)")
    p.add_argument("--runs", type=int, default=None, help="fresh processes to measure in (default 3)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--screen", action="store_true", help=argparse.SUPPRESS)
    ns = p.parse_args()
    if ns.child:
        child(ns.child, ns.screen)
        return 0
    n = ns.sessions or (1000 if ns.quick else 10_000)
    runs = ns.runs or (1 if ns.quick else 3)
    tmp = C.isolate_state()
    from grok_tui import history_sample

    path = Path(tmp) / "history.jsonl"
    history_sample.write(path, history_sample.generate(n, days=max(7, n // 100), log_dir=os.path.join(tmp, "logs")))
    size_mb = path.stat().st_size / 1e6
    screen = (C.ROOT / "grok_tui" / "ui" / "history.py").exists()
    C.note(f"history: {n} sessions, {size_mb:.1f} MB; {runs} run(s){' with the screen' if screen else ''}")
    results = []
    for _ in range(runs):
        cmd = [sys.executable, __file__, "--child", str(path)] + (["--screen"] if screen else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            return 1
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    opens = sorted(r["read_ms"] + r["aggregate_ms"] for r in results)
    mid = results[[r["read_ms"] + r["aggregate_ms"] for r in results].index(opens[len(opens) // 2])]
    rss = max(r["rss_extra_mb"] for r in results)
    obj = {
        "bench": "history", "n": n, "runs": runs, "file_mb": C.r(size_mb),
        "open_p50_ms": C.r(C.pct(opens, 50)), "open_max_ms": C.r(opens[-1]),
        "read_ms": C.r(mid["read_ms"]), "aggregate_ms": C.r(mid["aggregate_ms"]),
        "open_cpu_p50_ms": C.r(C.pct([r["open_cpu_ms"] for r in results], 50)), "load_avg_1m": C.r(os.getloadavg()[0]),
        "rss_extra_mb": C.r(rss), "peak_extra_mb": C.r(max(r["peak_extra_mb"] for r in results)),
        "rows": mid["rows"], "prompts": mid["prompts"], "days": mid["days"], "skipped": mid["skipped"],
        "target_open_ms": TARGET_OPEN_MS, "target_mb": TARGET_MB,
        "met": opens[-1] < TARGET_OPEN_MS and rss < TARGET_MB,
    }
    if screen:
        shots = sorted(r["screen_ms"] for r in results)
        obj.update({"screen_p50_ms": C.r(C.pct(shots, 50)), "screen_max_ms": C.r(shots[-1]),
                    "screen_cpu_p50_ms": C.r(C.pct([r["screen_cpu_ms"] for r in results], 50)),
                    "screen_rss_extra_mb": C.r(max(r["screen_rss_extra_mb"] for r in results))})
    C.emit(obj)
    return 0


if __name__ == "__main__":
    sys.exit(main())
