"""The history module and `grok-tui history`: incremental reading, skipped lines, aggregates, exports.

Totals are checked against sums taken straight from the recorded JSON (not through the
module), and the exports through the real CLI in a subprocess.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from grok_tui import history as h
from grok_tui import history_sample as sample

N = 60
BAD_LINES = ("this is not json\n", '{"outcome": 3, "endedAt": 1}\n', "[1, 2]\n", '{"outcome": "success"}\n', "\n")
PARTIAL = '{"outcome": "success", "endedAt": 17'
KNIGHT = "a knight on horseback charging through a burning village"


@pytest.fixture
def records():
    return sample.generate(N)


@pytest.fixture
def hist(tmp_path, records):
    return sample.write(tmp_path / "state" / "history.jsonl", records, extra_lines=BAD_LINES + (PARTIAL,))


def grok(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TZ": "UTC"}
    return subprocess.run([sys.executable, "-m", "grok_tui", *args], env=env, capture_output=True, text=True, timeout=60)


SUMMED = {"videos": "completedVideos", "credits": "creditsUsed", "retries": "retriesAttempted",
          "l1": "layer1Failures", "l2": "layer2Failures", "l3": "layer3Failures", "attempts": "attempts"}  # fmt: skip


def sums_of(recs) -> dict:
    return {ours: sum(r[theirs] for r in recs) for ours, theirs in SUMMED.items()}


# ---------------------------------------------------------------- reading


def test_reader_skips_corrupt_and_partial_lines_and_counts_them(hist, records):
    reader = h.read_history(hist)
    assert len(reader.sessions) == N
    assert reader.corrupt == 4  # the blank line is not counted
    assert reader.partial == 1
    assert reader.skipped == 5
    assert "4 corrupt lines and an unfinished last line" in reader.skipped_note()
    assert [r.ended_at for r in reader.sessions] == [rec["endedAt"] for rec in records]
    assert reader.sessions[0].prompt == records[0]["prompt"]
    assert reader.sessions[0].post == records[0]["postId"]


def test_reader_reads_only_what_was_appended(hist, records):
    reader = h.read_history(hist)
    assert reader.refresh() == []  # nothing new
    extra = sample.generate(3, seed=99, start_ms=records[-1]["endedAt"] + 1000)
    with open(hist, "a", encoding="utf-8") as fh:  # the unfinished line is finished, then two more
        fh.write('0, "completedVideos": 0}\n')  # {"outcome": "success", "endedAt": 170, "completedVideos": 0}
        for rec in extra[:2]:
            fh.write(json.dumps(rec) + "\n")
        fh.write(json.dumps(extra[2])[:20])  # a new write in progress
    new = reader.refresh()
    assert [r.ended_at for r in new] == [170] + [e["endedAt"] for e in extra[:2]]
    assert len(reader.sessions) == N + 3
    assert (reader.corrupt, reader.partial) == (4, 1)
    with open(hist, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(extra[2])[20:] + "\n")
    assert [r.ended_at for r in reader.refresh()] == [extra[2]["endedAt"]]
    assert reader.partial == 0


def test_reader_starts_over_when_the_file_is_replaced(hist, records):
    reader = h.read_history(hist)
    tmp = hist.with_name("new.jsonl")
    sample.write(tmp, records[:5])
    os.replace(tmp, hist)  # what the store does when it keeps a corrupt file aside
    reader.refresh()
    assert len(reader.sessions) == 5 and reader.skipped == 0


def test_reader_full_record_by_offset(hist, records):
    reader = h.read_history(hist)
    row = reader.sessions[17]
    assert reader.record(row) == records[17]
    assert h.read_history(hist.with_name("missing.jsonl")).sessions == []


def test_rows_tolerate_old_records_and_odd_batch_values():
    old = {"outcome": "success", "completedVideos": 1, "videoGoal": 1, "retriesAttempted": 0, "maxRetries": 3,
           "creditsUsed": 1, "layer1Failures": 0, "layer2Failures": 0, "layer3Failures": 0, "endedAt": 5000}  # fmt: skip
    row = h.row_from_record(old)
    assert (row.prompt, row.post, row.attempts, row.duration_s, row.batch, row.job) == ("", "", 1, None, None, None)
    row = h.row_from_record({**old, "batch": {"id": "night-run"}, "job": 4, "startedAt": 2000, "downloads": ["a", "b"]})
    assert (row.batch, row.job, row.duration_s, row.downloads) == ("night-run", "4", 3.0, 2)
    for bad in ({**old, "creditsUsed": "many"}, {**old, "endedAt": None}, {**old, "layer1Failures": -1}):
        with pytest.raises(ValueError):
            h.row_from_record(bad)


# ---------------------------------------------------------------- aggregates


def test_prompt_groups_match_the_records(records):
    groups = {g.prompt: g for g in h.by_prompt(h.row_from_record(r) for r in records)}
    assert set(groups) == {r["prompt"] for r in records}
    for prompt, g in groups.items():
        mine = [r for r in records if r["prompt"] == prompt]
        s = sums_of(mine)
        assert (g.sessions, g.videos, g.credits, g.attempts) == (len(mine), s["videos"], s["credits"], s["attempts"])
        assert g.successes == sum(r["outcome"] == "success" for r in mine)
        assert g.credits_per_video == (s["credits"] / s["videos"] if s["videos"] else None)
        layers = [s["l1"], s["l2"], s["l3"]]
        assert g.top_layer == (f"L{layers.index(max(layers)) + 1}" if max(layers) else None)
    knight = groups[KNIGHT]
    assert knight.videos == 0 and knight.attempts >= h.NEVER_AFTER and knight.never_works
    assert not groups["a red fox running through snow, slow motion, cinematic"].never_works
    assert h.PromptGroup("x", attempts=h.NEVER_AFTER - 1).never_works is False


def test_day_totals_match_the_records(records, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    days = h.by_day(h.row_from_record(r) for r in records)
    assert [d.day for d in days] == [f"2026-01-0{i}" for i in range(1, 8)]
    assert sum(d.sessions for d in days) == N
    assert sum(d.credits for d in days) == sum(r["creditsUsed"] for r in records)
    outcomes = Counter(r["outcome"] for r in records)
    assert (sum(d.success for d in days), sum(d.failure for d in days), sum(d.cancelled for d in days)) == (
        outcomes["success"], outcomes["failure"], outcomes["cancelled"])
    assert sum(d.l2 for d in days) == sum(r["layer2Failures"] for r in records)


def test_filters(records):
    rows = [h.row_from_record(r) for r in records]
    since = h.parse_since("2026-01-04T00:00+00:00")
    assert len(h.select(rows, h.Filter(since_ms=since))) == sum(r["endedAt"] >= since for r in records)
    assert {r.prompt for r in h.select(rows, h.Filter(prompt="KNIGHT"))} == {KNIGHT}
    post = records[0]["postId"][:8].upper()
    assert len(h.select(rows, h.Filter(text=post))) == sum(r["postId"].startswith(post.lower()) for r in records)
    with pytest.raises(h.HistoryError, match="is not a date"):
        h.parse_since("last tuesday")


# ---------------------------------------------------------------- the CLI


def test_cli_csv_and_json_totals_equal_the_recorded_summaries(hist, records, monkeypatch):
    monkeypatch.setenv("GROK_TUI_STATE_DIR", str(hist.parent))
    p = grok("history", "--csv")
    assert p.returncode == 0, p.stderr
    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    assert list(rows[0]) == list(h.EXPORT_FIELDS)
    assert len(rows) == N
    assert {k: sum(int(r[k]) for r in rows) for k in SUMMED} == sums_of(records)
    assert [int(r["endedAt"]) for r in rows] == sorted((r["endedAt"] for r in records), reverse=True)
    assert p.stderr.strip() == f"grok-tui: warning: Skipped 4 corrupt lines and an unfinished last line in {hist}."

    p = grok("history", "--json")
    assert p.returncode == 0, p.stderr
    objs = [json.loads(line) for line in p.stdout.splitlines()]
    assert len(objs) == N and list(objs[0]) == list(h.EXPORT_FIELDS)
    assert {k: sum(o[k] for o in objs) for k in SUMMED} == sums_of(records)
    assert {o["prompt"] for o in objs} == {r["prompt"] for r in records}
    assert sum(o["batch"] is not None for o in objs) == sum("batch" in r for r in records)

    p = grok("history")
    assert p.returncode == 0
    t = sums_of(records)
    assert f"{N} session(s):" in p.stdout and f"credits {t['credits']}," in p.stdout


def test_cli_filters(hist, records, monkeypatch):
    monkeypatch.setenv("GROK_TUI_STATE_DIR", str(hist.parent))
    p = grok("history", "--json", "--since", "2026-01-05", "--prompt", "Fox")
    assert p.returncode == 0, p.stderr
    since = h.parse_since("2026-01-05T00:00+00:00")
    want = [r for r in records if r["endedAt"] >= since and "fox" in r["prompt"]]
    objs = [json.loads(line) for line in p.stdout.splitlines()]
    assert want and sorted(o["endedAt"] for o in objs) == [r["endedAt"] for r in want]
    assert sum(o["credits"] for o in objs) == sum(r["creditsUsed"] for r in want)


def test_cli_bad_arguments_and_missing_or_unreadable_history(tmp_path, monkeypatch):
    monkeypatch.setenv("GROK_TUI_STATE_DIR", str(tmp_path / "state"))
    p = grok("history", "--since", "yesterday")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == "grok-tui: --since 'yesterday' is not a date; use YYYY-MM-DD (or YYYY-MM-DDTHH:MM)."
    p = grok("history", "--json", "--csv")
    assert p.returncode == 2 and "not allowed with argument" in p.stderr and "Traceback" not in p.stderr
    p = grok("history")  # no history yet
    assert (p.returncode, p.stdout, p.stderr) == (0, "No recorded sessions.\n", "")
    p = grok("history", "--csv")
    assert (p.returncode, p.stdout.strip()) == (0, ",".join(h.EXPORT_FIELDS))
    (tmp_path / "state" / "history.jsonl").mkdir(parents=True)  # not a readable file
    p = grok("history", "--json")
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert p.stderr.startswith("grok-tui: The history file ") and p.stderr.count("\n") == 1


async def test_a_real_session_is_recorded_with_its_prompt_and_post(tmp_path):
    """Through the runner against the sim in headless Chromium: the record names the prompt and the post."""
    from browser_rig import make_rig, run_session
    from grok_tui import history_cli
    from grok_tui.cli import build_parser

    prompt = 'a "quoted" prompt — é 日本 🎬'
    rig = make_rig("mod@40,ok")
    try:
        rc, _lines, store = await run_session(rig, prompt, video_goal=1, max_retries=3)
    finally:
        rig.close()
    assert rc == 0
    out, err = io.StringIO(), io.StringIO()
    assert history_cli.run(build_parser().parse_args(["history", "--json"]), out, err) == 0
    [row] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert row["prompt"] == prompt  # exactly as sent
    assert row["post"] == rig.site.post_id
    assert (row["outcome"], row["videos"], row["credits"], row["l2"], row["attempts"]) == ("success", 1, 2, 1, 2)
    assert Path(row["logPath"]).is_file()
    assert err.getvalue() == ""
