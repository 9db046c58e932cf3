"""Downloads: from a video's success to its file on disk, and detection latency while a download runs.

`save`: a session of `--goal` videos of `--size` bytes each (5 MB by default), `--save-gap` s apart, from the sim's
assets origin (behind its HttpOnly cookie), saved through the browser's own session. For each
video, the time from the moment the engine resolved the attempt as a success (the runner's
`AttemptResolved` notice) to the moment the file and its sidecar are on disk under their
final names (`DownloadFinished`). `from_server`: the same end, measured from the sim's
`serverTs` of the stream's completed object.

`detection` / `comparison`: the network path's detection latency (as bench/detection_latency.py
measures it: the sim's `serverTs` of each streamed object -> `SessionRunner._process`) without
and with downloads, as `--rounds` paired rounds on the same browser and sim. A round is two
sessions with the same script, pace and `--detect-goal`: "off" (downloads off, nothing in the
background) and "on" (downloads on, and the save session's video downloaded again and again in
the background through the same link, so that every signal arrives during a download;
`during_download` keeps only the signals received while one was in flight). The order flips
every round (off/on, on/off, ...) so that warm-up and drift of a loaded machine fall on both
sides alike. `comparison` pairs them: per round the p50 difference (during - off), how many
rounds were slower, and 95 % bootstrap intervals (resampling within each round) of the pooled
p50 and p90 differences. `no_worse` is true when both intervals' upper ends are within the
tolerance: p50 + max(1 ms, 10 % of off's p50), p90 + max(2 ms, 20 % of off's p90). p99 is
reported, not judged (with a few hundred signals it is a handful of them).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
from detection_latency import analyse  # noqa: E402


class Recorder:
    """The runner's listener: times of resolved successes and of download notices, by attempt."""

    def __init__(self) -> None:
        self.t_success: dict[int, float] = {}
        self.t_started: dict[int, float] = {}
        self.t_done: dict[int, float] = {}
        self.results: dict = {}

    def __call__(self, notice) -> None:
        from grok_tui.notices import AttemptResolved, DownloadFinished, DownloadStarted

        now = time.time()
        match notice:
            case AttemptResolved(record=record) if record.get("outcome") == "success":
                self.t_success.setdefault(record["attempt"], now)
            case DownloadStarted(attempt=attempt):
                self.t_started[attempt] = now
            case DownloadFinished(attempt=attempt, result=result):
                self.t_done[attempt] = now
                self.results[attempt] = result


async def one_session(ns, rig, *, download: bool, size: int, goal: int, background_url: str | None = None,
                      gap: float | None = None):
    """One session on `rig`; with `background_url`, that video is downloaded again and again meanwhile."""
    import threading

    from grok_tui.downloads import Downloader, VideoJob

    folder = tempfile.mkdtemp(prefix="grok-tui-bench-dl-")
    gap = ns.cooldown if gap is None else gap
    settings = rig.settings(video_goal=goal, max_retries=5, cooldown_s=gap, next_video_delay_s=gap,
                            session_timeout_s=60, download=download, downloads_dir=folder)
    rec = Recorder()
    runner = C.new_runner(settings, timed_link=True, listener=rec)
    runner.t_success, runner.t_started, runner.t_done, runner.results = rec.t_success, rec.t_started, rec.t_done, rec.results
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


def _pooled_diff(pairs: list[tuple[list[float], list[float]]], q: float) -> float | None:
    off = [x for a, _ in pairs for x in a]
    on = [x for _, b in pairs for x in b]
    if not off or not on:
        return None
    return C.pct(on, q) - C.pct(off, q)


def bootstrap_ci(pairs: list[tuple[list[float], list[float]]], q: float, reps: int, rng: random.Random) -> list | None:
    """95 % interval of (q-th percentile during - off), pooled, resampling each round's two samples."""
    samples = [s for a, b in pairs if a and b for s in (a, b)]  # off, on, off, on, ...
    return C.bootstrap_interval(lambda xs: _pooled_diff(list(zip(xs[::2], xs[1::2])), q), samples, reps, rng)


