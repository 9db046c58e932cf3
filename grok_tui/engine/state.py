"""The seed's SessionData and PersistentData, and one attempt's record."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from .events import LogLine, SessionSummary

MAX_LOG_LINES = 200
MAX_PROGRESS_RECORDS = 25
LIMIT_MIN, LIMIT_MAX = 1, 50


class Phase(str, Enum):
    """Where a session is. The seed's states map as noted."""

    IDLE = "idle"  # Idle (no session yet)
    CLICKING = "clicking"  # AttemptVideo: prompt written, button being clicked
    DETECTING = "detecting"  # CooldownWait + DetectingOutcome
    RETRY_WAIT = "retry_wait"  # ModerationFailure -> SchedulerRetry, waiting for the cooldown
    MANUAL_WAIT = "manual_wait"  # moderated with auto-retry off: waits for the user
    NEXT_VIDEO = "next_video"  # NextVideoDelay
    ENDED = "ended"  # SessionEnd -> summary shown until the next start

    @property
    def active(self) -> bool:
        return self not in (Phase.IDLE, Phase.ENDED)


def classify_layer(percent: float) -> int:
    """Layer 1 (0-24 %), 2 (25-87 %), 3 (88-100 %)."""
    p = max(0.0, min(100.0, float(percent)))
    if p < 25:
        return 1
    if p < 88:
        return 2
    return 3


LAYER_NAMES = {1: "prompt filtering", 2: "model alignment", 3: "post-validation"}

# One mark per outcome, of an attempt or a session: the titles, the screen and the export use it.
OUTCOME_MARKS = {
    "success": "✔",
    "failure": "✖",
    "moderated": "✖",
    "cancelled": "■",
    "rate_limited": "■",
    "timeout": "■",
    "click_failed": "■",
    "running": "…",
    "pending": "…",
}


def short_id(ident: str | None, n: int = 8) -> str:
    """A post or image id cut to `n` characters for a log line or the header ("–" for none)."""
    if not ident:
        return "–"
    return ident[:n] + "…" if len(ident) > n + 1 else ident


@dataclass
class AttemptRecord:
    """One click and what came of it (the seed's AttemptProgressEntry)."""

    number: int
    started_at: float
    is_retry: bool = False
    clicked_at: float | None = None
    max_progress: float = 0.0
    progress_seen: bool = False
    outcome: str = "pending"  # pending, running, success, moderated, rate_limited, timeout, cancelled, click_failed
    layer: int | None = None
    ended_at: float | None = None
    video_id: str | None = None
    sources: list[str] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        return self.outcome not in ("pending", "running")

    def to_dict(self) -> dict:
        return {
            "attempt": self.number,
            "startedAt": int(self.started_at * 1000),
            "isRetry": self.is_retry,
            "maxProgress": self.max_progress,
            "outcome": self.outcome,
            "layer": self.layer,
            "endedAt": int(self.ended_at * 1000) if self.ended_at is not None else None,
            "durationS": round(self.ended_at - self.started_at, 3) if self.ended_at is not None else None,
            "videoId": self.video_id,
            "sources": list(self.sources),
        }


@dataclass
class SessionData:
    """Per-session state (the seed keeps it in sessionStorage)."""

    is_session_active: bool = False
    retry_count: int = 0
    videos_generated: int = 0
    can_retry: bool = False
    last_attempt_time: float | None = None
    last_failure_time: float | None = None
    logs: deque[LogLine] = field(default_factory=lambda: deque(maxlen=MAX_LOG_LINES))
    attempt_progress: deque[AttemptRecord] = field(default_factory=lambda: deque(maxlen=MAX_PROGRESS_RECORDS))
    credits_used: int = 0
    layer1_failures: int = 0
    layer2_failures: int = 0
    layer3_failures: int = 0
    last_session_outcome: str = "idle"
    last_session_summary: SessionSummary | None = None

    def layer_failures(self, layer: int) -> int:
        return getattr(self, f"layer{layer}_failures")

    def to_dict(self) -> dict:
        return {
            "isSessionActive": self.is_session_active,
            "retryCount": self.retry_count,
            "videosGenerated": self.videos_generated,
            "canRetry": self.can_retry,
            "lastAttemptTime": _ms(self.last_attempt_time),
            "lastFailureTime": _ms(self.last_failure_time),
            "logs": [line.format() for line in self.logs],
            "attemptProgress": [a.to_dict() for a in self.attempt_progress],
            "creditsUsed": self.credits_used,
            "layer1Failures": self.layer1_failures,
            "layer2Failures": self.layer2_failures,
            "layer3Failures": self.layer3_failures,
            "lastSessionOutcome": self.last_session_outcome,
            "lastSessionSummary": self.last_session_summary.to_dict() if self.last_session_summary else None,
        }


@dataclass
class PersistentData:
    """Settings and identity kept across runs (the seed keeps it in chrome.storage.local)."""

    max_retries: int = 3
    auto_retry_enabled: bool = True
    last_prompt_value: str = ""
    video_goal: int = 1
    video_group: list[str] = field(default_factory=list)
    original_media_id: str | None = None

    def __post_init__(self) -> None:
        check_limit("max_retries", self.max_retries)
        check_limit("video_goal", self.video_goal)

    def to_dict(self) -> dict:
        return {
            "maxRetries": self.max_retries,
            "autoRetryEnabled": self.auto_retry_enabled,
            "lastPromptValue": self.last_prompt_value,
            "videoGoal": self.video_goal,
            "videoGroup": list(self.video_group),
            "originalMediaId": self.original_media_id,
        }


def check_limit(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not LIMIT_MIN <= value <= LIMIT_MAX:
        raise ValueError(f"{name} must be a whole number from {LIMIT_MIN} to {LIMIT_MAX}, not {value!r}.")


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)
