"""Smoke test of the benchmarks: each bench/*.py --quick runs, exits 0 and prints sane JSON lines.

No timing assertions (the numbers are for people to read). The scripts run two at a time
(each starts its own sim process and headless Chromium) to keep the whole test around a minute.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ("detection_latency", "pacing", "cpu", "memory", "startup", "history", "downloads", "batch", "against")
# one paired round (~30 s) is enough to see it run and clean up; --same-sim: the baseline gets this tree's sim
# (the default path is the same run without that copy)
EXTRA = {"against": ["--rounds", "1", "--same-sim"]}
_pool = ThreadPoolExecutor(max_workers=2)
_runs: dict[str, Future] = {}


def _run(name: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # `env` is given (a copy taken on the main thread): with none, the vfork'ed child would read the
    # process's live `environ`, which pytest changes on the main thread at every test (PYTEST_CURRENT_TEST);
    # one CI run lost a spawn to that race (OSError: [Errno 14] Bad address from exec).
    return subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), "--quick", *EXTRA.get(name, [])],
                          capture_output=True, text=True, timeout=150, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def results():
    """Start them all at once (two at a time); each test waits for its own."""
    env = dict(os.environ)
    for name in SCRIPTS:
        _runs.setdefault(name, _pool.submit(_run, name, env))
    return _runs


def lines_of(results, name: str) -> list[dict]:
    proc = results[name].result()
    assert proc.returncode == 0, f"{name} exited {proc.returncode}\n{proc.stderr[-3000:]}"
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert out, f"{name} printed nothing"
    for obj in out:
        assert obj["bench"] == name
        assert isinstance(obj["n"], int) and obj["n"] > 0, obj
    return out


def num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_dist(obj: dict, prefix: str = "") -> None:
    p50, p99, mx = obj[f"{prefix}p50_ms"], obj[f"{prefix}p99_ms"], obj[f"{prefix}max_ms"]
    assert all(num(v) for v in (p50, p99, mx)), obj
    assert p50 <= p99 + 1e-6 and p99 <= mx + 1e-6, obj


def test_detection_latency(results):
    out = lines_of(results, "detection_latency")
    assert {o["path"] for o in out} == {"network", "dom"}
    for o in out:
        check_dist(o)
        assert o["p50_ms"] >= 0  # page, server and engine share the machine's clock
        for key in ("rtt_p50_ms", "ratio_p50", "attempts"):
            assert num(o[key]) and o[key] > 0, (key, o)
        assert isinstance(o["met"], bool)
    net = next(o for o in out if o["path"] == "network")
    assert net["unmatched"] == 0
    check_figures(out, {"detection, network (newline/joined objects), p99", "detection, DOM toast, p99",
                        "detection, network (newline/joined objects), p99 / CDP round trip p99 (same run)"})
    assert set(net["by_mode"]) == {"newline", "joined", "split"}
    assert net["breakdown"]["serverTs_to_link_emit"]["n"] > 0
    assert net["breakdown_joined"]["chromium_event_to_socket_read"]["n"] > 0  # the stages of the stamped reads
    assert net["tail_joined"] and all(num(x["ms"]) for x in net["tail_joined"])
    assert net["rtt_other_process"]["n"] > 0  # the floor from a process of its own was sampled
    check_dist(net["rtt_other_process"])


def check_figures(out: list[dict], names: set[str]) -> None:
    """Issue 15's figures: each printed with its value, target and met."""
    figures = {k: v for o in out for k, v in (o.get("figures") or {}).items()}
    assert names <= set(figures), (names, figures)
    for name, f in figures.items():
        assert num(f["value"]) and num(f["target"]) and f["met"] is (f["value"] <= f["target"]), (name, f)


def test_pacing(results):
    [o] = lines_of(results, "pacing")
    check_dist(o)
    check_dist(o["vs_server"])
    check_dist(o["click"])
    check_dist(o["click_on_page"])
    assert o["requests_match_attempts"] is True and o["page_clicks_match_attempts"] is True
    assert o["n"] >= 5 and o["cooldown_s"] > 0
    check_figures([o], {"pacing error, click vs deadline, p99", "pacing, generation request at the server vs deadline, p99"})


def test_cpu(results):
    out = lines_of(results, "cpu")
    scenarios = {o["scenario"]: o for o in out}
    expected = {"idle_attached", "idle_session", "active"}
    if (ROOT / "grok_tui" / "ui" / "app.py").exists():
        expected |= {"app_idle", "app_active", "app_active_100ms"}
        check_figures(out, {"app CPU while a session runs (sim progress every 20 ms)", "app CPU idle, attached"})
    assert expected <= set(scenarios), scenarios
    for o in out:
        assert num(o["cpu_pct"]) and 0 <= o["cpu_pct"] < 400, o
        assert num(o["window_s"]) and o["window_s"] > 0
    assert scenarios["active"]["sim_requests_total"] > 0


def test_memory(results):
    out = lines_of(results, "memory")
    [o] = [x for x in out if x.get("what") != "app"]
    [app] = [x for x in out if x.get("what") == "app"]
    assert app["attempts"] >= 10 and 5 < app["peak_rss_mb"] < 2000 and num(app["growth_half_to_end_mb"])
    check_figures(out, {f"peak RSS after {o['attempts']} attempts, headless", f"peak RSS after {o['attempts']} attempts, app"})
    assert o["attempts"] >= 10
    for key in ("peak_rss_mb", "rss_half_mb", "rss_end_mb", "rss_start_mb"):
        assert num(o[key]) and 5 < o[key] < 2000, (key, o)
    assert o["caps_held"] is True
    end = o["sizes_end"]
    assert end["logbook_lines"] <= 200 and end["attempt_progress"] <= 25 and end["session_logs"] <= 200


