"""The closed set of notices: every one reaches the JSON printers and the app; the engine changes only by events."""

from __future__ import annotations

import ast
import io
import json
import re
import typing
from pathlib import Path

import grok_tui
from grok_tui import notices as n
from grok_tui.engine import PersistentData, Phase, SessionEngine, Timings
from grok_tui.batch_headless import BatchPrinter
from grok_tui.downloads import DownloadResult, VideoJob
from grok_tui.engine.events import SessionSummary, SetTimings
from grok_tui.headless import JsonPrinter
from grok_tui.runner import SessionRunner
from grok_tui.settings import Settings
from grok_tui.store import StateStore

from browser_rig import wait_until

PKG = Path(grok_tui.__file__).parent
IDENT = n.TabIdentity(url="http://127.0.0.1:1/imagine/post/p1", title="Grok", post_id="p1", media_id="m1")
INFO = n.AttachInfo("127.0.0.1", 9222, "Chrome/156.0.1", "1.3", "T1", IDENT, matched=1, pages=1, attach_ms=1.0)
RECORD = {"attempt": 1, "startedAt": 0, "isRetry": False, "maxProgress": 40.0, "outcome": "moderated", "layer": 2,
          "endedAt": 1000, "durationS": 1.0, "videoId": None, "sources": ["network"]}
SUMMARY = SessionSummary("failure", 0, 1, 1, 1, 2, 0, 2, 0, 1_767_000_000_000, extra={"reason": "max retries reached"})
JOB = VideoJob("v1", "http://127.0.0.1:1/v1.mp4", number=1, attempt=1, prompt="a fox")
SAVED = DownloadResult(JOB, ok=True, path="/tmp/x/2026_p1_01_v1.mp4", bytes=10, sha256="ab", tries=1)

SAMPLES: dict[type, object] = {
    n.LogLine: n.LogLine(1_767_000_000.0, "INFO", "hello"),
    n.SetTitle: n.SetTitle("🎬 0/1"),
    n.Refused: n.Refused("No session is running."),
    n.AttemptStarted: n.AttemptStarted(dict(RECORD, outcome="pending", maxProgress=0.0), "m1"),
    n.ProgressChanged: n.ProgressChanged(dict(RECORD, outcome="running")),
    n.AttemptResolved: n.AttemptResolved(RECORD),
    n.PhaseChanged: n.PhaseChanged(Phase.RETRY_WAIT, ("retry 1/1", 1_767_000_008.0)),
    n.SessionEnded: n.SessionEnded(SUMMARY),
    n.AwaitingPermission: n.AwaitingPermission("127.0.0.1:9222"),
    n.Attached: n.Attached(INFO),
    n.TabChanged: n.TabChanged(IDENT),
    n.TabLost: n.TabLost("the tab was closed"),
    n.SignalStats: n.SignalStats(received=120, accepted=20, dropped=100),
    n.TabsChanged: n.TabsChanged(({"id": "T1", "url": IDENT.url, "title": "Grok"},)),
    n.ClickPaused: n.ClickPaused(1, "a dialog covers the generate button"),
    n.OptionsSeen: n.OptionsSeen(1, {"videoLength": 6}),
    n.OptionsDiffer: n.OptionsDiffer(2, "videoLength 6 -> 10", blocked=True),
    n.DownloadStarted: n.DownloadStarted(1, 1, "v1", JOB.url),
    n.DownloadRetrying: n.DownloadRetrying(1, "v1", 1, "truncated"),
    n.DownloadFinished: n.DownloadFinished(1, SAVED),
    n.JobStarted: n.JobStarted(1, "p1", "a fox"),
    n.JobPaused: n.JobPaused(1, "job 1 paused: a dialog covers the button"),
    n.JobEnded: n.JobEnded(1, "failure", SUMMARY, "max retries reached"),
    n.BatchChanged: n.BatchChanged(),
    n.BatchNote: n.BatchNote("INFO", "resuming"),
    n.BatchEnded: n.BatchEnded({"event": "batch", "jobs": 1}, 1),
}


def test_samples_cover_the_closed_set():
    assert set(typing.get_args(n.Notice)) == set(SAMPLES)


