"""`grok-tui batch FILE` end to end: real headless Chromium against the simulated site."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest


from grok_tui.batch import Manifest, manifest_path
from grok_tui.batch_headless import BatchPrinter, run_batch_headless
from grok_tui.engine.events import SessionSummary
from grok_tui.settings import state_dir
from grok_tui.store import StateStore

SEED_KEYS = list(SessionSummary.SEED_FIELDS)


def two_posts(rig):
    """The site's first two image posts: (post id, image id) each."""
    return [(p["postId"], p["mediaId"]) for p in rig.site.image_posts[:2]]


def toml_jobs(jobs) -> str:
    out = []
    for post, prompt, *rest in jobs:
        out.append(f'[[job]]\npost = "{post}"\nprompt = {json.dumps(prompt, ensure_ascii=False)}\n')
        for name, value in zip(("goal", "max_retries"), rest):
            if value is not None:
                out.append(f"{name} = {value}\n")
        out.append("\n")
    return "".join(out)


async def run_batch(rig, path, **kw):
    resume = kw.pop("resume", False)
    post = kw.pop("post", None)
    out = io.StringIO()
    store = StateStore(state_dir())
    rc = await run_batch_headless(rig.settings(**kw), store, path, resume=resume, post=post, printer=BatchPrinter(out))
    return rc, [json.loads(line) for line in out.getvalue().splitlines()], store


def summaries(lines):
    out = {}
    for line in lines:
        if line["event"] == "summary":
            s = dict(line)
            assert list(s) == ["event", "job", *SEED_KEYS], list(s)
            out[s["job"]] = {k: s[k] for k in SEED_KEYS if k != "endedAt"}
    return out


def manifest_of(path) -> Manifest:
    return Manifest.load(manifest_path(state_dir(), path))


def batch_cmd(rig, path, *extra):
    return [sys.executable, "-m", "grok_tui", "batch", str(path), "--cdp-port", str(rig.chrome.port),
            "--tab", "/imagine/post/", "--cooldown", "0.3", "--timeout", "30", *extra]


# ---------------------------------------------------------------------------------------------


