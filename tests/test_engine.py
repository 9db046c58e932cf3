"""The pure session engine, driven with a fake clock."""

from __future__ import annotations

import pytest

from grok_tui.engine import PersistentData, Phase, SessionEngine, Timings, classify_layer
from grok_tui.engine.events import (
    AttemptProgress,
    BrowserLost,
    ClickFailed,
    ClickMakeVideo,
    ClickSent,
    Configure,
    RateLimited,
    Refused,
    ResetRetries,
    Restore,
    RetryNow,
    RouteChanged,
    SessionEnded,
    SetAutoRetry,
    SetTitle,
    StartSession,
    UserCancel,
    VideoModerated,
    VideoSucceeded,
)

T0 = 1_700_000_000.0


def at(t: float):
    """Equal to the epoch time `t` within a microsecond (pytest.approx's default relative
    tolerance would accept 1,700 s of error at epoch magnitudes)."""
    return pytest.approx(t, rel=0, abs=1e-6)


class Driver:
    """Feeds an engine and keeps every command it returned."""

    def __init__(self, goal=1, retries=3, auto=True, **timings):
        self.engine = SessionEngine(
            PersistentData(max_retries=retries, video_goal=goal, auto_retry_enabled=auto), Timings(**timings)
        )
        self.now = T0
        self.commands: list = []
        self.ended_at: list[float] = []  # when each SessionEnded came out

    def _take(self, out):
        self.commands += out
        self.ended_at += [self.now for c in out if isinstance(c, SessionEnded)]
        return out

    def send(self, event, dt: float = 0.0):
        self.now += dt
        return self._take(self.engine.handle(event, self.now))

    def wait(self, dt: float):
        """Advance the clock by dt, firing deadlines at their exact times."""
        end = self.now + dt
        while (d := self.engine.next_deadline()) is not None and d <= end:
            self.now = max(self.now, d)
            self._take(self.engine.advance(self.now))
        self.now = end
        self._take(self.engine.advance(self.now))

    def clicks(self) -> list[ClickMakeVideo]:
        return [c for c in self.commands if isinstance(c, ClickMakeVideo)]

    def click_times(self) -> list[float]:
        # Each click is logged at the time it was issued.
        return [c.at for c in self.commands if getattr(c, "message", "").endswith("writing prompt and clicking")]

    def summaries(self):
        return [c.summary for c in self.commands if isinstance(c, SessionEnded)]

    def start(self, prompt="a red fox running through snow", media="img-1"):
        return self.send(StartSession(prompt, post_id="post-1", media_id=media))

    def play(self, outcome: str, took: float = 20.0):
        """One attempt in flight: click confirmed, then the outcome `took` seconds later."""
        n = self.engine.current.number
        self.send(ClickSent(n), 0.05)
        if outcome == "ok":
            self.send(AttemptProgress(50, n), took / 2)
            self.send(VideoSucceeded(n, f"vid-{n}", post_id=f"post-of-vid-{n}"), took / 2)
            self.last_success_at = self.now
        elif outcome.startswith("mod@"):
            pct = float(outcome[4:])
            if pct > 0:
                self.send(AttemptProgress(pct, n), took / 2)
            self.send(VideoModerated(n, None, f"vid-{n}"), took / 2)
        elif outcome == "rate":
            self.send(RateLimited(n), took)
        else:
            raise ValueError(outcome)


def run_script(script, goal=1, retries=3, **timings) -> Driver:
    d = Driver(goal=goal, retries=retries, **timings)
    d.start()
    for outcome in script:
        if d.engine.phase in (Phase.ENDED, Phase.IDLE):
            break
        d.play(outcome)
        d.wait(30)
    return d


# ------------------------------------------------------------------ the seed's example


