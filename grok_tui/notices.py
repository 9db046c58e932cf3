"""The closed set of notices a session (or a batch of them) tells its one listener: the UI or the JSON printer.

One name per fact, from the engine to the screen. Facts the engine, the browser link or
the video saver already name (a log line, a title, a refusal, the session's end; waiting
for Chrome's permission, attached, tab changed, tab lost, the matching tabs, signal
counters, the generation options, a click that waits for the page; a video saving, retried, saved) keep their own frozen
dataclasses and are re-exported here. The runner adds the attempt and phase notices, the
batch runner the job and batch notices. Consumers dispatch with `match`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

from .browser.signals import (
    AttachInfo,
    Attached,
    AwaitingPermission,
    ClickPaused,
    OptionsDiffer,
    OptionsSeen,
    SignalStats,
    TabChanged,
    TabIdentity,
    TabLost,
    TabsChanged,
)
from .engine.events import LogLine, Refused, SessionEnded, SessionSummary, SetTitle
from .engine.state import Phase
from .saving import DownloadFinished, DownloadNotice, DownloadRetrying, DownloadStarted

# ---------------------------------------------------------------- a session's attempts and phase


@dataclass(frozen=True)
class AttemptStarted:
    """The engine clicked for a new attempt. `record` is its AttemptRecord.to_dict()."""

    record: dict
    media_id: str | None = None  # the source image the attempt animates


@dataclass(frozen=True)
class ProgressChanged:
    """The attempt in flight reached a new whole percent. `record` is its AttemptRecord.to_dict()."""

    record: dict


@dataclass(frozen=True)
class AttemptResolved:
    """An attempt has its outcome (success, moderated, timeout, ...). `record` is its AttemptRecord.to_dict()."""

    record: dict


@dataclass(frozen=True)
class PhaseChanged:
    """The engine's phase, or what it does next and when (label, epoch seconds), changed."""

    phase: Phase
    next_action: tuple[str, float] | None


# ---------------------------------------------------------------- a batch's jobs


@dataclass(frozen=True)
class JobStarted:
    """Job `index` (1-based) starts: the tab goes to its post."""

    index: int
    post_id: str
    prompt: str
    resumed: bool = False  # it ran before: only what is left of its goal runs now


@dataclass(frozen=True)
class JobPaused:
    """The job waits: something on the page blocks a click (`message` says what)."""

    index: int
    message: str


@dataclass(frozen=True)
class JobEnded:
    """Job `index` is over. `summary` has the seed's fields counted over the whole job."""

    index: int
    status: str
    summary: SessionSummary
    reason: str | None = None


@dataclass(frozen=True)
class BatchChanged:
    """The queue or a job's counters changed (for the Queue pane)."""


@dataclass(frozen=True)
class BatchNote:
    """One line about the batch as a whole (file edits found on resume, navigation, the manifest)."""

    level: str
    message: str


@dataclass(frozen=True)
class BatchEnded:
    """The batch finished or stopped; `line` is the batch line of the headless contract."""

    line: dict
    exit_code: int


BatchNotice = Union[JobStarted, JobPaused, JobEnded, BatchChanged, BatchNote, BatchEnded]

Notice = Union[
    LogLine,  # one redacted line of the session's log
    SetTitle,  # progress text for the tab and terminal titles
    Refused,  # a user action that does not fit the state, in one sentence
    AttemptStarted,
    ProgressChanged,
    AttemptResolved,
    PhaseChanged,
    SessionEnded,  # the session is over and recorded
    AwaitingPermission,  # connecting waits on Chrome's "allow remote debugging?" prompt
    Attached,  # attached (or re-attached) to the tab
    TabChanged,  # the tab's URL, title or ids changed
    TabLost,  # the tab or browser went away; the runner tries to re-attach
    TabsChanged,  # the matching page tabs changed (for the tab picker)
    ClickPaused,  # the attempt's click waits: its button is covered or the tab left the post
    SignalStats,  # the page sent signals that were dropped (junk, flood)
    OptionsSeen,  # the generation options of the session's first request
    OptionsDiffer,  # a later request's options differ (blocked, or sent when allowed)
    DownloadStarted,  # a video of the session is being saved
    DownloadRetrying,
    DownloadFinished,  # saved, or failed for good
    JobStarted,
    JobPaused,
    JobEnded,
    BatchChanged,
    BatchNote,
    BatchEnded,
]

Listener = Callable[[Notice], None]


def ignore(_notice: Notice) -> None:
    """A listener that wants nothing."""


__all__ = [
    "AttachInfo",
    "Attached",
    "AttemptResolved",
    "AttemptStarted",
    "AwaitingPermission",
    "BatchChanged",
    "BatchEnded",
    "BatchNote",
    "BatchNotice",
    "ClickPaused",
    "DownloadFinished",
    "DownloadNotice",
    "DownloadRetrying",
    "DownloadStarted",
    "JobEnded",
    "JobPaused",
    "JobStarted",
    "Listener",
    "LogLine",
    "Notice",
    "OptionsDiffer",
    "OptionsSeen",
    "PhaseChanged",
    "ProgressChanged",
    "Refused",
    "SessionEnded",
    "SessionSummary",
    "SetTitle",
    "SignalStats",
    "TabChanged",
    "TabIdentity",
    "TabLost",
    "TabsChanged",
    "ignore",
]