async def test_four_jobs_over_two_posts(rigs, tmp_path):
    rig = rigs("ok,mod@30,ok,mod@90,ok,ok,mod@10,ok", image_posts=2)
    (a, img_a), (b, img_b) = two_posts(rig)
    assert img_a != img_b
    path = tmp_path / "jobs.toml"
    path.write_text(toml_jobs([
        (rig.site.post_url(a), "one: a fox 🦊", 2),
        (b, 'two: "quoted"'),
        (f"/imagine/post/{a}", "three"),
        (b, "four", 1, 2),
    ]), encoding="utf-8")
    rc, lines, store = await run_batch(rig, path, next_video_delay_s=1.0, video_goal=1, max_retries=3)
    assert rc == 0, [l for l in lines if l["event"] == "job" or l.get("level") in ("WARN", "ERROR")]
    assert summaries(lines) == {
        1: dict(outcome="success", completedVideos=2, videoGoal=2, retriesAttempted=1, maxRetries=3, creditsUsed=3,
                layer1Failures=0, layer2Failures=1, layer3Failures=0),
        2: dict(outcome="success", completedVideos=1, videoGoal=1, retriesAttempted=1, maxRetries=3, creditsUsed=2,
                layer1Failures=0, layer2Failures=0, layer3Failures=1),
        3: dict(outcome="success", completedVideos=1, videoGoal=1, retriesAttempted=0, maxRetries=3, creditsUsed=1,
                layer1Failures=0, layer2Failures=0, layer3Failures=0),
        4: dict(outcome="success", completedVideos=1, videoGoal=1, retriesAttempted=1, maxRetries=2, creditsUsed=2,
                layer1Failures=1, layer2Failures=0, layer3Failures=0),
    }
    assert lines[-1] == {"event": "batch", "jobs": 4, "success": 4, "failure": 0, "cancelled": 0, "pending": 0,
                         "completedVideos": 5, "creditsUsed": 8, "stoppedBy": None}
    # every session event carries its job; each job starts with a job line
    starts = [l for l in lines if l["event"] == "job" and l["status"] == "started"]
    assert [(s["index"], s["post"]) for s in starts] == [(1, a), (2, b), (3, a), (4, b)]
    assert all("job" in l for l in lines if l["event"] in ("attempt", "outcome", "progress", "retry"))
    assert [l["job"] for l in lines if l["event"] == "attempt"] == [1, 1, 1, 2, 2, 3, 4, 4]
    assert [(l["job"], l["attempt"]) for l in lines if l["event"] == "outcome"] == [
        (1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (3, 1), (4, 1), (4, 2)
    ]
    # every request: its own job's prompt (exactly) and its own post's image
    reqs = rig.site.requests
    expected = [("one: a fox 🦊", img_a)] * 3 + [('two: "quoted"', img_b)] * 2 + [("three", img_a)] + [("four", img_b)] * 2
    assert [(r["prompt"], r["parentPostId"]) for r in reqs] == expected
    assert all(r["trusted"] for r in reqs)
    # between jobs, the next-video delay holds: last outcome of job k -> first request of job k+1
    ends = [e["t"] for e in rig.site.emitted if e["kind"] in ("completed", "moderated")]
    for last_of_prev, first_of_next in ((2, 3), (4, 5), (5, 6)):
        gap = reqs[first_of_next]["t"] - ends[last_of_prev]
        assert gap >= 1.0, (last_of_prev, gap)
    # the manifest has every job done, with its videos; the history knows batch and job
    m = manifest_of(path)
    assert [(j.status, j.videos, len(j.video_ids), j.media_id) for j in m.jobs] == [
        ("success", 2, 2, img_a), ("success", 1, 1, img_b), ("success", 1, 1, img_a), ("success", 1, 1, img_b)
    ]
    hist = store.history()
    assert [(h["batch"], h["job"]) for h in hist] == [(str(path.resolve()), i) for i in (1, 2, 3, 4)]


async def test_sigkill_mid_job_then_resume(rigs, tmp_path):
    # job 1: ok; job 2 (goal 3): ok, mod@50, ok | killed | ok; job 3: ok
    rig = rigs("ok,ok,mod@50,ok,ok,ok", image_posts=2)
    (a, _), (b, _) = two_posts(rig)
    path = tmp_path / "jobs.toml"
    path.write_text(toml_jobs([(a, "first"), (b, "second", 3), (a, "third")]), encoding="utf-8")
    proc = subprocess.Popen(batch_cmd(rig, path, "--next-video-delay", "3"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    mpath = manifest_path(state_dir(), path)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            m = Manifest.load(mpath) if mpath.exists() else None
            if m and m.jobs[1].status == "running" and m.jobs[1].videos == 2:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("job 2 never reached 2 videos")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert len(rig.site.requests) == 4  # job 1's one, job 2's three
    m = manifest_of(path)
    assert (m.jobs[0].status, m.jobs[1].status, m.jobs[1].videos, m.jobs[1].retries, m.jobs[2].status) == (
        "success", "running", 2, 1, "pending"
    )
    rc, lines, _ = await run_batch(rig, path, resume=True, next_video_delay_s=0.5)
    assert rc == 0, lines[-3:]
    starts = [(l["index"], l["resumed"]) for l in lines if l["event"] == "job" and l["status"] == "started"]
    assert starts == [(2, True), (3, False)]  # job 1 is not redone
    s = summaries(lines)
    assert s[2] == dict(outcome="success", completedVideos=3, videoGoal=3, retriesAttempted=1, maxRetries=3,
                        creditsUsed=4, layer1Failures=0, layer2Failures=1, layer3Failures=0)
    assert lines[-1] == {"event": "batch", "jobs": 3, "success": 3, "failure": 0, "cancelled": 0, "pending": 0,
                         "completedVideos": 5, "creditsUsed": 6, "stoppedBy": None}
    reqs = rig.site.requests
    assert [r["prompt"] for r in reqs] == ["first", "second", "second", "second", "second", "third"]
    assert rig.site.remaining_script == []  # exactly what the script needed, no more


async def test_rate_limit_stops_the_whole_batch(rigs, tmp_path):
    rig = rigs("ok,ok,rate", image_posts=2)
    (a, _), (b, _) = two_posts(rig)
    path = tmp_path / "jobs.csv"
    path.write_text(f"post,prompt\n{a},one\n{b},two\n{a},three\n{b},four\n", encoding="utf-8")
    rc, lines, _ = await run_batch(rig, path)
    assert rc == 2
    assert lines[-1] == {"event": "batch", "jobs": 4, "success": 2, "failure": 0, "cancelled": 0, "pending": 2,
                         "completedVideos": 2, "creditsUsed": 2, "stoppedBy": "rate_limit"}
    m = manifest_of(path)
    assert [j.status for j in m.jobs] == ["success", "success", "rate_limited", "pending"]
    assert m.stopped_by == "rate_limit"
    await asyncio.sleep(1.0)
    reqs = rig.site.requests
    assert [r["outcome"] for r in reqs] == ["ok", "ok", "rate"]  # nothing after the 429
    assert not [l for l in lines if l["event"] == "job" and l.get("index") == 4]


@pytest.mark.parametrize(
    "name, text, where",
    [
        ("bad.csv", "post,prompt,goal\n{a},one,1\n{a},two,zero\n", "bad.csv:3: goal"),
        ("bad.toml", '[[job]]\npost = "{a}"\nprompt = "one"\n\n[[job]]\npost = "{a}"\nprompt = ""\n', "bad.toml:7: prompt"),
    ],
)
def test_bad_rows_exit_3_without_a_request(rigs, tmp_path, name, text, where):
    rig = rigs("")
    path = tmp_path / name
    path.write_text(text.format(a=rig.site.post_id), encoding="utf-8")
    p = subprocess.run(batch_cmd(rig, path), capture_output=True, text=True, timeout=60)
    assert p.returncode == 3
    assert p.stdout == ""
    err = p.stderr.strip()
    assert err.count("\n") == 0 and where in err and "Traceback" not in err, err
    assert rig.site.requests == []


async def test_ctrl_c_records_the_running_job_cancelled(rigs, tmp_path):
    rig = rigs("ok/200,ok/200", image_posts=2)
    (a, _), (b, _) = two_posts(rig)
    path = tmp_path / "jobs.csv"
    path.write_text(f"post,prompt,goal\n{a},one,2\n{b},two,1\n", encoding="utf-8")
    proc = subprocess.Popen(batch_cmd(rig, path, "--next-video-delay", "0.3"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not rig.site.requests and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert rig.site.requests, "the first job never clicked"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert lines[-1]["stoppedBy"] == "user" and lines[-1]["pending"] == 1 and lines[-1]["cancelled"] == 1
    m = manifest_of(path)
    assert [j.status for j in m.jobs] == ["cancelled", "pending"]
    assert len(rig.site.requests) == 1  # nothing started after Ctrl-C


async def test_covering_dialog_is_waited_out_or_cancels_the_job(rigs, tmp_path):
    # a chooser for 3 s when job 2's post loads: waited out (tab_wait_s 8)
    rig = rigs("ok,ok", image_posts=2)
    (a, _), (b, _) = two_posts(rig)
    rig.site.show_dialog("chooser", 3.0, when="load", post_id=b)
    path = tmp_path / "jobs.csv"
    path.write_text(f"post,prompt\n{a},one\n{b},two\n", encoding="utf-8")
    rc, lines, _ = await run_batch(rig, path, tab_wait_s=8)
    assert rc == 0, [l for l in lines if l["event"] == "job"]
    [paused] = [l for l in lines if l["event"] == "job" and l["status"] == "paused"]
    assert paused["index"] == 2 and "covered by" in paused["message"]
    assert [r["prompt"] for r in rig.site.requests] == ["one", "two"]
    # a banner for 30 s over job 2's post, longer than tab_wait_s (2 s): job 2 cancelled, job 3 runs
    rig2 = rigs("ok,ok", image_posts=2)
    (a, _), (b, _) = two_posts(rig2)
    rig2.site.show_dialog("banner", 30.0, when="load", post_id=b)
    path2 = tmp_path / "jobs2.csv"
    path2.write_text(f"post,prompt\n{a},one\n{b},two\n{a},three\n", encoding="utf-8")
    rc, lines, _ = await run_batch(rig2, path2, tab_wait_s=2)
    assert rc == 1
    ends = [(l["index"], l["status"]) for l in lines if l["event"] == "job" and l["status"] not in ("started", "paused")]
    assert ends == [(1, "success"), (2, "cancelled"), (3, "success")]
    assert [r["prompt"] for r in rig2.site.requests] == ["one", "three"]
    assert lines[-1]["cancelled"] == 1 and lines[-1]["stoppedBy"] is None


async def test_covered_button_mid_job_pauses_the_job(rigs, tmp_path):
    """A dialog over the button after job 1's first attempt (its retry's click): the job pauses naming it,
    gets no click through it, and goes on when it clears; one that stays past tab_wait_s cancels the job."""
    # a chooser for 5 s after attempt 1 is moderated: the retry waits it out (tab_wait_s 8), then one click
    rig = rigs("mod@30+chooser:5,ok,ok", image_posts=2)
    (a, _), (b, _) = two_posts(rig)
    path = tmp_path / "jobs.csv"
    path.write_text(f"post,prompt\n{a},one\n{b},two\n", encoding="utf-8")
    rc, lines, _ = await run_batch(rig, path, tab_wait_s=8, max_retries=2)
    assert rc == 0, [l for l in lines if l["event"] in ("job", "log")][-10:]
    [paused] = [l for l in lines if l["event"] == "job" and l["status"] == "paused"]
    assert paused["index"] == 1 and "attempt 2 paused" in paused["message"], paused
    assert "covered by div [Which video do you prefer?]" in paused["message"], paused
    assert [r["prompt"] for r in rig.site.requests] == ["one", "one", "two"]
    assert not [e for e in rig.site.page_events if e.get("target") in ("dialog", "cover-toast")]
    # a banner for 60 s after attempt 1: the retry is never clicked; job 1 cancelled naming it, job 2 runs
    rig2 = rigs("mod@30+banner:60,ok", image_posts=2)
    (a, _), (b, _) = two_posts(rig2)
    path2 = tmp_path / "jobs2.csv"
    path2.write_text(f"post,prompt\n{a},one\n{b},two\n", encoding="utf-8")
    t0 = time.monotonic()
    rc, lines, _ = await run_batch(rig2, path2, tab_wait_s=4, max_retries=2)
    assert rc == 1
    ends = [l for l in lines if l["event"] == "job" and l["status"] not in ("started", "paused")]
    assert [(l["index"], l["status"]) for l in ends] == [(1, "cancelled"), (2, "success")]
    assert "not clicked" in ends[0]["reason"] and "covered by div" in ends[0]["reason"], ends[0]
    assert any(l["event"] == "job" and l["status"] == "paused" and l["index"] == 1 for l in lines)
    assert [r["prompt"] for r in rig2.site.requests] == ["one", "two"]
    assert not [e for e in rig2.site.page_events if e.get("target") in ("dialog", "cover-toast")]
    assert time.monotonic() - t0 < 40