def test_seed_example_flow():
    d = run_script(["ok", "mod@40", "ok", "ok"], goal=3, retries=5)
    [summary] = d.summaries()
    assert summary.to_dict() == {
        "outcome": "success",
        "completedVideos": 3,
        "videoGoal": 3,
        "retriesAttempted": 1,
        "maxRetries": 5,
        "creditsUsed": 4,
        "layer1Failures": 0,
        "layer2Failures": 1,
        "layer3Failures": 0,
        "endedAt": int(round(d.last_success_at * 1000)),  # the goal was reached by the last success
    }
    assert d.ended_at == [d.last_success_at]
    assert [c.attempt for c in d.clicks()] == [1, 2, 3, 4]
    assert [c.is_retry for c in d.clicks()] == [False, False, True, False]
    # every attempt sends exactly the user's prompt and the session's source image
    assert {c.prompt for c in d.clicks()} == {"a red fox running through snow"}
    assert {c.media_id for c in d.clicks()} == {"img-1"}
    assert d.engine.phase == Phase.ENDED
    assert d.engine.session.is_session_active is False
    assert d.engine.session.last_session_outcome == "success"
    assert [a.outcome for a in d.engine.session.attempt_progress] == ["success", "moderated", "success", "success"]


def test_summary_serializes_with_seed_keys_only():
    d = run_script(["ok"])
    [s] = d.summaries()
    assert list(s.to_dict()) == [
        "outcome", "completedVideos", "videoGoal", "retriesAttempted", "maxRetries",
        "creditsUsed", "layer1Failures", "layer2Failures", "layer3Failures", "endedAt",
    ]
    assert isinstance(s.endedAt, int) and s.endedAt > 1_600_000_000_000


# ------------------------------------------------------------------ retries


def test_retry_exhaustion_ends_failure():
    d = run_script(["mod@10"] * 10, goal=1, retries=2)
    [s] = d.summaries()
    assert s.outcome == "failure"
    assert s.retriesAttempted == 2
    assert s.creditsUsed == 3  # first attempt + 2 retries, all moderated
    assert s.layer1Failures == 3
    assert len(d.clicks()) == 3


def test_retries_do_not_reset_between_videos():
    d = run_script(["mod@30", "ok", "mod@30", "mod@30"], goal=3, retries=2)
    [s] = d.summaries()
    assert s.outcome == "failure"
    assert s.completedVideos == 1
    assert s.retriesAttempted == 2
    assert s.layer2Failures == 3
    assert s.creditsUsed == 4


@pytest.mark.parametrize(
    "percent,layer",
    [(0, 1), (10, 1), (24, 1), (24.9, 1), (25, 2), (40, 2), (87, 2), (87.5, 2), (88, 3), (99, 3), (100, 3)],
)
def test_layer_boundaries(percent, layer):
    assert classify_layer(percent) == layer
    d = Driver(retries=1)
    d.start()
    d.send(ClickSent(1), 0.1)
    if percent:
        d.send(AttemptProgress(percent, 1), 1)
    d.send(VideoModerated(1), 1)
    s = d.engine.session
    assert (s.layer1_failures, s.layer2_failures, s.layer3_failures) == tuple(int(i == layer) for i in (1, 2, 3))
    assert d.engine.current.layer == layer


def test_layer_uses_highest_progress_seen():
    d = Driver()
    d.start()
    d.send(ClickSent(1), 0.1)
    d.send(AttemptProgress(90, 1, "dom"), 1)
    d.send(AttemptProgress(30, 1, "dom"), 1)  # overlay flicker back
    d.send(VideoModerated(1, percent=30), 1)
    assert d.engine.current.max_progress == 90
    assert d.engine.session.layer3_failures == 1


def test_moderation_before_any_progress_is_layer1():
    d = Driver()
    d.start()
    d.send(VideoModerated(1), 0.5)
    assert d.engine.session.layer1_failures == 1


def test_moderation_percent_on_signal_counts():
    d = Driver()
    d.start()
    d.send(VideoModerated(1, percent=60), 3)
    assert d.engine.session.layer2_failures == 1


# ------------------------------------------------------------------ cancellations


def test_rate_limit_cancels_at_once_without_clicks():
    d = Driver(goal=3, retries=5)
    d.start()
    d.play("ok")
    d.wait(30)
    d.play("rate")
    d.wait(600)
    [s] = d.summaries()
    assert s.outcome == "cancelled"
    assert s.completedVideos == 1 and s.creditsUsed == 1
    assert len(d.clicks()) == 2
    assert d.engine.current.outcome == "rate_limited"


