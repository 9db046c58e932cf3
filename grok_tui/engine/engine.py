"""The session engine: the seed's lifecycle as a pure state machine.

Events in (`handle`), commands out, time passed in. The engine never reads a
clock, sleeps, or does I/O: whoever drives it calls `advance(now)` when
`next_deadline()` comes due, so a retry fires exactly when its cooldown ends.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .events import (
    AttemptProgress,
    BrowserLost,
    ClickFailed,
    ClickMakeVideo,
    ClickSent,
    Command,
    Configure,
    Event,
    LogLine,
    OptionsBlocked,
    Outcome,
    PromptBlocked,
    RateLimited,
    Refused,
    ResetRetries,
    Restore,
    RetryNow,
    RouteChanged,
    SessionEnded,
    SessionSummary,
    SetAutoRetry,
    SetTimings,
    SetTitle,
    StartSession,
    UserCancel,
    VideoModerated,
    VideoSucceeded,
)
from .health import SignalHealth
from .state import (
    LAYER_NAMES,
    OUTCOME_MARKS,
    AttemptRecord,
    PersistentData,
    Phase,
    SessionData,
    check_limit,
    classify_layer,
)
from .state import short_id as _short

# The seed's guard for moderation signals that carry no attempt identity.
MIN_MODERATION_GAP_S = 5.0


@dataclass(frozen=True)
class Timings:
    cooldown_s: float = 8.0
    next_video_delay_s: float = 8.0
    session_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        for name in ("cooldown_s", "next_video_delay_s", "session_timeout_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative.")


@dataclass
class _PendingClick:
    due: float
    is_retry: bool
    reason: str


class SessionEngine:
    def __init__(self, persistent: PersistentData | None = None, timings: Timings | None = None) -> None:
        self.persistent = persistent or PersistentData()
        self.timings = timings or Timings()
        self.session = SessionData()
        self.phase = Phase.IDLE
        self.prompt = ""
        self.post_id: str | None = None
        self.attempt_no = 0
        self.current: AttemptRecord | None = None
        self.last_click_time: float | None = None
        self.started_at: float | None = None
        self.session_no = 0  # tags every attempt's ClickMakeVideo; +1 per session
        self._pending: _PendingClick | None = None
        self._timeout_at: float | None = None
        self._last_moderation_at: float | None = None
        self._held_is_retry: bool | None = None  # a request held back by the options guard, waiting for the user
        self.health = SignalHealth()  # which sources report the resolved attempts (the page's, across sessions)
        self._judged: AttemptRecord | None = None
        self._out: list[Command] = []
        self._now = 0.0

    # ------------------------------------------------------------ public API

    def handle(self, event: Event, now: float) -> list[Command]:
        """Apply one event that happened at `now` (epoch seconds); return the commands it causes."""
        self._now = now
        self._fire_due(now)
        match event:
            case StartSession():
                self._on_StartSession(event)
            case ClickSent():
                self._on_ClickSent(event)
            case ClickFailed():
                self._on_ClickFailed(event)
            case AttemptProgress():
                self._on_AttemptProgress(event)
            case VideoSucceeded():
                self._on_VideoSucceeded(event)
            case VideoModerated():
                self._on_VideoModerated(event)
            case RateLimited():
                self._on_RateLimited(event)
            case UserCancel():
                self._on_UserCancel(event)
            case BrowserLost():
                self._on_BrowserLost(event)
            case ResetRetries():
                self._on_ResetRetries(event)
            case RetryNow():
                self._on_RetryNow(event)
            case SetAutoRetry():
                self._on_SetAutoRetry(event)
            case Configure():
                self._on_Configure(event)
            case Restore():
                self._on_Restore(event)
            case SetTimings():
                self._on_SetTimings(event)
            case RouteChanged():
                self._on_RouteChanged(event)
            case OptionsBlocked():
                self._on_OptionsBlocked(event)
            case PromptBlocked():
                self._on_PromptBlocked(event)
            case _:
                raise TypeError(f"unknown event {event!r} (not one of grok_tui.engine.events.Event)")
        return self._flush()

    def advance(self, now: float) -> list[Command]:
        """Time passes: fire every deadline that is due at `now`."""
        self._now = now
        self._fire_due(now)
        return self._flush()

    def next_deadline(self) -> float | None:
        """The earliest time at which `advance` has something to do."""
        times = [t for t in (self._pending.due if self._pending else None, self._timeout_at) if t is not None]
        return min(times) if times else None

    @property
    def planned_click(self) -> float | None:
        """When the next click is due while it waits for its cooldown (a retry, the next video), else None.

        The link may get that click ready meanwhile; the engine still decides when it happens.
        """
        return self._pending.due if self._pending is not None and self.phase.active else None

    @property
    def held_for_options(self) -> bool:
        """A request was held back by the options guard; the user sets them back and retries."""
        return self.phase == Phase.MANUAL_WAIT and self._held_is_retry is not None

    @property
    def next_action(self) -> tuple[str, float] | None:
        """What happens next and when, for the UI ("retry 2/5", at t)."""
        if self._pending:
            if self._pending.is_retry:
                label = f"retry {self.session.retry_count + 1}/{self.persistent.max_retries}"
            elif self.attempt_no == 0 or self.phase == Phase.IDLE:
                label = "first attempt"
            else:
                label = f"video {self.session.videos_generated + 1}/{self.persistent.video_goal}"
            return label, self._pending.due
        if self._timeout_at is not None:
            return "timeout", self._timeout_at
        return None

    # ------------------------------------------------------------ user events

    def _on_StartSession(self, ev: StartSession) -> None:
        if self.phase.active:
            self._refuse("A session is already running; cancel it first.")
            return
        prompt = ev.prompt if ev.prompt is not None else ""
        if not prompt.strip():
            self._refuse("The prompt is empty; type or capture a prompt before starting.")
            return
        if not self._limits_ok(ev.video_goal, ev.max_retries):
            return
        p = self.persistent
        self.session_no += 1
        if ev.video_goal is not None:
            p.video_goal = ev.video_goal
        if ev.max_retries is not None:
            p.max_retries = ev.max_retries
        p.last_prompt_value = prompt  # stored exactly as given
        p.original_media_id = ev.media_id
        p.video_group = []
        self.prompt = prompt
        self.post_id = ev.post_id
        self._judge(self.current)  # the last session's last attempt: its late signals are in by now
        logs = self.session.logs
        logs.clear()
        self.session = SessionData(logs=logs)
        s = self.session
        s.is_session_active = True
        s.last_session_outcome = "pending"
        self.attempt_no = 0
        self.current = None
        self.started_at = self._now
        self._timeout_at = None
        self._last_moderation_at = None
        self._held_is_retry = None
        self.phase = Phase.CLICKING  # until the first click is out or deferred
        self._log(
            "INFO",
            f"session started: goal {p.video_goal} video(s), up to {p.max_retries} retries, "
            f"auto-retry {'on' if p.auto_retry_enabled else 'off'}, image {_short(ev.media_id)}",
        )
        self._request_click(is_retry=False, reason="first attempt")  # overridePermit = true
        self._title()

    def _on_UserCancel(self, ev: UserCancel) -> None:
        if not self.phase.active:
            self._refuse("No session is running.")
            return
        self._end("cancelled", ev.reason, attempt_outcome="cancelled")

    def _on_BrowserLost(self, ev: BrowserLost) -> None:
        if not self.phase.active:
            self._log("WARN", f"browser lost: {ev.reason}")
            return
        self._end("cancelled", f"browser lost: {ev.reason}", attempt_outcome="cancelled")

    def _on_ResetRetries(self, ev: ResetRetries) -> None:
        if not self.phase.active:
            self._reset_state()
            return
        before = self.session.retry_count
        self.session.retry_count = 0
        self._log("INFO", f"retry counter reset ({before} -> 0)")
        self._title()

    def _reset_state(self) -> None:
        """The seed's ResetState: Idle, session counters 0, video group empty (logs are kept)."""
        logs = self.session.logs
        self.session = SessionData(logs=logs)
        self.persistent.video_group = []
        self.phase = Phase.IDLE
        self.current = None
        self.attempt_no = 0
        self.started_at = None
        self._pending = None
        self._timeout_at = None
        self._last_moderation_at = None
        self._log("INFO", "reset: idle, session counters 0, video group cleared")
        self._title()

    def _on_RetryNow(self, ev: RetryNow) -> None:
        if self.phase != Phase.MANUAL_WAIT:
            self._refuse("Nothing to retry: no moderated attempt is waiting.")
            return
        if self._held_is_retry is not None:  # the user has set the options back: send it again
            is_retry, self._held_is_retry = self._held_is_retry, None
            self.phase = Phase.RETRY_WAIT if is_retry else Phase.NEXT_VIDEO
            self._request_click(is_retry=is_retry, reason="resume after the options were set back")
            self._title()
            return
        self._schedule_retry()

    def _on_SetAutoRetry(self, ev: SetAutoRetry) -> None:
        p = self.persistent
        p.auto_retry_enabled = (not p.auto_retry_enabled) if ev.enabled is None else ev.enabled
        self._log("INFO", f"auto-retry {'on' if p.auto_retry_enabled else 'off'}")
        if p.auto_retry_enabled and self.phase == Phase.MANUAL_WAIT and self._held_is_retry is None:
            self._schedule_retry()
        elif not p.auto_retry_enabled and self.phase == Phase.RETRY_WAIT:
            self._pending = None
            self.phase = Phase.MANUAL_WAIT
            self._log("INFO", "retry held: auto-retry is off (retry by hand or turn it on)")

    def _on_Configure(self, ev: Configure) -> None:
        """All or nothing: a refused Configure changes nothing."""
        p, s = self.persistent, self.session
        if not self._limits_ok(ev.video_goal, ev.max_retries):
            return
        if self.phase.active:
            if ev.prompt is not None:
                self._refuse("The prompt cannot change during a session; it applies to the next one.")
                return
            if ev.max_retries is not None and ev.max_retries < s.retry_count:
                self._refuse(
                    f"max_retries cannot go below the {s.retry_count} retries this session has already made."
                )
                return
            if ev.video_goal is not None and ev.video_goal < s.videos_generated:
                self._refuse(
                    f"video_goal cannot go below the {s.videos_generated} videos this session has already made."
                )
                return
        if ev.max_retries is not None:
            p.max_retries = ev.max_retries
        if ev.video_goal is not None:
            p.video_goal = ev.video_goal
        if ev.prompt is not None:
            p.last_prompt_value = ev.prompt
        self._title()
        if self.phase == Phase.NEXT_VIDEO and s.videos_generated >= p.video_goal:
            self._end("success", "video goal reached")
        elif self.phase in (Phase.RETRY_WAIT, Phase.MANUAL_WAIT) and s.retry_count >= p.max_retries:
            self._log("WARN", f"max retries lowered to {p.max_retries}: the waiting retry is not made")
            self._end("failure", "max retries reached")

    def _limits_ok(self, video_goal: int | None, max_retries: int | None) -> bool:
        """Both limits (those given) are in range; else the first that is not is refused, in one sentence."""
        try:
            if video_goal is not None:
                check_limit("video_goal", video_goal)
            if max_retries is not None:
                check_limit("max_retries", max_retries)
        except ValueError as exc:
            self._refuse(str(exc))
            return False
        return True

    def _on_Restore(self, ev: Restore) -> None:
        if self.phase.active:
            self._refuse("Stored settings cannot be loaded during a session.")
            return
        data = ev.persistent
        if not self._limits_ok(data.video_goal, data.max_retries):
            return
        self.persistent = replace(data, video_group=list(data.video_group))
        self._log(
            "DEBUG",
            f"stored settings loaded: goal {data.video_goal}, max retries {data.max_retries}, "
            f"auto-retry {'on' if data.auto_retry_enabled else 'off'}, image {_short(data.original_media_id)}",
        )
        self._title()

    def _on_SetTimings(self, ev: SetTimings) -> None:
        if ev.timings == self.timings:
            return
        self.timings = t = ev.timings
        if ev.note:
            self._log("WARN", ev.note)
        else:
            self._log("DEBUG", f"pacing: cooldown {t.cooldown_s:g} s, next video {t.next_video_delay_s:g} s, timeout {t.session_timeout_s:g} s")

    def _on_RouteChanged(self, ev: RouteChanged) -> None:
        if ev.post_id == self.post_id:
            return
        self.post_id = ev.post_id
        self._log(
            "DEBUG",
            f"route changed to post {_short(ev.post_id)}; session image stays {_short(self.persistent.original_media_id)}",
        )

    # ------------------------------------------------------------ browser events

    def _on_ClickSent(self, ev: ClickSent) -> None:
        a = self.current
        if self._stale(ev, "click confirmation"):
            return
        if a is None or ev.attempt != a.number or not self.phase.active or a.resolved or a.clicked_at is not None:
            # A late or repeated confirmation changes nothing (above all not the pacing clock).
            self._log("DEBUG", f"click confirmation for attempt {ev.attempt} ignored (not in flight)")
            return
        a.clicked_at = self._now
        self.last_click_time = self._now
        if self.phase == Phase.CLICKING:
            self.phase = Phase.DETECTING
        detail = f" ({ev.detail})" if ev.detail else ""
        self._log("INFO", f"attempt {a.number} clicked{detail}")

    def _on_ClickFailed(self, ev: ClickFailed) -> None:
        a = self.current
        if self._stale(ev, "click failure"):
            return
        if a is None or ev.attempt != a.number or not self.phase.active or a.resolved:
            return
        self._end("cancelled", f"attempt {a.number} could not be started: {ev.reason}", attempt_outcome="click_failed")

    def _held_back(self, ev: OptionsBlocked | PromptBlocked):
        """The current attempt, if `ev` says the browser held its request back (then marked blocked: it spent
        no credit, and a retry used none); None when `ev` is not about it."""
        a = self.current
        if a is None or ev.attempt != a.number or not self.phase.active or a.resolved:
            return None
        a.outcome = "blocked"
        a.ended_at = self._now
        self._timeout_at = None
        if a.is_retry:  # the retry never left the browser: no credit, no retry used
            self.session.retry_count = max(0, self.session.retry_count - 1)
        return a

    def _on_OptionsBlocked(self, ev: OptionsBlocked) -> None:
        a = self._held_back(ev)
        if a is None:
            return
        what = f"attempt {a.number} not sent: the generation options changed ({ev.changes})"
        if not ev.pause:
            self._end("cancelled", what, attempt_outcome="blocked", code="options_changed")
            return
        self._held_is_retry = a.is_retry
        self.phase = Phase.MANUAL_WAIT
        self._log("WARN", f"{what} — session paused: set them back on the page, then press s")
        self._title()

    def _on_PromptBlocked(self, ev: PromptBlocked) -> None:
        if self._stale(ev, "blocked request"):
            return
        a = self._held_back(ev)
        if a is None:
            return
        self._end("cancelled", f"attempt {a.number} not sent: its request did not carry the session's prompt "
                               f"({ev.what})", attempt_outcome="blocked", code="prompt_changed")

    def _on_AttemptProgress(self, ev: AttemptProgress) -> None:
        pct = _finite(ev.percent)
        if pct is None:
            self._log("DEBUG", f"progress {ev.percent!r} via {ev.source} ignored (not a number)")
            return
        if self._stale(ev, "progress"):
            return
        a = self._target(ev.attempt)
        if a is None or a.resolved:
            return
        pct = max(0.0, min(100.0, pct))
        a.progress_seen = True
        if pct > a.max_progress:
            a.max_progress = pct
        if a.outcome == "pending":
            a.outcome = "running"

    def _on_VideoSucceeded(self, ev: VideoSucceeded) -> None:
        if self._stale(ev, "success"):
            return
        a = self._target(ev.attempt)
        if a is None:
            return
        if a.resolved:
            self._duplicate(a, "success", ev.source)
            if a.outcome == "success":
                self._group(ev.post_id)  # the first signal may not have named the video's post
            return
        s, p = self.session, self.persistent
        self._group(ev.post_id)
        a.outcome = "success"
        a.max_progress = 100.0
        a.video_id = ev.video_id
        a.ended_at = self._now
        a.sources.append(ev.source)
        s.videos_generated += 1
        s.credits_used += 1
        self._timeout_at = None
        took = a.ended_at - a.started_at
        if s.videos_generated >= p.video_goal:
            self._log("INFO", f"attempt {a.number} succeeded (video {_short(ev.video_id)}, {took:.0f} s, via {ev.source}) — {s.videos_generated}/{p.video_goal}")
            self._end("success", "video goal reached")
            return
        delay = self.timings.next_video_delay_s
        self._log(
            "INFO",
            f"attempt {a.number} succeeded (video {_short(ev.video_id)}, {took:.0f} s, via {ev.source}) — "
            f"{s.videos_generated}/{p.video_goal}, next video in {delay:g} s",
        )
        self.phase = Phase.NEXT_VIDEO
        self._request_click(is_retry=False, reason="next video", not_before=self._now + delay)
        self._title()

    def _on_VideoModerated(self, ev: VideoModerated) -> None:
        if self._stale(ev, "moderation"):
            return
        if ev.attempt is None:
            # No attempt identity: the seed's guard (5 s since the last moderation counted,
            # whatever the cooldown and whichever signal counted it).
            last = self._last_moderation_at
            gap = MIN_MODERATION_GAP_S
            if last is not None and self._now - last < gap:
                self._log("DEBUG", f"moderation signal via {ev.source} within {gap:g} s of the last one ignored")
                return
        a = self._target(ev.attempt)
        if a is None:
            return
        if a.resolved:
            self._duplicate(a, "moderation", ev.source)
            return
        self._last_moderation_at = self._now
        s, p = self.session, self.persistent
        on_signal = _finite(ev.percent) if ev.percent is not None else None
        seen = max(a.max_progress, on_signal if on_signal is not None else 0.0)
        a.max_progress = max(0.0, min(100.0, seen))
        layer = classify_layer(a.max_progress)
        a.outcome = "moderated"
        a.layer = layer
        a.ended_at = self._now
        a.sources.append(ev.source)
        a.video_id = ev.video_id
        setattr(s, f"layer{layer}_failures", s.layer_failures(layer) + 1)
        s.credits_used += 1
        s.can_retry = True
        s.last_failure_time = self._now
        self._timeout_at = None
        what = f"attempt {a.number} moderated at {a.max_progress:.0f} % (layer {layer}: {LAYER_NAMES[layer]}, via {ev.source})"
        if s.retry_count >= p.max_retries:
            self._log("WARN", f"{what} — no retries left ({s.retry_count}/{p.max_retries})")
            self._end("failure", "max retries reached")
            return
        if s.videos_generated >= p.video_goal:  # the seed's scheduler check
            self._log("WARN", what)
            self._end("success", "video goal reached")
            return
        if p.auto_retry_enabled:
            self._log(
                "WARN",
                f"{what} — retry {s.retry_count + 1}/{p.max_retries} in {self.timings.cooldown_s:g} s",
            )
            self._schedule_retry()
        else:
            self.phase = Phase.MANUAL_WAIT
            self._log("WARN", f"{what} — auto-retry is off: retry by hand or turn it on")
        self._title()

    def _on_RateLimited(self, ev: RateLimited) -> None:
        if not self.phase.active:
            level = "DEBUG" if self.phase == Phase.ENDED else "WARN"
            self._log(level, f"rate limit seen via {ev.source} while no session runs")
            return
        a = self.current
        if a is not None and not a.resolved:
            a.sources.append(ev.source)
        detail = f": {ev.detail}" if ev.detail else ""
        self._end("cancelled", f"rate limit reached (via {ev.source}{detail}); not retrying", attempt_outcome="rate_limited")

    # ------------------------------------------------------------ internals

    def _fire_due(self, now: float) -> None:
        # Deadlines fire in time order; at most one of each kind is pending.
        while True:
            due = self.next_deadline()
            if due is None or due > now:
                return
            if self._timeout_at is not None and self._timeout_at == due:
                self._timeout_at = None
                a = self.current
                self._end(
                    "cancelled",
                    f"no outcome for attempt {a.number if a else '?'} within {self.timings.session_timeout_s:g} s",
                    attempt_outcome="timeout",
                )
            elif self._pending is not None:
                pending, self._pending = self._pending, None
                self._click(pending.is_retry, pending.reason)

    def _schedule_retry(self) -> None:
        base = self.session.last_failure_time if self.session.last_failure_time is not None else self._now
        self.phase = Phase.RETRY_WAIT
        self._request_click(is_retry=True, reason="retry", not_before=base + self.timings.cooldown_s)

    def _request_click(self, *, is_retry: bool, reason: str, not_before: float | None = None) -> None:
        """Click now if the cooldown allows, else defer once to its end (a new request replaces the old)."""
        due = self._now if not_before is None else not_before
        if self.last_click_time is not None:
            due = max(due, self.last_click_time + self.timings.cooldown_s)
        if self._pending is not None:
            self._log("DEBUG", f"pending {self._pending.reason} replaced by {reason}")
        if due <= self._now:
            self._pending = None
            self._click(is_retry, reason)
        else:
            self._pending = _PendingClick(due, is_retry, reason)
            if self.phase == Phase.CLICKING:
                self._log("INFO", f"{reason} deferred {due - self._now:.1f} s to the end of the cooldown")

    def _click(self, is_retry: bool, reason: str) -> None:
        s, p = self.session, self.persistent
        if not self.phase.active:
            return
        # Guards (the seed's clickMakeVideoButton).
        if s.videos_generated >= p.video_goal:
            self._end("success", "video goal reached")
            return
        if self.last_click_time is not None and self._now - self.last_click_time < self.timings.cooldown_s - 1e-6:
            # Cannot happen through _request_click; kept as the hard guard.
            self._pending = _PendingClick(self.last_click_time + self.timings.cooldown_s, is_retry, reason)
            return
        if is_retry and s.retry_count >= p.max_retries:
            # The seed checks retryCount < maxRetries before every retry click (it may have been lowered).
            self._end("failure", "max retries reached")
            return
        if is_retry:
            s.retry_count += 1
        s.can_retry = False  # consumed
        self._judge(self.current)  # the attempt before: its other signals have had the cooldown to come
        self.attempt_no += 1
        a = AttemptRecord(number=self.attempt_no, started_at=self._now, is_retry=is_retry)
        self.current = a
        s.attempt_progress.append(a)
        s.last_attempt_time = self._now
        self.last_click_time = self._now
        self.phase = Phase.CLICKING
        self._timeout_at = self._now + self.timings.session_timeout_s
        label = f"retry {s.retry_count}/{p.max_retries}" if is_retry else reason
        self._log("INFO", f"attempt {a.number} ({label}): writing prompt and clicking")
        self._out.append(
            ClickMakeVideo(
                attempt=a.number,
                prompt=self.prompt,
                media_id=p.original_media_id,
                is_retry=is_retry,
                session=self.session_no,
            )
        )
        self._title()

    def _target(self, attempt: int | None) -> AttemptRecord | None:
        """The attempt a signal belongs to; None (and logged) when it belongs to none."""
        a = self.current
        if not self.phase.active and self.phase != Phase.ENDED:
            return None
        if a is None:
            return None
        if attempt is None or attempt == a.number:
            if self.phase == Phase.ENDED and not a.resolved:
                return None
            return a
        for rec in self.session.attempt_progress:
            if rec.number == attempt:
                return rec
        self._log("DEBUG", f"signal for unknown attempt {attempt} ignored")
        return None

    def _stale(self, ev: object, what: str) -> bool:
        """True (and logged at DEBUG) when `ev` was tagged by an earlier session."""
        tag = getattr(ev, "session", None)
        if tag is None or tag == self.session_no:
            return False
        self._log(
            "DEBUG",
            f"{what} via {getattr(ev, 'source', 'browser')} for attempt {getattr(ev, 'attempt', '?')} "
            f"of session {tag} ignored (this is session {self.session_no})",
        )
        return True

    def _judge(self, a: AttemptRecord | None) -> None:
        """Tell the health tracker which sources reported `a` (once); log what it has to say."""
        if a is None or a is self._judged or a.outcome not in ("success", "moderated"):
            return
        self._judged = a
        for note in self.health.judge(a.number, a.outcome, a.sources):
            self._log(note.level, note.message)  # type: ignore[arg-type]

    def _group(self, post_id: str | None) -> None:
        """The video group: the posts of this session's videos, in the order they were made."""
        group = self.persistent.video_group
        if post_id and post_id not in group:
            group.append(post_id)

    def _duplicate(self, a: AttemptRecord, what: str, source: str) -> None:
        if source not in a.sources:
            a.sources.append(source)
        self._log("DEBUG", f"{what} via {source} for attempt {a.number} ignored: already resolved ({a.outcome})")

    def _end(self, outcome: Outcome, reason: str, attempt_outcome: str | None = None, code: str | None = None) -> None:
        s, p = self.session, self.persistent
        a = self.current
        if a is not None and not a.resolved:
            a.outcome = attempt_outcome or "cancelled"
            a.ended_at = self._now
            if a.clicked_at is not None and a.outcome != "rate_limited":
                # its generation request was seen (ClickSent): that is a paid generation, whatever follows
                s.credits_used += 1
        self._pending = None
        self._timeout_at = None
        summary = SessionSummary(
            outcome=outcome,
            completedVideos=s.videos_generated,
            videoGoal=p.video_goal,
            retriesAttempted=s.retry_count,
            maxRetries=p.max_retries,
            creditsUsed=s.credits_used,
            layer1Failures=s.layer1_failures,
            layer2Failures=s.layer2_failures,
            layer3Failures=s.layer3_failures,
            endedAt=int(round(self._now * 1000)),
            extra={
                "reason": reason,
                "attempts": self.attempt_no,
                "startedAt": int(round((self.started_at or self._now) * 1000)),
                "durationS": round(self._now - (self.started_at or self._now), 3),
                "originalMediaId": p.original_media_id,
                **({"reasonCode": code} if code else {}),
            },
        )
        s.is_session_active = False
        s.can_retry = False
        s.last_session_outcome = outcome
        s.last_session_summary = summary
        self.phase = Phase.ENDED
        level = "INFO" if outcome == "success" else ("ERROR" if outcome == "failure" else "WARN")
        self._log(
            level,
            f"session {outcome}: {reason} — videos {s.videos_generated}/{p.video_goal}, retries "
            f"{s.retry_count}/{p.max_retries}, credits {s.credits_used}, layers "
            f"L1 {s.layer1_failures} · L2 {s.layer2_failures} · L3 {s.layer3_failures}",
        )
        self._out.append(SessionEnded(summary))
        self._title()

    def title_text(self) -> str:
        s, p = self.session, self.persistent
        counts = f"🎬 {s.videos_generated}/{p.video_goal} · 🔄 {s.retry_count}/{p.max_retries}"
        if self.phase == Phase.ENDED:
            mark = OUTCOME_MARKS.get(s.last_session_outcome, "")
            return f"{mark} {s.last_session_outcome} {counts}"
        return counts

    def _title(self) -> None:
        self._out.append(SetTitle(self.title_text()))

    def _refuse(self, message: str) -> None:
        self._log("WARN", message)
        self._out.append(Refused(message))

    def _log(self, level: str, message: str) -> None:
        line = LogLine(at=self._now, level=level, message=message)  # type: ignore[arg-type]
        self.session.logs.append(line)
        self._out.append(line)

    def _flush(self) -> list[Command]:
        out, self._out = self._out, []
        titles = [c for c in out if isinstance(c, SetTitle)]
        if len(titles) > 1:  # one title update per step is enough
            out = [c for c in out if not isinstance(c, SetTitle)] + [titles[-1]]
        return out


def _finite(value: object) -> float | None:
    """`value` as a float, or None when it is not a finite number (nan, inf, junk)."""
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if f - f == 0.0 else None  # nan - nan and inf - inf are nan

