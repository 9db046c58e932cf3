"""Detection latency: page signal -> engine, for the network path and the DOM path.

Network path: from the sim's `serverTs` (epoch ms, stamped just before the object is written to
the stream) of each streamed video object to the moment `SessionRunner._process` receives the
matching AttemptProgress / VideoModerated / VideoSucceeded with source "network".
DOM path: from the moderation toast's `data-ts` (the page's Date.now() when it showed the toast;
read back from the key the link recorded for it, "ts:<data-ts>|<text>") to the moment
`_process` receives VideoModerated with source "dom". Also reported against the server's emitted
"moderated" time (dom_vs_server), which includes the page's own stream reading.
Floor: round-trip time of Runtime.evaluate("1") on a second CdpSession to the same tab, idle
before the session and sampled every 50 ms during it; and, sampled as often in this process, how
late a sleeping thread wakes when handed an item through a queue (`thread_wake`) and how late the
asyncio loop runs a callback handed over with call_soon_threadsafe (`loop_wake`): the hand-offs an
event makes on its way to the engine, with nothing of grok-tui's in them. `rtt_other_process`: the
same round trip from a process of its own (bench/_rtt_proc.py: websocket-client only, one thread),
every 50 ms during the session: what Chromium and this machine give any client, without grok-tui's
threads and GIL in the same process.

The sim writes every third stream object in two chunks with a deliberate ~20 ms pause inside
the object ("split" mode, see grok_tui/sim/server.py: split_mode); those objects cannot be
parsed before the second chunk, so their latency includes that pause. `by_mode` separates them.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

PATTERN = ["mod@30", "ok", "mod@60", "mod@10", "mod@80"]  # 1 success in 5 attempts


def analyse(runner, link, emitted: list[dict]) -> tuple[list[dict], dict]:
    from grok_tui.browser.observer import classify_toast
    from grok_tui.engine.events import AttemptProgress, VideoModerated, VideoSucceeded
    from grok_tui.sim.server import split_mode

    # emitted objects: (videoId, kind, progress) -> (serverTs, split mode)
    by_video: dict[str, list[dict]] = {}
    for e in emitted:
        if e.get("videoId"):
            by_video.setdefault(e["videoId"], []).append(e)
    index: dict[tuple, tuple[float, str]] = {}
    for vid, objs in by_video.items():
        for i, e in enumerate(objs):  # objects 0 and 1 of a stream are conversation + user
            index[(vid, e["kind"], e["progress"])] = (e["serverTs"], split_mode(i + 2))
    moderated_ts = {vid: objs[-1]["serverTs"] for vid, objs in by_video.items() if objs[-1]["kind"] == "moderated"}

    attempt_video: dict[int, str] = {}
    for _, item in runner.received:
        if isinstance(item, (VideoModerated, VideoSucceeded)) and item.source == "network" and item.video_id:
            attempt_video.setdefault(item.attempt, item.video_id)

    net: list[dict] = []
    dom_recv: dict[int, float] = {}
    dom_out: dict[int, float | None] = {}
    dom_read: dict[int, float | None] = {}
    unmatched = 0
    for t, item in runner.received:
        src = getattr(item, "source", None)
        if isinstance(item, VideoModerated) and src == "dom":
            if item.attempt not in dom_recv:
                dom_recv[item.attempt] = t
                dom_out[item.attempt] = getattr(link, "emitted_at", {}).get(id(item))
                dom_read[item.attempt] = (getattr(link, "came_from", {}).get(id(item)) or (None,))[0]
            continue
        if src != "network":
            continue
        vid = attempt_video.get(getattr(item, "attempt", None))
        if isinstance(item, AttemptProgress):
            key = (vid, "progress", item.percent)
        elif isinstance(item, VideoModerated):
            key = (vid, "moderated", item.percent)
        elif isinstance(item, VideoSucceeded):
            key = (vid, "completed", 100)
        else:
            continue
        hit = index.get(key)
        if hit is None and key[1] == "progress":  # the completed object also reports progress 100
            hit = index.get((vid, "completed", item.percent))
        if hit is None:
            unmatched += 1
            C.note(f"unmatched {key} {item}")
            continue
        out_at = getattr(link, "emitted_at", {}).get(id(item))
        read, chrome, inline = getattr(link, "came_from", {}).get(id(item)) or (None, None, None)
        net.append({"ms": t * 1000.0 - hit[0], "t": t, "mode": hit[1], "kind": key[1],
                    "to_link": None if out_at is None else out_at * 1000.0 - hit[0],
                    "hop": None if out_at is None else (t - out_at) * 1000.0,
                    "to_chrome": None if chrome is None else chrome * 1000.0 - hit[0],
                    "chrome_to_read": None if chrome is None or read is None else (read - chrome) * 1000.0,
                    "read_to_emit": None if read is None or out_at is None else (out_at - read) * 1000.0,
                    "inline": inline})

    # toast data-ts per attempt, from the keys the link recorded ("ts:<ms>|<text>" -> attempt)
    toast_ts: dict[int, float] = {}
    for key, attempt in list(link.dom.toast_keys.items()):
        if attempt is None or not key.startswith("ts:") or "|" not in key:
            continue
        ts, text = key[3:].split("|", 1)
        if classify_toast(text) == "moderated":
            try:
                toast_ts.setdefault(attempt, float(ts))
            except ValueError:
                pass
    dom = [dom_recv[a] * 1000.0 - toast_ts[a] for a in dom_recv if a in toast_ts]
    dom_to_link = [dom_out[a] * 1000.0 - toast_ts[a] for a in dom_recv if a in toast_ts and dom_out.get(a)]
    dom_hop = [(dom_recv[a] - dom_out[a]) * 1000.0 for a in dom_recv if dom_out.get(a)]
    dom_to_read = [dom_read[a] * 1000.0 - toast_ts[a] for a in dom_recv if a in toast_ts and dom_read.get(a)]
    dom_read_to_emit = [(dom_out[a] - dom_read[a]) * 1000.0 for a in dom_recv if dom_out.get(a) and dom_read.get(a)]
    dom_tail = sorted(({"ms": C.r(dom_recv[a] * 1000.0 - toast_ts[a]),
                        "to_read": C.r(dom_read[a] * 1000.0 - toast_ts[a]) if dom_read.get(a) else None,
                        "read_to_emit": C.r((dom_out[a] - dom_read[a]) * 1000.0) if dom_out.get(a) and dom_read.get(a) else None,
                        "emit_to_engine": C.r((dom_recv[a] - dom_out[a]) * 1000.0) if dom_out.get(a) else None}
                       for a in dom_recv if a in toast_ts), key=lambda x: -x["ms"])[:max(3, len(dom_recv) // 50)]
    dom_vs_server = [dom_recv[a] * 1000.0 - moderated_ts[attempt_video[a]]
                     for a in dom_recv if a in attempt_video and attempt_video[a] in moderated_ts]
    return net, {"dom": dom, "dom_vs_server": dom_vs_server, "unmatched": unmatched,
                 "dom_breakdown": {"data_ts_to_link_emit": C.stats(dom_to_link), "link_emit_to_engine": C.stats(dom_hop),
                                   "data_ts_to_socket_read": C.stats(dom_to_read),
                                   "socket_read_to_link_emit": C.stats(dom_read_to_emit)},
                 "dom_tail": dom_tail}


STAGES = (("serverTs_to_chromium_event", "to_chrome"), ("chromium_event_to_socket_read", "chrome_to_read"),
          ("socket_read_to_link_emit", "read_to_emit"), ("link_emit_to_engine", "hop"))


def stages(rows: list[dict]) -> dict:
    """Each stage of the network path: the sim's serverTs -> Chromium's dataReceived timestamp (the renderer
    taking the data in) -> the link's receive thread reading the message -> the link's emit -> the engine."""
    out = {name: C.stats([x[k] for x in rows if x.get(k) is not None]) for name, k in STAGES}
    out["handled_on_receive_thread"] = sum(1 for x in rows if x.get("inline"))
    out["handled_on_event_thread"] = sum(1 for x in rows if x.get("inline") is False)
    return out


def tail(rows: list[dict]) -> list[dict]:
    """The slowest 1 % (at least 3), each split into its stages."""
    slow = sorted(rows, key=lambda x: -x["ms"])[:max(3, len(rows) // 100)]
    return [{"ms": C.r(x["ms"]), "kind": x["kind"], "mode": x["mode"], "inline": x.get("inline"),
             **{k: C.r(x.get(k)) for _, k in STAGES}} for x in slow]


async def main_async(ns) -> int:
    C.isolate_state()
    goal = ns.goal
    script = ",".join(PATTERN * goal)
    rig = C.Rig(script, default="ok", step_ms=ns.step_ms, toast_ms=1000)
    probe = other_proc = None
    rtt_other: list[float] = []
    stop = threading.Event()
    rtt_during: list[float] = []
    thread_wake: list[float] = []
    loop_wake: list[float] = []
    handed: queue.Queue = queue.Queue()
    loop = asyncio.get_running_loop()

    def woken() -> None:
        while True:
            t = handed.get()
            if t is None:
                return
            thread_wake.append((time.perf_counter() - t) * 1000.0)

    def loop_woken(t: float) -> None:
        loop_wake.append((time.perf_counter() - t) * 1000.0)
    try:
        probe = C.page_session(rig.port)
        rtt_idle = C.rtt_samples(probe, ns.rtt_n)

        def sample() -> None:
            while not stop.wait(0.05):
                handed.put(time.perf_counter())
                loop.call_soon_threadsafe(loop_woken, time.perf_counter())
                try:
                    rtt_during.extend(C.rtt_samples(probe, 1))
                except Exception:
                    return

        waiter = threading.Thread(target=woken, daemon=True)
        waiter.start()

        th = threading.Thread(target=sample, daemon=True)
        settings = rig.settings(video_goal=goal, max_retries=50, cooldown_s=ns.cooldown, next_video_delay_s=ns.cooldown,
                                session_timeout_s=30)
        runner = C.new_runner(settings, timed_link=True, reset_at=40)
        other_proc = C.rtt_process(rig.port)
        th.start()
        t0 = time.time()
        try:
            await C.run_session(runner, timeout=ns.timeout)
        finally:
            stop.set()
            th.join(2)
            handed.put(None)
            rtt_other = C.rtt_process_stop(other_proc)
            other_proc = None
            emitted = rig.sim.emitted()
            link = runner.link
            await runner.close()
        wall = time.time() - t0
        net, other = analyse(runner, link, emitted)
        attempts = runner.engine.attempt_no
        rtt_p50 = C.pct(rtt_during or rtt_idle, 50)
        common = {
            "attempts": attempts,
            "session_s": C.r(wall, 1),
            "rtt_p50_ms": C.r(rtt_p50),
            "rtt_p99_ms": C.r(C.pct(rtt_during or rtt_idle, 99)),
            "rtt_idle_p50_ms": C.r(C.pct(rtt_idle, 50)),
            "rtt_n": len(rtt_during),
            "rtt_other_process": C.stats(rtt_other),
            "thread_wake": C.stats(thread_wake),
            "loop_wake": C.stats(loop_wake),
        }
        lat = [x["ms"] for x in net]
        p50 = C.pct(lat, 50)
        by_mode = {m: C.stats([x["ms"] for x in net if x["mode"] == m]) for m in ("newline", "joined", "split")}
        by_kind = {k: C.stats([x["ms"] for x in net if x["kind"] == k]) for k in ("progress", "moderated", "completed")}
        joined = [x["ms"] for x in net if x["mode"] in ("newline", "joined")]  # not the sim's deliberate split pause
        j99, rtt_p99 = C.pct(joined, 99), C.pct(rtt_during or rtt_idle, 99)
        figures = {
            "detection, network (newline/joined objects), p99": C.figure(j99, 5.0),
            "detection, network (newline/joined objects), p99 / CDP round trip p99 (same run)": C.figure(
                j99 / rtt_p99 if j99 is not None and rtt_p99 else None, 2.0, unit="x"),
        }
        C.emit({"bench": "detection_latency", "path": "network", **C.stats(lat), **common,
                "ratio_p50": C.r(p50 / rtt_p50 if p50 is not None and rtt_p50 else None),
                "unmatched": other["unmatched"], "target_p99_ms": 50,
                "met": bool(lat) and C.pct(lat, 99) <= 50, "figures": figures,
                "by_mode": by_mode, "by_kind": by_kind,
                "breakdown": {"serverTs_to_link_emit": C.stats([x["to_link"] for x in net if x["to_link"] is not None]),
                              "link_emit_to_engine": C.stats([x["hop"] for x in net if x["hop"] is not None])},
                "breakdown_joined": stages([x for x in net if x["mode"] in ("newline", "joined")]),
                "tail_joined": tail([x for x in net if x["mode"] in ("newline", "joined")]),
                "cdp_handlers_ms": {h: C.stats(v) for h, v in link.handler_ms.items() if v}})
        dom = other["dom"]
        p50 = C.pct(dom, 50)
        C.emit({"bench": "detection_latency", "path": "dom", "measured_from": "toast data-ts", **C.stats(dom), **common,
                "ratio_p50": C.r(p50 / rtt_p50 if p50 is not None and rtt_p50 else None),
                "vs_server_emitted": C.stats(other["dom_vs_server"]), "breakdown": other["dom_breakdown"],
                "tail": other["dom_tail"],
                "target_p99_ms": 50, "met": bool(dom) and C.pct(dom, 99) <= 50,
                "figures": {"detection, DOM toast, p99": C.figure(C.pct(dom, 99), 8.0)}})
        return 0
    finally:
        stop.set()
        if other_proc is not None:
            C.rtt_process_stop(other_proc)
        if probe is not None:
            probe.close()
        rig.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a small run (~15 attempts) for the smoke test")
    p.add_argument("--goal", type=int, default=None, help="videos per session, 1-50; attempts = 5 x goal (default 50)")
    p.add_argument("--cooldown", type=float, default=0.1, help="cooldown and next-video delay, s (default 0.1)")
    p.add_argument("--step-ms", type=int, default=20, help="sim progress step, ms (default 20)")
    p.add_argument("--rtt-n", type=int, default=None, help="idle RTT samples before the session (default 200)")
    p.add_argument("--timeout", type=float, default=900.0)
    ns = p.parse_args()
    if ns.goal is None:
        ns.goal = 3 if ns.quick else 50
    if ns.rtt_n is None:
        ns.rtt_n = 30 if ns.quick else 200
    return asyncio.run(main_async(ns))


if __name__ == "__main__":
    sys.exit(main())