def test_rate_limit_during_retry_wait_cancels():
    d = Driver(retries=5)
    d.start()
    d.play("mod@50")
    assert d.engine.phase == Phase.RETRY_WAIT
    d.send(RateLimited(None, "dom"), 1)
    d.wait(60)
    assert len(d.clicks()) == 1
    assert d.summaries()[0].outcome == "cancelled"


def test_timeout_cancels_after_session_timeout():
    d = Driver(session_timeout_s=120)
    d.start()
    d.send(ClickSent(1), 0.1)
    d.send(AttemptProgress(10, 1), 5)
    d.wait(114.8)
    assert d.summaries() == []
    d.wait(0.2)
    [s] = d.summaries()
    assert s.outcome == "cancelled"
    assert d.engine.current.outcome == "timeout"
    assert abs(s.endedAt / 1000 - (T0 + 120)) < 0.01


def test_user_cancel_and_browser_lost():
    d = Driver(goal=2)
    d.start()
    d.play("ok")
    d.send(UserCancel(), 1)
    d.wait(60)
    [s] = d.summaries()
    assert (s.outcome, s.completedVideos, len(d.clicks())) == ("cancelled", 1, 1)

    d2 = Driver()
    d2.start()
    d2.send(BrowserLost("tab closed"), 2)
    assert d2.summaries()[0].outcome == "cancelled"
    assert "browser lost" in d2.summaries()[0].extra["reason"]


def test_click_failure_cancels():
    d = Driver()
    d.start()
    d.send(ClickFailed(1, "generate button not found"), 0.2)
    [s] = d.summaries()
    assert s.outcome == "cancelled" and s.creditsUsed == 0
    assert d.engine.current.outcome == "click_failed"


def test_reset_retries_keeps_session_running():
    d = Driver(retries=2)
    d.start()
    d.play("mod@10")
    d.wait(30)
    d.play("mod@10")
    d.wait(30)
    assert d.engine.session.retry_count == 2
    d.send(ResetRetries(), 1)
    assert d.engine.session.retry_count == 0
    assert d.engine.phase.active
    d.play("mod@10")  # would have ended "failure" without the reset
    assert d.engine.phase == Phase.RETRY_WAIT
    assert d.summaries() == []


# ------------------------------------------------------------------ de-duplication


def test_duplicate_outcome_signals_count_once():
    d = Driver(goal=2, retries=5)
    d.start()
    d.send(ClickSent(1), 0.1)
    d.send(VideoModerated(1, 40, "v1", "network"), 10)
    d.send(VideoModerated(1, None, None, "dom"), 0.3)  # the toast for the same attempt
    d.send(VideoModerated(1, None, None, "store"), 0.5)
    d.send(VideoModerated(1, None, None, "dom"), 1.2)  # toast re-rendered
    s = d.engine.session
    assert s.credits_used == 1 and s.layer2_failures == 1 and s.retry_count == 0
    assert sorted(d.engine.current.sources) == ["dom", "network", "store"]
    d.wait(10)
    d.play("ok")
    d.send(VideoSucceeded(2, None, "dom"), 0.2)
    d.send(VideoSucceeded(2, "vid-2", "store"), 0.2)
    assert s.videos_generated == 1 and s.credits_used == 2


def test_stale_signal_for_previous_attempt_is_ignored():
    d = Driver(goal=3, retries=5, cooldown_s=1)
    d.start()
    d.play("mod@40")
    d.wait(2)
    assert d.engine.current.number == 2
    d.send(VideoModerated(1, None, None, "dom"), 0.1)  # late toast of attempt 1
    assert d.engine.current.outcome == "pending"
    assert d.engine.session.credits_used == 1


