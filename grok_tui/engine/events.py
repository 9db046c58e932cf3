"""What goes into the session engine (events) and what comes out (commands).

Plain frozen dataclasses: no I/O, no Textual, no clocks. Every event is handed
to `SessionEngine.handle(event, now)` with the time it happened (epoch seconds,
float); `SessionEngine.advance(now)` is "time passing" and fires due deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Union

if TYPE_CHECKING:
    from .engine import Timings
    from .state import PersistentData

Source = Literal["network", "dom", "store", "postlist", "engine", "user", "test"]
LogLevel = Literal["DEBUG", "INFO", "WARN", "ERROR"]

# Browser signals carry `session`: the tag of the session whose ClickMakeVideo started the
# attempt (the link copies `ClickMakeVideo.session` onto every event it emits for that
# attempt). Attempt numbers restart at 1 each session, so a late signal of an earlier
# session is told apart by this tag and ignored. None: untagged (tests, old callers).


# ---------------------------------------------------------------- events in


@dataclass(frozen=True)
class StartSession:
    """The user starts a session. `prompt` is sent unchanged on every attempt."""

    prompt: str
    post_id: str | None = None
    media_id: str | None = None
    video_goal: int | None = None  # None: keep the stored setting
    max_retries: int | None = None


@dataclass(frozen=True)
class ClickSent:
    """The browser wrote the prompt and clicked the generate button for `attempt`."""

    attempt: int
    detail: str = ""
    session: int | None = None


@dataclass(frozen=True)
class ClickFailed:
    """The browser could not write the prompt or click for `attempt`."""

    attempt: int
    reason: str
    session: int | None = None


@dataclass(frozen=True)
class AttemptProgress:
    """Progress percentage seen for an attempt (None: the attempt in flight)."""

    percent: float
    attempt: int | None = None
    source: Source = "network"
    session: int | None = None


@dataclass(frozen=True)
class VideoSucceeded:
    """A video finished. `post_id`: the new video's own post (Grok moves the tab there), when the signal names it."""

    attempt: int | None = None
    video_id: str | None = None
    source: Source = "network"
    session: int | None = None
    post_id: str | None = None


@dataclass(frozen=True)
class VideoModerated:
    """Content moderated. `percent`: progress on the moderation signal, if it carried one."""

    attempt: int | None = None
    percent: float | None = None
    video_id: str | None = None
    source: Source = "network"
    session: int | None = None


@dataclass(frozen=True)
class RateLimited:
    """A rate limit. It ends the running session whatever session it is tagged with."""

    attempt: int | None = None
    source: Source = "network"
    detail: str = ""
    session: int | None = None


@dataclass(frozen=True)
class UserCancel:
    reason: str = "cancelled by user"


@dataclass(frozen=True)
class BrowserLost:
    """The tab or browser is gone for good: the session cannot go on."""

    reason: str


@dataclass(frozen=True)
class ResetRetries:
    """User action `r`. During a session: the retry counter back to 0, the session goes on.
    Between sessions: the seed's ResetState (Idle, session counters 0, video group empty)."""


@dataclass(frozen=True)
class RetryNow:
    """User action: retry a moderated attempt now (the way forward when auto-retry is off)."""


@dataclass(frozen=True)
class SetAutoRetry:
    enabled: bool | None = None  # None: toggle


@dataclass(frozen=True)
class Configure:
    """Change persistent settings between (or during) sessions."""

    max_retries: int | None = None
    video_goal: int | None = None
    prompt: str | None = None


@dataclass(frozen=True)
class SetTimings:
    """New pacing: the page's address decides the floor (8 s against grok.com), known once attached."""

    timings: "Timings"
    note: str = ""  # why, for the log (logged as a warning when given)


@dataclass(frozen=True)
class Restore:
    """Stored settings for the attached post (the seed's PersistentData), applied between
    sessions only; whoever sends it has already let flags and environment win."""

    persistent: "PersistentData"


