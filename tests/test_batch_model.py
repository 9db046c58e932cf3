"""Batch files, the manifest and the resume rules (grok_tui/batch.py: pure, real files)."""

from __future__ import annotations

import json

import pytest

from grok_tui.batch import BatchError, Job, Manifest, load_jobs, manifest_path, parse_post
from grok_tui.engine.events import SessionSummary

P1 = "0a1b2c3d-0000-4000-8000-000000000001"
P2 = "0a1b2c3d-0000-4000-8000-000000000002"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_jobs(tmp_path):
    path = write(
        tmp_path,
        "b.toml",
        f'''# a batch
[[job]]
post = "http://127.0.0.1:9/imagine/post/{P1.upper()}"
prompt = "a fox, running"

[[job]]
post = "{P2}"
prompt = """two
lines  """
goal = 2
max_retries = 5
''',
    )
    a, b = load_jobs(path)
    assert (a.post_id, a.origin, a.prompt, a.goal, a.max_retries, a.line) == (
        P1, "http://127.0.0.1:9", "a fox, running", None, None, 2
    )
    assert (b.post_id, b.origin, b.prompt, b.goal, b.max_retries, b.line) == (P2, None, "two\nlines  ", 2, 5, 6)


def test_csv_jobs_keep_the_prompt_exactly(tmp_path):
    path = write(
        tmp_path,
        "b.csv",
        f'post,prompt,goal\n/imagine/post/{P1},"  a ""quoted"", prompt, é 🎬",\n\n{P2},"multi\nline",3\n',
    )
    a, b = load_jobs(path)
    assert (a.post_id, a.prompt, a.goal, a.line) == (P1, '  a "quoted", prompt, é 🎬', None, 2)
    assert (b.post_id, b.prompt, b.goal, b.line) == (P2, "multi\nline", 3, 4)


def test_text_jobs_need_post(tmp_path):
    path = write(tmp_path, "b.txt", "first prompt\n\n\nsecond\nprompt  \n\nthird\n")
    with pytest.raises(BatchError, match=r"give its post with --post"):
        load_jobs(path)
    jobs = load_jobs(path, post=P1)
    assert [(j.prompt, j.line, j.post_id) for j in jobs] == [
        ("first prompt", 1, P1), ("second\nprompt  ", 4, P1), ("third", 7, P1)
    ]


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("b.csv", f"post,prompt\n{P1},ok\n{P2},\n", r"b\.csv:3: prompt is empty"),
        ("b.csv", f"post,prompt,goal\n{P1},ok,1\n{P2},fine,0\n", r"b\.csv:3: goal must be a whole number from 1 to 50, not 0\."),
        ("b.csv", f"post,prompt,max_retries\n{P1},ok,x\n", r"b\.csv:2: max_retries must be a whole number"),
        ("b.csv", f"post,prompt\n{P1},ok,extra\n", r"b\.csv:2: the row has 3 fields, the header 2\."),
        ("b.csv", f"post,prompt,colour\n{P1},ok,red\n", r"b\.csv:1: column 'colour' is not a job field"),
        ("b.csv", f"prompt\nok\n", r"b\.csv:1: the header has no post column"),
        ("b.csv", "post,prompt\nhttp://x/imagine/gallery,ok\n", r"b\.csv:2: post 'http://x/imagine/gallery' is not"),
        ("b.toml", f'[[job]]\npost = "{P1}"\nprompt = "a"\n\n[[job]]\npost = "{P2}"\ngoal = 51\nprompt = "b"\n', r"b\.toml:7: goal must be"),
        ("b.toml", f'[[job]]\npost = "{P1}"\n\n[[job]]\npost = "{P2}"\nprompt = "b"\n', r"b\.toml:1: prompt is missing"),
        ("b.toml", f'[[job]]\npost = "{P1}"\nprompt = "a"\ncolor = 1\n', r"b\.toml:4: 'color' is not a job field"),
        ("b.toml", f'[[job]]\npost = "{P1}"\nprompt = "a\n', r"b\.toml:3: not valid TOML"),
        ("b.toml", f'[[job]]\npost = "ftp://h/imagine/post/{P1}"\nprompt = "a"\n', r"b\.toml:2: post 'ftp://"),
        ("b.json", "{}", r"unknown batch file type '\.json'"),
    ],
)
def test_bad_rows_one_sentence_with_file_and_line(tmp_path, name, text, expected):
    path = write(tmp_path, name, text)
    with pytest.raises(BatchError) as err:
        load_jobs(path)
    msg = str(err.value)
    assert msg.count("\n") == 0 and msg.endswith(".")
    import re

    assert re.search(expected, msg), msg


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(BatchError, match="does not exist"):
        load_jobs(tmp_path / "nope.csv")
    path = tmp_path / "b.csv"
    path.write_bytes(b"post,prompt\n" + P1.encode() + b",caf\xe9\n")
    with pytest.raises(BatchError, match=r"b\.csv:2: the file is not UTF-8"):
        load_jobs(path)