def test_anonymous_moderations_within_gap_are_ignored():
    d = Driver(retries=5, cooldown_s=8)
    d.start()
    d.send(VideoModerated(None, None, None, "dom"), 5)
    d.wait(8.5)  # retry fired
    d.send(VideoModerated(None, None, None, "dom"), 0.5)  # 9 s later: counts
    assert d.engine.session.credits_used == 2
    # The seed's 5 s gap holds whatever the cooldown: with a 1 s cooldown, a second signal
    # without an attempt id 1.2 s after the first is the same toast, not the retry's outcome.
    d2 = Driver(retries=5, cooldown_s=1)
    d2.start()
    d2.send(VideoModerated(None, None, None, "dom"), 5)
    d2.wait(1.0)  # retry at +1 s
    assert len(d2.clicks()) == 2
    d2.send(VideoModerated(None, None, None, "dom"), 0.2)  # 1.2 s after the first: ignored
    assert d2.engine.session.credits_used == 1 and d2.engine.current.outcome == "pending"
    assert "within 5 s of the last one ignored" in d2.engine.session.logs[-1].message
    d2.send(VideoModerated(None, None, None, "dom"), 3.9)  # 5.1 s after the first: counts
    assert d2.engine.session.credits_used == 2 and d2.engine.current.outcome == "moderated"


def test_signals_with_an_attempt_id_are_deduplicated_per_attempt_not_by_the_gap():
    d = Driver(retries=5, cooldown_s=1)
    d.start()
    d.send(VideoModerated(1, None, None, "dom"), 5)
    d.wait(1.0)
    d.send(VideoModerated(1, None, None, "dom"), 0.1)  # attempt 1 again: a duplicate
    assert d.engine.session.credits_used == 1
    d.send(VideoModerated(2, None, None, "dom"), 0.1)  # attempt 2, 1.2 s after attempt 1's: counts
    assert d.engine.session.credits_used == 2 and d.engine.current.outcome == "moderated"


def test_the_anonymous_gap_counts_from_any_counted_moderation():
    # attempt 1's moderation came with its id; a signal without one 1.2 s later (a re-shown
    # toast the link could not place) does not resolve the retry: the seed's 5 s between callbacks
    d = Driver(retries=5, cooldown_s=1)
    d.start()
    d.send(VideoModerated(1, 40, "v1", "network"), 5)
    d.wait(1.0)
    d.send(VideoModerated(None, None, None, "dom"), 0.2)
    assert d.engine.current.number == 2 and d.engine.current.outcome == "pending"
    assert any("within 5 s of the last one ignored" in ln.message for ln in d.engine.session.logs)
    d.send(VideoModerated(None, None, None, "dom"), 4.0)  # 5.2 s after attempt 1's: counts
    assert d.engine.current.outcome == "moderated"


# ------------------------------------------------------------------ cooldown


def test_retry_fires_exactly_when_cooldown_ends():
    d = Driver(retries=5, cooldown_s=8)
    d.start()
    d.send(ClickSent(1), 0.1)
    d.send(VideoModerated(1, 40), 20)
    moderated_at = d.now
    assert d.engine.next_deadline() == moderated_at + 8
    d.wait(7.999)
    assert len(d.clicks()) == 1
    d.wait(0.001)
    assert len(d.clicks()) == 2
    assert d.click_times()[1] == at(moderated_at + 8)
    assert d.clicks()[1].is_retry and d.engine.session.retry_count == 1


def test_next_video_after_delay_with_same_prompt_and_image():
    d = Driver(goal=2, next_video_delay_s=8)
    d.start(prompt='"quoted" é 日本 🎬', media="img-42")
    d.play("ok")
    t_ok = d.now
    d.send(ClickSent(1), 0)  # late duplicate confirmation: ignored
    d.wait(8)
    assert d.click_times()[1] == at(t_ok + 8)
    assert d.clicks()[1].prompt == '"quoted" é 日本 🎬'
    assert d.clicks()[1].media_id == "img-42"


def test_click_during_cooldown_is_deferred_and_replaced():
    # A fast moderation (1 s after the click) with a 0 s retry wait: the click must still
    # wait for the cooldown since the previous click.
    d = Driver(retries=5, cooldown_s=8)
    d.start()
    d.send(ClickSent(1), 0)
    first_click = d.now
    d.engine.persistent.auto_retry_enabled = False
    d.send(VideoModerated(1, 0), 1)
    assert d.engine.phase == Phase.MANUAL_WAIT
    d.send(RetryNow(), 0.5)  # asked during the cooldown: deferred to its end
    assert len(d.clicks()) == 1
    deadline = d.engine.next_deadline()
    d.send(SetAutoRetry(True), 0.5)  # second request replaces the first, never queues
    assert d.engine.next_deadline() == deadline == at(first_click + 9)  # moderation + 8
    d.wait(20)
    assert len(d.clicks()) == 2