@dataclass(frozen=True)
class RouteChanged:
    """The tab moved to another post route (SPA pushState or a load). It does not change the video
    group: that is the posts of the session's own videos (VideoSucceeded.post_id), whenever the tab
    gets there (a route can arrive late, e.g. after the next session started)."""

    post_id: str | None
    media_id: str | None = None


@dataclass(frozen=True)
class OptionsBlocked:
    """The browser held back `attempt`'s generation request: its options differ from the session's first.

    `changes` names them ("video length 10 → 6"). `pause`: wait for the user to set them back
    and retry (the UI), else end the session cancelled (a headless run).
    """

    attempt: int
    changes: str
    pause: bool = True


@dataclass(frozen=True)
class PromptBlocked:
    """The browser held back `attempt`'s generation request: its `message` does not hold the attempt's prompt
    (something changed the editor between the click's check and its press). `what` says how, in words.
    The session ends, cancelled: nothing but the user's prompt is ever sent.
    """

    attempt: int
    what: str
    session: int | None = None


Event = Union[
    StartSession,
    ClickSent,
    ClickFailed,
    AttemptProgress,
    VideoSucceeded,
    VideoModerated,
    RateLimited,
    UserCancel,
    BrowserLost,
    ResetRetries,
    RetryNow,
    SetAutoRetry,
    Configure,
    Restore,
    SetTimings,
    RouteChanged,
    OptionsBlocked,
    PromptBlocked,
]


# ---------------------------------------------------------------- commands out


@dataclass(frozen=True)
class ClickMakeVideo:
    """Write `prompt` (exactly) into the page's editor and click the generate button.

    `session` tags the attempt: the link copies it onto every event of this attempt."""

    attempt: int
    prompt: str
    media_id: str | None
    is_retry: bool = False
    session: int = 0


@dataclass(frozen=True)
class SessionEnded:
    """The session is over; `summary` is the seed's SessionSummary."""

    summary: "SessionSummary"


@dataclass(frozen=True)
class LogLine:
    at: float
    level: LogLevel
    message: str

    def format(self) -> str:
        import time as _time

        stamp = _time.strftime("%H:%M:%S", _time.localtime(self.at))
        return f"{stamp} {self.level:<5} {self.message}"


@dataclass(frozen=True)
class SetTitle:
    """Progress for the Chrome tab title and the terminal title (the seed's usePageTitle)."""

    text: str


@dataclass(frozen=True)
class Refused:
    """A user action that does not fit the current state; the UI shows `message`."""

    message: str


Command = Union[ClickMakeVideo, SessionEnded, LogLine, SetTitle, Refused]


# ---------------------------------------------------------------- summary

Outcome = Literal["success", "failure", "cancelled"]
SessionOutcome = Literal["idle", "pending", "success", "failure", "cancelled"]


@dataclass(frozen=True)
class SessionSummary:
    outcome: Outcome
    completedVideos: int
    videoGoal: int
    retriesAttempted: int
    maxRetries: int
    creditsUsed: int
    layer1Failures: int
    layer2Failures: int
    layer3Failures: int
    endedAt: int  # epoch milliseconds
    # Not in the seed's list, kept beside it for the UI and the history.
    extra: dict = field(default_factory=dict, compare=False)

    SEED_FIELDS = (
        "outcome",
        "completedVideos",
        "videoGoal",
        "retriesAttempted",
        "maxRetries",
        "creditsUsed",
        "layer1Failures",
        "layer2Failures",
        "layer3Failures",
        "endedAt",
    )

    def to_dict(self) -> dict:
        """Exactly the seed's summary, with its camelCase keys."""
        return {k: getattr(self, k) for k in self.SEED_FIELDS}

    @classmethod
    def from_dict(cls, data: dict) -> "SessionSummary":
        return cls(**{k: data[k] for k in cls.SEED_FIELDS}, extra=dict(data.get("extra", {})))
