"""Invariants over random event sequences (hypothesis)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from grok_tui.engine import PersistentData, SessionEngine, Timings
from grok_tui.engine.events import (
    AttemptProgress,
    BrowserLost,
    ClickFailed,
    ClickMakeVideo,
    ClickSent,
    Configure,
    LogLine,
    RateLimited,
    Refused,
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
session_tag = st.one_of(st.none(), st.integers(0, 3))
percents = st.one_of(st.floats(-10, 150), st.sampled_from([float("nan"), float("inf"), float("-inf")]))

events = st.one_of(
    st.builds(StartSession, prompt=st.sampled_from(["a fox", "", "  ", '"q" é 🎬']), media_id=st.just("m1")),
    st.builds(ClickSent, attempt=st.integers(0, 12), session=session_tag),
    st.builds(ClickFailed, attempt=st.integers(0, 12), reason=st.just("x"), session=session_tag),
    st.builds(AttemptProgress, percent=percents, attempt=attempt_ref, source=sources, session=session_tag),
    st.builds(VideoSucceeded, attempt=attempt_ref, source=sources, session=session_tag),
    st.builds(
        VideoModerated, attempt=attempt_ref, percent=st.one_of(st.none(), percents), source=sources, session=session_tag
    ),
    st.builds(RateLimited, attempt=attempt_ref),
    st.just(UserCancel()),
    st.just(BrowserLost("gone")),
    st.just(ResetRetries()),
    st.just(RetryNow()),
    st.builds(SetAutoRetry, enabled=st.one_of(st.none(), st.booleans())),
    st.builds(
        Configure,
        # mostly small: around the counters a session reaches, where lowering a limit matters
        max_retries=st.one_of(st.none(), st.integers(0, 6), st.integers(0, 60)),
        video_goal=st.one_of(st.none(), st.integers(0, 6), st.integers(0, 60)),
        prompt=st.one_of(st.none(), st.just("another prompt")),
    ),
)
step = st.tuples(events, st.floats(min_value=0, max_value=30))
# Most runs open with a session, so the events after it meet a running one.
steps = st.one_of(
    st.lists(step, max_size=80),
    st.builds(lambda rest: [(StartSession("a fox", media_id="m1"), 0.0), *rest], st.lists(step, max_size=80)),
)


# The repro: max 3, two moderations, max lowered to 1 during the cooldown.
LOWERED_DURING_COOLDOWN = [
    (StartSession("a fox", media_id="m1"), 0.0),
    (ClickSent(1), 0.1),
    (VideoModerated(1, 10), 5.0),
    (ClickSent(2), 9.0),  # the first retry went out at the end of the cooldown
    (VideoModerated(2, 10), 5.0),
    (Configure(max_retries=1), 2.0),  # during the second cooldown
    (UserCancel(), 30.0),
]
# A refused Configure (the prompt cannot change during a session) changes nothing.
REFUSED_CONFIGURE = [
    (StartSession("a fox", media_id="m1"), 0.0),
    (VideoModerated(1, 10), 5.0),
    (Configure(max_retries=1, prompt="another prompt"), 1.0),
    (VideoModerated(None, 10), 10.0),
]


@settings(max_examples=300, deadline=None)
@example(steps=LOWERED_DURING_COOLDOWN, goal=1, retries=3, cooldown=8.0)
@example(steps=REFUSED_CONFIGURE, goal=1, retries=3, cooldown=2.0)
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

    def snapshot():
        s = engine.session
        a = engine.current
        return (
            engine.persistent.to_dict(),
            engine.phase,
            engine.next_deadline(),
            (s.retry_count, s.videos_generated, s.credits_used, s.can_retry),
            (s.layer1_failures, s.layer2_failures, s.layer3_failures),
            (a.number, a.outcome, a.max_progress) if a else None,
        )

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
        before = snapshot()
        out = engine.handle(event, now)
        if not active_before and engine.phase.active:
            starts += 1
        if engine.phase.value == "idle" or (not active_before and engine.phase.active):
            counted = {"success": 0, "moderated": 0}  # a new session, or the seed's ResetState
            prev_outcomes = {}
        take(out)
        tag = getattr(event, "session", None)
        if tag is not None and tag != engine.session_no and not isinstance(event, RateLimited):
            # a signal of another session changes nothing (a rate limit stops everything)
            assert snapshot() == before and all(isinstance(c, LogLine) for c in out)
        if isinstance(event, Configure) and any(isinstance(c, Refused) for c in out):
            # a refused Configure changes nothing, and no click comes of it
            assert snapshot() == before
            assert not any(isinstance(c, ClickMakeVideo) for c in out)

        s, p = engine.session, engine.persistent
        # the seed's invariant, at every step: while a session runs, retryCount <= maxRetries;
        # an ended session's summary says so too; the seed's Idle has counters at 0
        if engine.phase.active:
            assert 0 <= s.retry_count <= p.max_retries
        elif engine.phase.value == "ended":
            sm = s.last_session_summary
            assert sm is not None and sm.retriesAttempted <= sm.maxRetries
        else:
            assert (s.retry_count, s.videos_generated, s.credits_used) == (0, 0, 0)
        for sm in summaries:
            assert sm.retriesAttempted <= sm.maxRetries
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
            elif a.outcome in ("timeout", "cancelled") and a.clicked_at is not None and prev_outcomes.get(a.number) in (None, "pending", "running"):
                counted["requested"] = counted.get("requested", 0) + 1  # request seen, outcome never came
            prev_outcomes[a.number] = a.outcome
        assert s.credits_used == counted["success"] + counted["moderated"] + counted.get("requested", 0)
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
        assert sm.retriesAttempted <= sm.maxRetries
        resolved = sm.completedVideos + sm.layer1Failures + sm.layer2Failures + sm.layer3Failures
        assert sm.creditsUsed in (resolved, resolved + 1)  # + the last attempt, when its request was seen