def test_start_defers_first_click_to_previous_cooldown():
    d = Driver(cooldown_s=8)
    d.start()
    d.send(ClickSent(1), 0)
    clicked = d.now
    d.send(UserCancel(), 1)
    d.send(StartSession("again", media_id="m"), 1)
    assert len(d.clicks()) == 1
    assert d.engine.next_deadline() == at(clicked + 8)
    d.wait(10)
    assert len(d.clicks()) == 2
    assert d.click_times()[1] - clicked >= 8


def test_auto_retry_off_waits_for_user():
    d = Driver(retries=5, auto=False, cooldown_s=2)
    d.start()
    d.play("mod@30")
    d.wait(60)
    assert len(d.clicks()) == 1 and d.engine.phase == Phase.MANUAL_WAIT
    d.send(RetryNow(), 0)
    assert len(d.clicks()) == 2


# ------------------------------------------------------------------ refusals and caps


def test_refusals():
    d = Driver()
    assert any(isinstance(c, Refused) for c in d.send(UserCancel()))
    assert any(isinstance(c, Refused) for c in d.send(StartSession("   ")))
    assert any(isinstance(c, Refused) for c in d.send(StartSession("x", video_goal=51)))
    d.start()
    out = d.send(StartSession("again"))
    assert any(isinstance(c, Refused) for c in out)
    assert len(d.clicks()) == 1
    assert any(isinstance(c, Refused) for c in d.send(Configure(max_retries=0)))


def test_caps_logs_and_attempt_records():
    d = Driver(goal=50, retries=50, cooldown_s=0.1, next_video_delay_s=0.1)
    d.start()
    for n in range(1, 41):
        d.play("ok", took=1)
        d.send(VideoSucceeded(n, None, "dom"), 0.01)  # duplicates are logged too
        d.send(VideoSucceeded(n, None, "store"), 0.01)
        d.wait(0.2)
    s = d.engine.session
    assert s.videos_generated == 40
    assert len(s.attempt_progress) == 25
    # attempt 41 (the next video) is already out; the oldest records were dropped
    assert s.attempt_progress[-1].number == 41 and s.attempt_progress[0].number == 17
    assert len(s.logs) == 200
    assert "attempt 41" in s.logs[-1].message  # the newest line is kept, the oldest dropped
    assert "session started" not in s.logs[0].message


def test_title_follows_progress():
    d = Driver(goal=3, retries=5)
    d.start()
    d.play("ok")
    titles = [c.text for c in d.commands if isinstance(c, SetTitle)]
    assert titles[-1] == "🎬 1/3 · 🔄 0/5"


def test_configure_goal_down_ends_session_in_next_video_wait():
    d = Driver(goal=3)
    d.start()
    d.play("ok")
    assert d.engine.phase == Phase.NEXT_VIDEO
    d.send(Configure(video_goal=1), 1)
    [s] = d.summaries()
    assert s.outcome == "success" and s.completedVideos == 1 and s.videoGoal == 1


# ------------------------------------------------------------------ exact to the seed (issue 10)


def test_lowered_max_retries_stops_an_already_scheduled_retry():
    # max 3, two moderations, max lowered to 1 during the cooldown: no third click.
    d = Driver(retries=3, cooldown_s=8)
    d.start()
    d.play("mod@10")
    d.wait(8)  # retry 1 goes out
    d.play("mod@10")
    assert d.engine.phase == Phase.RETRY_WAIT and d.engine.session.retry_count == 1
    d.send(Configure(max_retries=1), 2)
    d.wait(60)
    assert len(d.clicks()) == 2
    [s] = d.summaries()
    assert (s.outcome, s.retriesAttempted, s.maxRetries) == ("failure", 1, 1)


