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
    RetryNow,
    SessionEnded,
    SetAutoRetry,
    SetTitle,
    StartSession,
    UserCancel,
    VideoModerated,
    VideoSucceeded,
)

T0 = 1_700_000_000.0


class Driver:
    """Feeds an engine and keeps every command it returned."""

    def __init__(self, goal=1, retries=3, auto=True, **timings):
        self.engine = SessionEngine(
            PersistentData(max_retries=retries, video_goal=goal, auto_retry_enabled=auto), Timings(**timings)
        )
        self.now = T0
        self.commands: list = []

    def send(self, event, dt: float = 0.0):
        self.now += dt
        out = self.engine.handle(event, self.now)
        self.commands += out
        return out

    def wait(self, dt: float):
        """Advance the clock by dt, firing deadlines at their exact times."""
        end = self.now + dt
        while (d := self.engine.next_deadline()) is not None and d <= end:
            self.now = max(self.now, d)
            self.commands += self.engine.advance(self.now)
        self.now = end
        self.commands += self.engine.advance(self.now)

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
            self.send(VideoSucceeded(n, f"vid-{n}"), took / 2)
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
        "endedAt": summary.endedAt,
    }
    assert summary.endedAt == int(round(d.now * 1000)) or summary.endedAt < int(d.now * 1000)
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
    d2 = Driver(retries=5, cooldown_s=1)
    d2.start()
    d2.send(VideoModerated(None, None, None, "dom"), 5)
    d2.wait(1.0)  # retry at +1 s
    d2.send(VideoModerated(None, None, None, "dom"), 0.2)  # 1.2 s later, gap min(5, cooldown)=1 -> counts
    assert d2.engine.session.credits_used == 2


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
    assert d.click_times()[1] == pytest.approx(moderated_at + 8)
    assert d.clicks()[1].is_retry and d.engine.session.retry_count == 1


def test_next_video_after_delay_with_same_prompt_and_image():
    d = Driver(goal=2, next_video_delay_s=8)
    d.start(prompt='"quoted" é 日本 🎬', media="img-42")
    d.play("ok")
    t_ok = d.now
    d.send(ClickSent(1), 0)  # late duplicate confirmation: ignored
    d.wait(8)
    assert d.click_times()[1] == pytest.approx(t_ok + 8)
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
    assert d.engine.next_deadline() == deadline == pytest.approx(first_click + 9)  # moderation + 8
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
    assert d.engine.next_deadline() == pytest.approx(clicked + 8)
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