def test_json_printer_prints_every_notice():
    out = io.StringIO()
    printer = JsonPrinter(out)
    for notice in SAMPLES.values():
        printer(notice)
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events == ["log", "refused", "attempt", "progress", "outcome", "retry", "summary"]  # then nothing: summary is last
    printer = JsonPrinter(io.StringIO())
    for cls in (n.AwaitingPermission, n.Attached, n.TabChanged, n.TabLost, n.SignalStats, n.TabsChanged, n.ClickPaused,
                n.OptionsSeen, n.OptionsDiffer, n.DownloadStarted, n.DownloadRetrying, n.DownloadFinished,
                n.JobStarted, n.BatchEnded):
        printer(SAMPLES[cls])
    lines = [json.loads(line) for line in printer.stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [
        "waiting", "attached", "tab", "disconnected", "signals", "options", "optionsChanged", "download"]
    assert "allow the connection in Chrome" in lines[0]["message"]
    assert lines[1] == {"event": "attached", "browser": "Chrome/156.0.1", "url": IDENT.url, "title": "Grok",
                        "postId": "p1", "mediaId": "m1", "matched": 1}
    assert lines[4]["dropped"] == 100
    assert lines[6] == {"event": "optionsChanged", "attempt": 2, "changes": "videoLength 6 -> 10", "blocked": True}
    assert lines[7]["path"] == SAVED.path


def test_batch_printer_tags_the_session_with_its_job():
    printer = BatchPrinter(io.StringIO())
    for cls in (n.JobStarted, n.AttemptStarted, n.JobPaused, n.SessionEnded, n.JobEnded, n.BatchChanged,
                n.BatchNote, n.BatchEnded, n.LogLine):
        printer(SAMPLES[cls])
    lines = [json.loads(line) for line in printer.stream.getvalue().splitlines()]
    assert [(line["event"], line.get("job", line.get("index"))) for line in lines] == [
        ("job", 1), ("attempt", 1), ("job", 1), ("summary", 1), ("job", 1), ("log", None), ("batch", None)]
    assert lines[4] == {"event": "job", "index": 1, "status": "failure", "reason": "max retries reached"}
    # the log line after the batch line was not printed: the batch line is the last one


async def test_app_takes_every_notice(tmp_path):
    # A notice is handled at once on the app's loop, else posted as a RunnerNotice message: either way
    # it reaches _handle_notice.
    from grok_tui.ui.app import make_app

    seen: list[type] = []
    app = make_app(Settings(), store=StateStore(tmp_path / "state"), attach=False)
    handle = app._handle_notice

    def recording(notice):
        seen.append(type(notice))
        return handle(notice)

    app._handle_notice = recording
    async with app.run_test(size=(110, 34)) as pilot:
        for notice in SAMPLES.values():
            app.notice(notice)
            await pilot.pause()
        await wait_until(pilot, lambda: set(seen) == set(SAMPLES), what="every notice handled")
        assert app.last_outcome == "failure" and app.sub_title == "🎬 0/1"
        assert app.link_detail == "the tab was closed" and not app.link_attached
        app.notice(SAMPLES[n.Attached])
        line2 = lambda: str(app.query_one("#conn-line2").render())  # noqa: E731
        await wait_until(pilot, lambda: "100 junk page signal(s) dropped" in line2(), what="the dropped signals")
        assert "2026_p1_01_v1.mp4" in str(app.query_one("#attempts").get_row_at(0))
        assert app.is_running


# ---------------------------------------------------------------- the engine changes only through events


def test_set_timings_is_an_event_the_engine_logs():
    engine = SessionEngine(PersistentData(), Timings(cooldown_s=1, next_video_delay_s=1))
    out = engine.handle(SetTimings(Timings(8, 8, 120), "the page is not local"), 10.0)
    assert engine.timings == Timings(8, 8, 120)
    assert [(c.level, c.message) for c in out if isinstance(c, n.LogLine)] == [("WARN", "the page is not local")]
    assert engine.handle(SetTimings(Timings(8, 8, 120)), 11.0) == []  # nothing changed, nothing said


def test_runner_restores_the_last_prompt_through_the_engine(tmp_path):
    store = StateStore(tmp_path / "state")
    store.save_persistent(PersistentData(last_prompt_value="a fox", original_media_id="img-9"), None)
    runner = SessionRunner(Settings(), StateStore(tmp_path / "state"), lambda **kw: None)
    assert runner.engine.persistent.last_prompt_value == "a fox"
    assert runner.engine.persistent.original_media_id == "img-9"


def test_no_engine_field_is_set_from_outside_the_engine():
    """`x.engine.<field> = ...` (or deeper) anywhere but grok_tui/engine/ is a change the engine never sees."""
    offenders = []
    for path in PKG.rglob("*.py"):
        if "engine" in path.relative_to(PKG).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for t in targets:
                if isinstance(t, ast.Attribute) and _inside_engine(t.value):
                    offenders.append(f"{path.relative_to(PKG)}:{node.lineno}: {ast.unparse(t)}")
    assert offenders == []


def _inside_engine(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        if node.attr == "engine":
            return True
        node = node.value
    return False


def test_no_untyped_listener_or_name_dispatch_left():
    text = "\n".join(p.read_text(encoding="utf-8") for p in PKG.rglob("*.py"))
    assert not re.search(r"\.__name__\s*(==|!=|in\s)", text)  # type(x).__name__ == "LinkLog"
    assert "getattr(self, \"_on_\" + type(" not in text  # a handler looked up by the class name
    assert not re.search(r"^\s*\w+\s*=\s*type\(\w+\)\.__name__\s*$", text, re.M)  # name = type(x).__name__
    assert not re.search(r"Callable\[\[object\],\s*None\]", text)


async def test_the_app_hears_the_runner_from_its_first_notice(tmp_path):
    """The runner restores the stored settings while it is built, inside the app's own __init__: that
    first notice already reaches the app (no listener is swapped in afterwards)."""
    from grok_tui.ui.app import make_app
    from grok_tui.ui.messages import RunnerNotice

    StateStore(tmp_path / "state").save_persistent(PersistentData(last_prompt_value="a fox", max_retries=7), None)
    lines: list[str] = []

    def hook(message):
        if isinstance(message, RunnerNotice) and isinstance(message.notice, n.LogLine):
            lines.append(message.notice.message)

    app = make_app(Settings(), store=StateStore(tmp_path / "state"), attach=False)
    assert app.runner.engine.persistent.max_retries == 7
    async with app.run_test(size=(110, 34), message_hook=hook) as pilot:
        await wait_until(pilot, lambda: any(line.startswith("stored settings loaded") for line in lines), what="it")


def test_the_engine_dispatches_every_event_by_type():
    """SessionEngine.handle matches on the event's class (no method looked up by name): one case per Event."""
    from grok_tui.engine import engine as engine_module
    from grok_tui.engine.events import Event

    cases = set(re.findall(r"^\s+case (\w+)\(\):$", Path(engine_module.__file__).read_text(encoding="utf-8"), re.M))
    assert {cls.__name__ for cls in typing.get_args(Event)} <= cases
    try:
        SessionEngine().handle(object(), 1.0)  # type: ignore[arg-type]
    except TypeError as exc:
        assert "unknown event" in str(exc)
    else:
        raise AssertionError("an unknown event was taken")
