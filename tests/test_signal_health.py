"""Live signal health (issue 16): which sources report the resolved attempts, and a WARN when one goes quiet."""

from __future__ import annotations

from browser_rig import run_session
from grok_tui.engine import PersistentData, SessionEngine, Timings
from grok_tui.engine.events import ClickSent, LogLine, StartSession, VideoModerated, VideoSucceeded
from grok_tui.engine.health import LOST, OK, QUIET, UNSEEN, SignalHealth
from grok_tui.ui.render import health_markup

ALL = ("network", "dom", "store")
NO_DOM = ("network", "store")


def warns(notes) -> list[str]:
    return [n.message for n in notes if n.level == "WARN"]


def test_a_source_that_reported_and_then_misses_three_moderations_warns_once():
    h = SignalHealth()
    assert h.judge(1, "success", ALL) == []
    assert [h.state(s) for s in ALL] == [OK, OK, OK]
    assert warns(h.judge(2, "moderated", NO_DOM)) == [] and h.state("dom") == QUIET
    assert warns(h.judge(3, "moderated", NO_DOM)) == []
    [w] = warns(h.judge(4, "moderated", NO_DOM))
    assert w.startswith("the DOM moderation toast went quiet: the last 3 moderations (up to attempt 4)")
    assert "reported by the network stream and useMediaStore, not by the DOM" in w and "grok-tui doctor" in w
    assert h.state("dom") == LOST and h.state("network") == OK
    assert h.judge(5, "moderated", NO_DOM) == []  # one WARN, not one per attempt
    # a success with the DOM does not mean the toasts are back
    assert h.judge(6, "success", ALL) == [] and h.state("dom") == LOST
    [back] = h.judge(7, "moderated", ALL)
    assert (back.level, back.message) == ("INFO", "the DOM moderation toast reports again (attempt 7)")
    assert h.state("dom") == OK


def test_moderations_between_successes_still_add_up():
    h = SignalHealth()
    notes = []
    for n, (kind, srcs) in enumerate([("success", ALL), ("moderated", NO_DOM)] * 3, start=1):
        notes += warns(h.judge(n, kind, srcs))
    assert len(notes) == 1 and "attempt 6" in notes[0]


def test_an_outcome_found_in_the_post_list_after_a_reload_is_no_miss():
    h = SignalHealth()
    assert h.judge(1, "moderated", ALL) == []
    for n in range(2, 6):  # each found after a reload (issue 9): the live sources could not see it
        assert h.judge(n, "moderated", ["postlist"]) == []
    assert [h.state(s) for s in ALL] == [OK, OK, OK] and h.judged == 1


def test_a_source_that_never_reported_is_not_missed_and_others_do_not_count():
    h = SignalHealth()
    for n in range(1, 8):
        assert h.judge(n, "moderated", ["network"]) == []
    assert [h.state(s) for s in ALL] == [OK, UNSEEN, UNSEEN]
    assert h.judge(8, "timeout", []) == [] and h.judged == 7  # only resolved successes and moderations count


def drive(sources_per_attempt):
    """An engine through a session whose attempts resolve with these sources (the first one resolves)."""
    e = SessionEngine(PersistentData(max_retries=10, video_goal=2), Timings(cooldown_s=1, next_video_delay_s=1))
    now = 1_700_000_000.0
    out = list(e.handle(StartSession("a fox", media_id="m1"), now))
    for n, (kind, srcs) in enumerate(sources_per_attempt, start=1):
        now += 2
        out += e.advance(now)
        out += e.handle(ClickSent(n), now)
        for src in srcs:  # the first resolves; the rest are recorded as the same outcome
            ev = VideoSucceeded(n, f"v{n}", src) if kind == "success" else VideoModerated(n, 10, f"v{n}", src)
            out += e.handle(ev, now + 0.1)
    return e, [c for c in out if isinstance(c, LogLine)]


def test_engine_warns_when_the_next_attempt_starts_and_counts_stay_the_same():
    script = [("success", ALL), ("moderated", NO_DOM), ("moderated", NO_DOM), ("moderated", NO_DOM), ("success", ALL)]
    e, logs = drive(script)
    quiet = [i for i, line in enumerate(logs) if "went quiet" in line.message]
    assert len(quiet) == 1 and logs[quiet[0]].level == "WARN"
    # after attempt 4 (the third silent moderation) resolved, before attempt 5 was clicked
    mod4 = next(i for i, line in enumerate(logs) if line.message.startswith("attempt 4 moderated"))
    start5 = next(i for i, line in enumerate(logs) if line.message.startswith("attempt 5 ("))
    assert mod4 < quiet[0] < start5
    s = e.session.last_session_summary
    assert (s.outcome, s.completedVideos, s.retriesAttempted, s.creditsUsed, s.layer1Failures) == ("success", 2, 3, 5, 3)
    # the same attempts with every source reporting count exactly the same, without a WARN
    e2, logs2 = drive([(k, ALL) for k, _ in script])
    assert not [line for line in logs2 if "went quiet" in line.message]
    assert e2.session.last_session_summary.to_dict() == s.to_dict()
    assert health_markup(e) == "signals net [$success]●[/] dom [$error]✖[/] store [$success]●[/]"
    assert health_markup(SessionEngine()) == "signals net [$text-muted]·[/] dom [$text-muted]·[/] store [$text-muted]·[/]"


async def test_a_session_on_a_page_whose_toasts_never_show(rigs):
    rig = rigs("ok,mod@10,mod@10,mod@10,ok", no_toasts=True, toast_ms=800)
    rc, lines, store = await run_session(rig, "a fox", video_goal=2, max_retries=5)
    assert rc == 0
    summary = lines[-1]
    assert (summary["outcome"], summary["completedVideos"], summary["retriesAttempted"], summary["creditsUsed"]) == (
        "success", 2, 3, 5)
    assert (summary["layer1Failures"], summary["layer2Failures"], summary["layer3Failures"]) == (3, 0, 0)
    quiet = [i for i, line in enumerate(lines) if line["event"] == "log" and "went quiet" in line["message"]]
    assert len(quiet) == 1, [line for line in lines if line["event"] == "log"]
    warn = lines[quiet[0]]
    assert warn["level"] == "WARN" and warn["message"].startswith("the DOM moderation toast went quiet: the last 3 moderations")
    assert "grok-tui doctor" in warn["message"]
    third = next(i for i, line in enumerate(lines) if line["event"] == "outcome" and line["attempt"] == 4)
    fifth = next(i for i, line in enumerate(lines) if line["event"] == "attempt" and line["attempt"] == 5)
    assert lines[third]["outcome"] == "moderated" and third < quiet[0] < fifth
    # the record shows who reported what: the DOM only the success (its video), never a moderation
    [rec] = store.history()
    srcs = [set(a["sources"]) for a in rec["attemptsDetail"]]
    assert "dom" in srcs[0] and all("dom" not in s and {"network", "store"} <= s for s in srcs[1:4])