def test_lowered_max_retries_with_auto_retry_off_ends_instead_of_waiting():
    d = Driver(retries=3, auto=False, cooldown_s=2)
    d.start()
    d.play("mod@10")
    assert d.engine.phase == Phase.MANUAL_WAIT
    d.send(RetryNow(), 5)
    d.play("mod@10")
    d.send(Configure(max_retries=1), 1)
    d.send(RetryNow(), 1)
    d.wait(30)
    assert len(d.clicks()) == 2
    [s] = d.summaries()
    assert (s.outcome, s.retriesAttempted, s.maxRetries) == ("failure", 1, 1)


def test_max_retries_below_the_retries_made_is_refused():
    d = Driver(retries=3, cooldown_s=1)
    d.start()
    for _ in range(2):
        d.play("mod@10")
        d.wait(1)
    assert d.engine.session.retry_count == 2
    out = d.send(Configure(max_retries=1), 1)
    assert [c.message for c in out if isinstance(c, Refused)] == [
        "max_retries cannot go below the 2 retries this session has already made."
    ]
    assert d.engine.persistent.max_retries == 3


def test_refused_configure_changes_nothing():
    d = Driver(retries=3, goal=2)
    d.start()
    out = d.send(Configure(max_retries=10, video_goal=5, prompt="new"), 1)
    assert any(isinstance(c, Refused) for c in out)
    p = d.engine.persistent
    assert (p.max_retries, p.video_goal, p.last_prompt_value) == (3, 2, "a red fox running through snow")
    out = d.send(Configure(max_retries=10, video_goal=0), 1)  # one bad value: the good one is not applied
    assert any(isinstance(c, Refused) for c in out) and p.max_retries == 3


def test_late_click_sent_for_a_resolved_attempt_changes_nothing():
    d = Driver(retries=5, cooldown_s=8)
    d.start()
    d.send(VideoModerated(1, 0), 1.0)  # moderated before its ClickSent was handled
    moderated_at = d.now
    deadline = d.engine.next_deadline()
    assert deadline == at(moderated_at + 8)
    d.send(ClickSent(1), 2.5)  # late confirmation, 2.5 s later
    assert d.engine.next_deadline() == deadline
    assert d.engine.last_click_time == T0
    d.wait(10)
    assert d.click_times()[1] == at(moderated_at + 8)


def test_repeated_click_sent_does_not_move_the_pacing_clock():
    d = Driver(goal=2, next_video_delay_s=8, cooldown_s=8)
    d.start()
    d.send(ClickSent(1), 0.1)
    d.send(ClickSent(1), 3.0)  # a second confirmation of the same click
    assert d.engine.last_click_time == at(T0 + 0.1)
    d.send(VideoSucceeded(1, "v1"), 1.0)
    t_ok = d.now
    d.wait(20)
    assert d.click_times()[1] == at(t_ok + 8)


def test_the_video_group_is_the_posts_of_the_sessions_videos_whatever_the_tab_does():
    d = Driver(goal=2, retries=5, cooldown_s=1, next_video_delay_s=1)
    d.start()
    # the previous session's video post, reached late (the tab moved there after that session ended)
    d.send(RouteChanged("post-of-an-older-video"), 0.1)
    n = d.engine.current.number
    d.send(ClickSent(n), 0.05)
    d.send(VideoSucceeded(n, "vid-1", "dom"), 5)  # the page's signal names no post
    d.send(VideoSucceeded(n, "vid-1", "network", post_id="post-1"), 0.01)  # the stream's does
    d.send(RouteChanged("post-1"), 0.3)
    d.send(RouteChanged("somewhere-else"), 0.3)  # the user looks elsewhere meanwhile
    d.wait(1)
    d.play("ok")
    assert d.engine.phase == Phase.ENDED and d.engine.session.last_session_outcome == "success"
    # its route change comes after the session ended, and would not matter before it either
    d.send(RouteChanged("post-of-vid-2"), 0.3)
    assert d.engine.persistent.video_group == ["post-1", "post-of-vid-2"]


