"""Downloads: from a video's success to its file on disk, and detection latency while a download runs.

`save`: a session of `--goal` videos of `--size` bytes each (5 MB by default), `--save-gap` s apart, from the sim's
assets origin (behind its HttpOnly cookie), saved through the browser's own session. For each
video, the time from the moment the engine resolved the attempt as a success (the runner's
`AttemptUpdate("resolved")`) to the moment the file and its sidecar are on disk under their
final names (`DownloadFinished`). `from_server`: the same end, measured from the sim's
`serverTs` of the stream's completed object.

`detection`: the network path's detection latency (as bench/detection_latency.py measures it:
the sim's `serverTs` of each streamed object -> `SessionRunner._process`) in two sessions with
the same script and pace on the same browser: one with downloads off, and one with downloads on
while the first session's video is downloaded again and again in the background through the same
link (`background_downloads` of them), so that every signal arrives during a download;
`during_download` keeps only the signals received while one was in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
from detection_latency import analyse  # noqa: E402


def _recorder(runner):
    """Wrap the runner's listener: times of resolved successes and of download notices, by attempt."""
    from grok_tui.runner import AttemptUpdate
    from grok_tui.saving import DownloadFinished, DownloadStarted

    runner.t_success, runner.t_started, runner.t_done, runner.results = {}, {}, {}, {}
    inner = runner.listener

    def listen(obj):
        now = time.time()
        if isinstance(obj, AttemptUpdate) and obj.change == "resolved" and obj.record.get("outcome") == "success":
            runner.t_success.setdefault(obj.record["attempt"], now)
        elif isinstance(obj, DownloadStarted):
            runner.t_started[obj.attempt] = now
        elif isinstance(obj, DownloadFinished):
            runner.t_done[obj.attempt] = now
            runner.results[obj.attempt] = obj.result
        inner(obj)

    runner.listener = listen


async def one_session(ns, rig, *, download: bool, size: int, goal: int, background_url: str | None = None,
                      gap: float | None = None):
    """One session on `rig`; with `background_url`, that video is downloaded again and again meanwhile."""
    import threading

    from grok_tui.downloads import Downloader, VideoJob

    folder = tempfile.mkdtemp(prefix="grok-tui-bench-dl-")
    gap = ns.cooldown if gap is None else gap
    settings = rig.settings(video_goal=goal, max_retries=5, cooldown_s=gap, next_video_delay_s=gap,
                            session_timeout_s=60, download=download, downloads_dir=folder)
    runner = C.new_runner(settings, timed_link=True)
    _recorder(runner)
    stop = threading.Event()
    loops: list[tuple[float, float]] = []

    def background() -> None:
        saver = Downloader(tempfile.mkdtemp(prefix="grok-tui-bench-bg-"), runner.link.fetch_video)
        job = VideoJob(video_id="background", url=background_url, number=1, attempt=1, prompt="")
        while not stop.is_set():
            t = time.time()
            res = saver.download(job)
            loops.append((t, time.time()))
            if res.ok:
                Path(res.path).unlink(missing_ok=True)
                Path(res.sidecar).unlink(missing_ok=True)
            else:
                C.note(f"background download failed: {res.reason}")
                return

    th = threading.Thread(target=background, daemon=True)
    t0 = time.time()
    try:
        await runner.attach()
        if background_url:
            th.start()
        runner.start_loop()
        await runner.start_session("a fox running through snow")
        await asyncio.wait_for(runner.ended.wait(), ns.timeout)
    finally:
        stop.set()
        if th.is_alive():
            th.join(30)
    wall = time.time() - t0
    emitted = rig.sim.emitted()
    link = runner.link
    await runner.close()
    runner.background = loops
    return runner, link, emitted, wall


async def main_async(ns) -> int:
    C.isolate_state()
    rig = C.Rig("", default="ok", step_ms=ns.step_ms, toast_ms=1000, video_size=ns.size)
    try:
        # 1. success -> file on disk
        runner, _link, emitted, wall = await one_session(ns, rig, download=True, size=ns.size, goal=ns.goal, gap=ns.save_gap)
        completed_ts = {e["videoId"]: e["serverTs"] for e in emitted if e["kind"] == "completed"}
        save_ms, from_server, failures, sizes, url0 = [], [], 0, set(), None
        for attempt, t_ok in sorted(runner.t_success.items()):
            res = runner.results.get(attempt)
            if res is None or not res.ok:
                failures += 1
                continue
            url0 = url0 or res.job.url
            save_ms.append((runner.t_done[attempt] - t_ok) * 1000.0)
            sizes.add(res.bytes)
            ts = completed_ts.get(res.job.video_id)
            if ts is not None:
                from_server.append(runner.t_done[attempt] * 1000.0 - ts)
        C.emit({"bench": "downloads", "what": "save", **C.stats(save_ms), "bytes": sorted(sizes), "failures": failures,
                "videos": len(runner.t_success), "session_s": C.r(wall, 1), "from_server": C.stats(from_server),
                "mb_per_s_p50": C.r(ns.size / 1e6 / (C.pct(save_ms, 50) / 1000.0), 1) if save_ms else None})

        # 2. detection latency: no download at all, then a download running all the time
        for download in (False, True):
            runner, link, emitted, wall = await one_session(
                ns, rig, download=download, size=ns.size, goal=ns.goal, background_url=url0 if download else None
            )
            net, _other = analyse(runner, link, emitted)
            windows = [(runner.t_started[a], runner.t_done.get(a, float("inf"))) for a in runner.t_started]
            windows += runner.background
            lat = [x["ms"] for x in net]
            out = {"bench": "downloads", "what": "detection", "downloads": "on" if download else "off", **C.stats(lat),
                   "session_s": C.r(wall, 1), "videos_saved": sum(1 for r in runner.results.values() if r.ok)}
            if download:
                out["background_downloads"] = len(runner.background)
                out["during_download"] = C.stats([x["ms"] for x in net if any(a <= x["t"] <= b for a, b in windows)])
            C.emit(out)
        return 0
    finally:
        rig.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a small run (3 videos of 1 MB) for the smoke test")
    p.add_argument("--goal", type=int, default=None, help="videos per session, 1-50 (default 20)")
    p.add_argument("--size", type=int, default=None, help="bytes per video (default 5,000,000)")
    p.add_argument("--cooldown", type=float, default=0.1, help="cooldown and next-video delay, s (default 0.1)")
    p.add_argument("--step-ms", type=int, default=20, help="sim progress step, ms (default 20)")
    p.add_argument("--save-gap", type=float, default=None,
                   help="next-video delay of the save session, s: longer than a download, so one does not queue "
                        "behind the last (default 3; --quick 0.5)")
    p.add_argument("--timeout", type=float, default=600.0)
    ns = p.parse_args()
    if ns.goal is None:
        ns.goal = 3 if ns.quick else 20
    if ns.save_gap is None:
        ns.save_gap = 0.5 if ns.quick else 3.0
    if ns.size is None:
        ns.size = 1_000_000 if ns.quick else 5_000_000
    return asyncio.run(main_async(ns))


if __name__ == "__main__":
    sys.exit(main())
