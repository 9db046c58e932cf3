"""Invariants over random event sequences (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grok_tui.engine import PersistentData, SessionEngine, Timings
from grok_tui.engine.events import (
    AttemptProgress,
    BrowserLost,
    ClickFailed,
    ClickMakeVideo,
    ClickSent,
    Configure,
    RateLimited,
    ResetRetries,
    RetryNow,
    SessionEnded,
    SetAutoRetry,
    StartSession,
    UserCancel,
    VideoModerated,
    VideoSucceeded,
)

attempt_ref = st.one_of(st.none(), st.integers(min_value=0, max_value=12))
sources = st.sampled_from(["network", "dom", "store"])

events = st.one_of(
    st.builds(StartSession, prompt=st.sampled_from(["a fox", "", "  ", '"q" é 🎬']), media_id=st.just("m1")),
    st.builds(ClickSent, attempt=st.integers(0, 12)),
    st.builds(ClickFailed, attempt=st.integers(0, 12), reason=st.just("x")),
    st.builds(AttemptProgress, percent=st.floats(-10, 150), attempt=attempt_ref, source=sources),
    st.builds(VideoSucceeded, attempt=attempt_ref, source=sources),
    st.builds(VideoModerated, attempt=attempt_ref, percent=st.one_of(st.none(), st.floats(0, 100)), source=sources),
    st.builds(RateLimited, attempt=attempt_ref),
    st.just(UserCancel()),
    st.just(BrowserLost("gone")),
    st.just(ResetRetries()),
    st.just(RetryNow()),
    st.builds(SetAutoRetry, enabled=st.one_of(st.none(), st.booleans())),
    st.builds(Configure, max_retries=st.one_of(st.none(), st.integers(0, 60)), video_goal=st.one_of(st.none(), st.integers(0, 60))),
)
steps = st.lists(st.tuples(events, st.floats(min_value=0, max_value=30)), max_size=80)


@settings(max_examples=300, deadline=None)
@given(
    steps=steps,
    goal=st.integers(1, 5),
    retries=st.integers(1, 5),
    cooldown=st.sampled_from([0.5, 2.0, 8.0]),
)
def test_invariants(steps, goal, retries, cooldown):
    engine = SessionEngine(PersistentData(max_retries=retries, video_goal=goal), Timings(cooldown, cooldown, 60))
    now = 1_000_000.0
    click_times: list[float] = []
    summaries = []
    starts = 0
    counted = {"success": 0, "moderated": 0}
    prev_outcomes: dict[int, str] = {}

    def take(out):
        for c in out:
            if isinstance(c, ClickMakeVideo):
                click_times.append(now)
                assert c.prompt.strip()
            elif isinstance(c, SessionEnded):
                summaries.append(c.summary)

    for event, dt in steps:
        # time passes, deadlines fire at their exact times
        end = now + dt
        while (d := engine.next_deadline()) is not None and d <= end:
            now = max(now, d)
            take(engine.advance(now))
        now = end
        active_before = engine.phase.active
        out = engine.handle(event, now)
        if not active_before and engine.phase.active:
            starts += 1
            counted = {"success": 0, "moderated": 0}
            prev_outcomes = {}
        take(out)

        s, p = engine.session, engine.persistent
        assert 0 <= s.retry_count <= 50
        assert 1 <= p.max_retries <= 50 and 1 <= p.video_goal <= 50
        assert 0 <= s.videos_generated <= p.video_goal or not s.is_session_active
        assert len(s.logs) <= 200 and len(s.attempt_progress) <= 25
        # each attempt resolves exactly once: a resolved outcome never changes
        for a in s.attempt_progress:
            if a.number in prev_outcomes and prev_outcomes[a.number] not in ("pending", "running"):
                assert a.outcome == prev_outcomes[a.number]
            if a.outcome in ("success", "moderated") and prev_outcomes.get(a.number) in (None, "pending", "running"):
                counted[a.outcome] += 1
            prev_outcomes[a.number] = a.outcome
        assert s.credits_used == counted["success"] + counted["moderated"]
        assert s.videos_generated == counted["success"]
        assert s.layer1_failures + s.layer2_failures + s.layer3_failures == counted["moderated"]

    # no click ever closer than the cooldown
    for a, b in zip(click_times, click_times[1:]):
        assert b - a >= cooldown - 1e-6
    # exactly one summary per session that ended; at most one still running
    assert len(summaries) in (starts, starts - 1)
    if len(summaries) == starts - 1:
        assert engine.phase.active
    for sm in summaries:
        assert sm.creditsUsed == sm.completedVideos + sm.layer1Failures + sm.layer2Failures + sm.layer3Failures