def compare(rounds: list[dict], seed: int = 13, reps: int = 1000) -> dict:
    """Off against during-download, round by round (each round's two sessions ran back to back)."""
    pairs = [(r["off"]["all"], r["on"]["during"]) for r in rounds]
    paired = [C.pct(b, 50) - C.pct(a, 50) for a, b in pairs if a and b]
    off = [x for a, _ in pairs for x in a]
    during = [x for _, b in pairs for x in b]
    rng = random.Random(seed)
    ci50, ci90 = bootstrap_ci(pairs, 50, reps, rng), bootstrap_ci(pairs, 90, reps, rng)
    p50_off, p90_off = C.pct(off, 50), C.pct(off, 90)
    tol50, tol90 = C.tolerance(p50_off, 50), C.tolerance(p90_off, 90)
    checks = (C.no_worse(ci50, tol50), C.no_worse(ci90, tol90))
    no_worse = None if None in checks else all(checks)
    return {
        "bench": "downloads", "what": "comparison", "n": len(paired), "order": "off,on then on,off, alternating",
        "samples_off": len(off), "samples_during": len(during),
        "p50_off_ms": C.r(p50_off), "p50_during_ms": C.r(C.pct(during, 50)),
        "p90_off_ms": C.r(p90_off), "p90_during_ms": C.r(C.pct(during, 90)),
        "p99_off_ms": C.r(C.pct(off, 99)), "p99_during_ms": C.r(C.pct(during, 99)),
        "paired_p50_diff_ms": [C.r(d) for d in paired], "median_paired_p50_diff_ms": C.r(C.pct(paired, 50)),
        "rounds_slower_during": sum(1 for d in paired if d > 0),
        "ci95_p50_diff_ms": ci50, "ci95_p90_diff_ms": ci90,
        "tolerance_ms": {"p50": C.r(tol50), "p90": C.r(tol90)}, "no_worse": no_worse,
    }


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

        # 2. detection latency without and with downloads: paired rounds, the order flipped every round
        rounds = []
        for i in range(ns.rounds):
            got = {}
            for mode in (("off", "on") if i % 2 == 0 else ("on", "off")):
                on = mode == "on"
                runner, link, emitted, wall = await one_session(
                    ns, rig, download=on, size=ns.size, goal=ns.detect_goal, background_url=url0 if on else None
                )
                net, _other = analyse(runner, link, emitted)
                windows = [(runner.t_started[a], runner.t_done.get(a, float("inf"))) for a in runner.t_started]
                windows += runner.background
                got[mode] = {
                    "all": [x["ms"] for x in net],
                    "during": [x["ms"] for x in net if any(a <= x["t"] <= b for a, b in windows)],
                    "wall": wall, "saved": sum(1 for r in runner.results.values() if r.ok),
                    "background": len(runner.background),
                    "save_ms": [(runner.t_done[a] - t) * 1000.0 for a, t in runner.t_success.items()
                                if a in runner.t_done and runner.results[a].ok],
                }
            rounds.append(got)
        for mode in ("off", "on"):
            sessions = [r[mode] for r in rounds]
            out = {"bench": "downloads", "what": "detection", "downloads": mode,
                   **C.stats([x for s in sessions for x in s["all"]]), "rounds": len(rounds),
                   "session_s": C.r(sum(s["wall"] for s in sessions), 1), "videos_saved": sum(s["saved"] for s in sessions)}
            if mode == "on":
                out["background_downloads"] = sum(s["background"] for s in sessions)
                out["during_download"] = C.stats([x for s in sessions for x in s["during"]])
                # the sessions' own saves: success -> on disk while generations stream and the background reads
                out["save_while_streaming"] = C.stats([x for s in sessions for x in s["save_ms"]])
            C.emit(out)
        C.emit(compare(rounds, ns.seed))
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
    p.add_argument("--rounds", type=int, default=None,
                   help="paired rounds of the detection comparison, each an off and an on session (default 6; --quick 2)")
    p.add_argument("--detect-goal", type=int, default=None, help="videos per detection session (default 10; --quick 3)")
    p.add_argument("--seed", type=int, default=13, help="of the bootstrap's resampling")
    p.add_argument("--timeout", type=float, default=600.0)
    ns = p.parse_args()
    if ns.goal is None:
        ns.goal = 3 if ns.quick else 20
    if ns.rounds is None:
        ns.rounds = 2 if ns.quick else 6
    if ns.detect_goal is None:
        ns.detect_goal = 3 if ns.quick else 10
    if ns.save_gap is None:
        ns.save_gap = 0.5 if ns.quick else 3.0
    if ns.size is None:
        ns.size = 1_000_000 if ns.quick else 5_000_000
    return asyncio.run(main_async(ns))


if __name__ == "__main__":
    sys.exit(main())