def test_parse_post():
    assert parse_post(f"https://grok.com/imagine/post/{P1}/") == (P1, "https://grok.com")
    assert parse_post(f"/imagine/post/{P1}") == (P1, None)
    assert parse_post(P1.upper()) == (P1, None)
    for bad in ("", "https://grok.com/imagine", "javascript:alert(1)", "a b"):
        with pytest.raises(ValueError):
            parse_post(bad)


def _summary(outcome="success", **kw):
    base = dict(completedVideos=1, videoGoal=1, retriesAttempted=0, maxRetries=3, creditsUsed=1,
                layer1Failures=0, layer2Failures=0, layer3Failures=0, endedAt=1)
    base.update(kw)
    return SessionSummary(outcome=outcome, **base)


def test_manifest_roundtrip_and_atomic_file(tmp_path):
    path = write(tmp_path, "b.csv", f"post,prompt,goal\n{P1},a,2\n{P2},b,\n")
    mpath = manifest_path(tmp_path / "state", path)
    assert manifest_path(tmp_path / "state", str(path)) == mpath  # keyed by the absolute path
    m = Manifest.fresh(mpath, str(path), load_jobs(path))
    j = m.jobs[0]
    assert j.plan(1, 3) == (2, 3)
    j.status = "running"
    j.note_session(videos=1, retries=1, credits=2, layers=[0, 1, 0], video_ids=["v1"])
    m.save()
    assert not list(mpath.parent.glob(".*.tmp"))
    data = json.loads(mpath.read_text())
    assert (data["jobs"][0]["status"], data["jobs"][0]["videosDone"], data["jobs"][0]["layers"]) == ("running", 1, [0, 1, 0])
    back = Manifest.load(mpath)
    assert [x.to_dict() for x in back.jobs] == [x.to_dict() for x in m.jobs]
    # an interrupted job runs again for what is left of it
    assert back.to_run() == [0, 1]
    assert back.jobs[0].plan(1, 3) == (1, 2)


def test_job_summary_counts_the_whole_job():
    j = Job("p", "prompt", goal=3, max_retries=4)
    j.plan(1, 3)
    j.videos, j.retries, j.credits, j.layers = 1, 1, 2, [1, 0, 0]
    j.note_session(videos=2, retries=1, credits=3, layers=[0, 0, 1], video_ids=["a", "b"])
    j.close_session("success")
    s = j.summary(_summary(completedVideos=2, videoGoal=2, retriesAttempted=1, maxRetries=3, creditsUsed=3, endedAt=5))
    assert s.to_dict() == {
        "outcome": "success", "completedVideos": 3, "videoGoal": 3, "retriesAttempted": 2, "maxRetries": 4,
        "creditsUsed": 5, "layer1Failures": 1, "layer2Failures": 0, "layer3Failures": 1, "endedAt": 5,
    }


def test_reconcile_edited_file(tmp_path):
    path = write(tmp_path, "b.csv", f"post,prompt\n{P1},one\n{P1},two\n{P2},three\n")
    m = Manifest.fresh(tmp_path / "m.json", str(path), load_jobs(path))
    m.jobs[0].status = "success"
    m.jobs[1].status = "failure"
    m.jobs[2].status = "success"
    # row 2 edited in place, row 3 removed, a new row appended
    path.write_text(f"post,prompt\n{P1},one\n{P1},TWO\n{P2},four\n{P1},five\n")
    notes = m.reconcile(load_jobs(path))
    assert notes == [
        "job 2 (line 3) changed in the file: it starts afresh.",
        "job 3 (line 4) changed in the file: it starts afresh.",
        "job 4 (line 5) is new in the file: added as pending.",
    ]
    assert [(j.prompt, j.status) for j in m.jobs] == [("one", "success"), ("TWO", "pending"), ("four", "pending"), ("five", "pending")]
    # a removed row is dropped, said in one line
    path.write_text(f"post,prompt\n{P1},TWO\n{P2},four\n{P1},five\n")
    notes = m.reconcile(load_jobs(path))
    assert notes == ["a job was removed from the file (post 0a1b2c3d, prompt 'one', success): dropped."]
    assert [j.line for j in m.jobs] == [2, 3, 4]


def test_counts_and_exit_codes(tmp_path):
    m = Manifest(tmp_path / "m.json", "f", [Job("p", "a"), Job("p", "b"), Job("p", "c")])
    for j in m.jobs:
        j.status = "success"
    assert m.exit_code() == 0
    m.jobs[1].status = "cancelled"
    assert m.exit_code() == 1
    m.jobs[2].status = "rate_limited"
    m.stopped_by = "rate_limit"
    assert m.exit_code() == 2
    line = m.batch_line()
    assert line == {"event": "batch", "jobs": 3, "success": 1, "failure": 0, "cancelled": 1, "pending": 1,
                    "completedVideos": 0, "creditsUsed": 0, "stoppedBy": "rate_limit"}


def test_damaged_manifest_is_kept_aside(tmp_path):
    mpath = tmp_path / "m.json"
    mpath.write_text("{not json")
    with pytest.raises(BatchError, match="damaged"):
        Manifest.load(mpath)
    assert not mpath.exists() and list(tmp_path.glob("m.json.corrupt-*"))