def test_startup(results):
    out = lines_of(results, "startup")
    whats = {o["what"]: o for o in out}
    head = whats["headless_attached"]
    assert num(head["p50_ms"]) and 0 < head["p50_ms"] <= head["max_ms"]
    assert all(num(v) for v in head["breakdown_p50_ms"].values())
    check_figures(out, {"headless start -> attached, p50"})
    if (ROOT / "grok_tui" / "ui" / "app.py").exists():
        check_figures(out, {"app first render, p50", "app attached, p50"})
        tm, rt = whats["app_tmux"], whats["app_run_test"]
        assert num(tm["first_render_p50_ms"]) and num(tm["attached_p50_ms"])
        assert num(rt["first_pause_p50_ms"]) and rt["first_pause_p50_ms"] > 0


def test_history(results):
    [o] = lines_of(results, "history")
    assert o["n"] == o["rows"] == 1000 and o["skipped"] == 0
    assert o["prompts"] >= 2 and o["days"] >= 7
    for key in ("open_p50_ms", "open_max_ms", "read_ms", "aggregate_ms", "open_cpu_p50_ms", "rss_extra_mb"):
        assert num(o[key]) and o[key] >= 0, (key, o)
    assert o["open_p50_ms"] <= o["open_max_ms"] and isinstance(o["met"], bool)
    if (ROOT / "grok_tui" / "ui" / "history.py").exists():
        assert num(o["screen_p50_ms"]) and o["screen_p50_ms"] > 0


def test_downloads(results):
    out = lines_of(results, "downloads")
    [save] = [o for o in out if o["what"] == "save"]
    check_dist(save)
    assert save["failures"] == 0 and save["bytes"] == [1_000_000] and save["videos"] >= 3
    det = {o["downloads"]: o for o in out if o["what"] == "detection"}
    assert set(det) == {"off", "on"}
    for o in det.values():
        check_dist(o)
    assert det["on"]["videos_saved"] >= 3 and det["off"]["videos_saved"] == 0
    assert isinstance(det["on"]["during_download"]["n"], int)
    assert det["on"]["save_while_streaming"]["n"] == det["on"]["videos_saved"]
    assert det["off"]["rounds"] == det["on"]["rounds"] == 2
    [cmp] = [o for o in out if o["what"] == "comparison"]
    assert cmp["n"] == 2 and len(cmp["paired_p50_diff_ms"]) == 2 and 0 <= cmp["rounds_slower_during"] <= 2
    assert cmp["samples_off"] == det["off"]["n"] and cmp["samples_during"] == det["on"]["during_download"]["n"]
    for key in ("ci95_p50_diff_ms", "ci95_p90_diff_ms"):
        lo, hi = cmp[key]
        assert num(lo) and num(hi) and lo <= hi, (key, cmp)
    assert isinstance(cmp["no_worse"], bool)


def test_batch(results):
    [o] = lines_of(results, "batch")
    assert o["exit_code"] in (0, 1) and o["success"] >= 1 and len(o["not_success"]) == o["jobs"] - o["success"]
    assert o["attempts"] == o["requests"] and o["retries"] > 0
    assert num(o["overhead_ratio"]) and o["overhead_ratio"] >= 1.0, o
    for key in ("wall_s", "attempt_time_s", "mandated_delays_s"):
        assert num(o[key]) and o[key] > 0, (key, o)
    half = o["jobs"] // 2
    assert num(o[f"rss_at_job_{half}_mb"]) and num(o[f"rss_at_job_{o['jobs']}_mb"])


def test_against(results):
    out = lines_of(results, "against")
    figs = [o for o in out if o["what"] == "figure"]
    [summary] = [o for o in out if o["what"] == "summary"]
    names = {o["figure"] for o in figs}
    assert {"detection, network, p50", "detection, DOM toast, p99", "pacing error vs the engine's moderation, p99",
            "pacing, request at the server vs deadline, p50"} <= names, names
    assert summary["figures_compared"] == len(figs) and summary["n"] == 1
    assert summary["sim_differs"] is True and summary["baseline_sim"] == "current"  # 3b2c08f's client, this sim
    for o in figs:
        assert o["n"] == 1 and len(o["diffs_ms"]) == 1 and isinstance(o["no_worse"], bool), o
        assert num(o["current_ms"]) and num(o["baseline_ms"]) and num(o["tolerance_ms"]) and o["tolerance_ms"] >= 1
        assert o["diffs_ms"][0] == pytest.approx(o["current_ms"] - o["baseline_ms"], abs=0.02)
        assert o["rev_baseline"].startswith("3b2c08f") and o["rev_current"] != o["rev_baseline"]
    assert set(summary["worse"]) == {o["figure"] for o in figs if o["no_worse"] is False}
    check_figures(figs, {f"against 3b2c08f: {n}, difference (upper 95 %)" for n in names})  # run_all's summary shows them
    assert "pacing: pacing error, click vs deadline, p99" in summary["only_current"]  # 3b2c08f's pacing has no such figure
    trees = subprocess.run(["git", "-C", str(ROOT), "worktree", "list", "--porcelain"], capture_output=True, text=True)
    assert summary["baseline_tree"] not in trees.stdout  # the baseline's worktree is gone
    assert not Path(summary["baseline_tree"]).exists()
