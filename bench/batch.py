"""Batch overhead: a 100-job batch against the sim with fast timings, in this process.

The batch (BatchRunner over SessionRunner + BrowserLink) runs here; the sim runs in its own
process and Chromium in its own. Jobs alternate between two image posts, so every job but
the first moves the tab. Every fourth job is moderated once (mod@20) before its video.

  overhead ratio = wall time / (sum of attempt times + mandated delays)

where an attempt's time runs from the engine's click command to its outcome, and the
mandated delays are what the rules impose: the next-video delay before every job but the
first, and the cooldown before every retry. A ratio of 1.0 would mean the batch adds
nothing (no navigation, no composer wait, no image check, no manifest writes). RSS is read
when job 50 and job 100 end (the manifest is written after every attempt all along).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


async def main_async(ns) -> int:
    C.isolate_state()
    from grok_tui.batch import Manifest, load_jobs, manifest_path
    from grok_tui.batch_runner import BatchRunner
    from grok_tui.browser.link import BrowserLink
    from grok_tui.notices import AttemptResolved, BatchEnded, JobEnded, Notice
    from grok_tui.runner import SessionRunner
    from grok_tui.settings import state_dir
    from grok_tui.store import StateStore

    script = ",".join(("mod@20,ok" if i % 4 == 3 else "ok") for i in range(ns.jobs))
    rig = C.Rig(script, step_ms=ns.step_ms, toast_ms=300)
    posts = [rig.sim.post.rsplit("/", 1)[1], "0a1b2c3d-0000-4000-8000-0000000000b2"]
    folder = Path(tempfile.mkdtemp(prefix="grok-tui-bench-batch-"))
    path = folder / "jobs.csv"
    path.write_text("post,prompt\n" + "".join(f"{posts[i % 2]},job {i + 1}: a fox in snow\n" for i in range(ns.jobs)))
    attempts: list[float] = []
    retries = 0
    rss: dict[int, float] = {}
    marks = {ns.jobs // 2, ns.jobs}
    done = {}
    batch: BatchRunner | None = None

    def listener(n: Notice) -> None:
        nonlocal retries
        if batch is not None:
            batch.observe(n)
        match n:
            case AttemptResolved(record=record):
                attempts.append(record["durationS"] or 0.0)  # click command -> outcome, once per attempt
                retries += 1 if record.get("isRetry") else 0
            case JobEnded(index=index) if index in marks:
                rss[index] = C.status_kb("self", "VmRSS") / 1024.0
            case BatchEnded(line=line):
                done["line"] = line

    try:
        settings = rig.settings(video_goal=1, max_retries=3, cooldown_s=ns.cooldown, next_video_delay_s=ns.cooldown,
                                session_timeout_s=30, tab_wait_s=5)
        store = StateStore(state_dir())
        manifest = Manifest.fresh(manifest_path(state_dir(), path), str(path), load_jobs(path))
        runner = SessionRunner(settings, store, BrowserLink, listener=listener)
        await runner.attach()
        batch = BatchRunner(runner, manifest, listener=listener)
        runner.start_loop()
        t0 = time.time()
        try:
            code = await asyncio.wait_for(batch.run(), ns.timeout)
        finally:
            wall = time.time() - t0
            await runner.close()
        requests = len(rig.sim.requests())
    finally:
        rig.close()
    gc.collect()
    attempt_s = sum(attempts)
    delay = settings.next_video_delay_s
    mandated = (ns.jobs - 1) * delay + retries * settings.cooldown_s
    half = ns.jobs // 2
    line = done.get("line") or {}
    C.emit({
        "bench": "batch", "n": ns.jobs, "jobs": ns.jobs, "exit_code": code, "success": line.get("success"),
        "attempts": len(attempts), "requests": requests, "retries": retries,
        "wall_s": C.r(wall), "attempt_time_s": C.r(attempt_s), "mandated_delays_s": C.r(mandated),
        "overhead_ratio": C.r(wall / (attempt_s + mandated)) if attempt_s + mandated > 0 else None,
        "per_job_overhead_ms": C.r((wall - attempt_s - mandated) / ns.jobs * 1000.0),
        f"rss_at_job_{half}_mb": C.r(rss.get(half)), f"rss_at_job_{ns.jobs}_mb": C.r(rss.get(ns.jobs)),
        "rss_growth_mb": C.r(rss[ns.jobs] - rss[half]) if half in rss and ns.jobs in rss else None,
        "not_success": [(i + 1, j.status, j.reason) for i, j in enumerate(manifest.jobs) if j.status != "success"],
        "cooldown_s": settings.cooldown_s, "next_video_delay_s": delay, "step_ms": ns.step_ms,
    })
    return 0  # the batch's own outcome is in the figures (exit_code, not_success)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10 jobs, for the smoke test")
    p.add_argument("--jobs", type=int, default=None, help="jobs in the batch (default 100)")
    p.add_argument("--cooldown", type=float, default=0.1, help="cooldown and next-video delay, s (default 0.1)")
    p.add_argument("--step-ms", type=int, default=5, help="the sim's progress step, ms (default 5)")
    p.add_argument("--timeout", type=float, default=1800.0)
    ns = p.parse_args()
    if ns.jobs is None:
        ns.jobs = 10 if ns.quick else 100
    return asyncio.run(main_async(ns))


if __name__ == "__main__":
    sys.exit(main())