def test_reset_between_sessions_is_the_seeds_reset_state():
    d = Driver(goal=3, retries=5, cooldown_s=1, next_video_delay_s=1)
    d.start()
    d.play("ok")
    d.send(RouteChanged("post-of-vid-1"), 0.1)  # Grok moves the tab to the new video's post
    d.wait(1)
    d.play("mod@40")
    d.send(UserCancel(), 0.2)
    assert d.engine.phase == Phase.ENDED and d.engine.session.credits_used == 2
    assert d.engine.persistent.video_group == ["post-of-vid-1"]
    d.send(ResetRetries(), 1)
    e, s = d.engine, d.engine.session
    assert e.phase == Phase.IDLE and not s.is_session_active
    assert (s.retry_count, s.videos_generated, s.credits_used) == (0, 0, 0)
    assert (s.layer1_failures, s.layer2_failures, s.layer3_failures) == (0, 0, 0)
    assert list(s.attempt_progress) == [] and s.last_session_outcome == "idle"
    assert e.persistent.video_group == []
    assert e.current is None and e.next_deadline() is None
    # settings are kept; a new session starts from attempt 1
    assert (e.persistent.video_goal, e.persistent.max_retries) == (3, 5)
    d.start()
    assert d.clicks()[-1].attempt == 1


def test_reset_during_a_session_resets_only_the_retry_counter():
    d = Driver(goal=2, retries=5, cooldown_s=1)
    d.start()
    d.play("ok")
    d.wait(10)
    d.play("mod@40")
    d.send(ResetRetries(), 0.1)
    s = d.engine.session
    assert d.engine.phase == Phase.RETRY_WAIT
    assert (s.retry_count, s.videos_generated, s.credits_used) == (0, 1, 2)


def test_signal_from_the_previous_session_is_ignored():
    d = Driver(goal=1, retries=5)
    d.start()
    first = d.clicks()[0].session
    d.send(UserCancel(), 1)
    d.send(StartSession("again", media_id="m2"), 10)
    second = d.clicks()[-1]
    assert (second.attempt, second.session) == (1, first + 1)
    # session 1's attempt 1 succeeds late: it must not end session 2
    d.send(ClickSent(1, session=first), 0.1)
    d.send(AttemptProgress(80, 1, session=first), 0.1)
    d.send(VideoSucceeded(1, "old-video", "network", session=first), 0.1)
    d.send(VideoModerated(1, 50, "old-video", "store", session=first), 0.1)
    assert d.summaries()[-1].extra["reason"] == "cancelled by user"
    a = d.engine.current
    assert (a.outcome, a.max_progress, a.clicked_at) == ("pending", 0.0, None)
    assert d.engine.phase.active and d.engine.session.credits_used == 0
    stale = [ln for ln in d.engine.session.logs if "of session 1 ignored" in ln.message]
    assert len(stale) == 4 and {ln.level for ln in stale} == {"DEBUG"}
    d.send(ClickSent(1, session=second.session), 0.1)
    d.send(VideoSucceeded(1, "new-video", "network", session=second.session), 5)
    assert d.summaries()[-1].outcome == "success" and a.video_id == "new-video"


def test_rate_limit_tagged_with_an_old_session_still_stops():
    d = Driver(retries=5)
    d.start()
    d.send(UserCancel(), 1)
    d.send(StartSession("again"), 10)
    d.send(RateLimited(1, "network", session=1), 0.5)
    assert d.summaries()[-1].outcome == "cancelled" and d.engine.current.outcome == "rate_limited"


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_progress_is_dropped(bad):
    d = Driver(retries=5)
    d.start()
    d.send(ClickSent(1), 0.1)
    d.send(AttemptProgress(10, 1), 1)
    d.send(AttemptProgress(bad, 1), 1)
    assert d.engine.current.max_progress == 10
    d.send(VideoModerated(1, bad), 1)
    a = d.engine.current
    assert (a.max_progress, a.layer) == (10, 1)
    assert d.engine.session.layer1_failures == 1


def test_restore_loads_stored_settings_between_sessions_only():
    d = Driver(goal=1, retries=3)
    stored = PersistentData(
        max_retries=7, auto_retry_enabled=False, last_prompt_value="stored prompt", video_goal=4,
        video_group=["p1", "p2"], original_media_id="img-9",
    )
    d.send(Restore(stored))
    assert d.engine.persistent == stored and d.engine.persistent is not stored
    d.start()
    out = d.send(Restore(PersistentData(max_retries=1)), 1)
    assert any(isinstance(c, Refused) for c in out)
    assert d.engine.persistent.max_retries == 7
