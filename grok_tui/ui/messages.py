"""Typed messages from the session runner to the UI.

The runner calls the app's listener on Textual's own asyncio loop; the listener
turns each notification into one of these and posts it to the app. Progress
messages override `can_replace` so a newer one replaces a queued one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from ..engine.events import LogLine, SessionSummary


@dataclass
class RunnerLog(Message):
    """One (already redacted) log line."""

    line: LogLine


@dataclass
class TitleChanged(Message):
    """Progress text for the terminal title (the engine's SetTitle)."""

    text: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TitleChanged)


@dataclass
class ActionRefused(Message):
    """The engine (or the app) refused a user action; shown as a warning."""

    message: str


@dataclass
class AttemptChanged(Message):
    """An attempt started, progressed or resolved; `record` is AttemptRecord.to_dict()."""

    change: str  # started | progress | resolved
    record: dict

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, AttemptChanged)
            and self.change == "progress"
            and message.change == "progress"
            and message.record.get("attempt") == self.record.get("attempt")
        )


@dataclass
class PhaseUpdated(Message):
    """The engine's phase or next action changed."""

    phase: Any
    next_action: tuple[str, float] | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PhaseUpdated)


@dataclass
class LinkStatus(Message):
    """Attached or not, with the attach info (AttachInfo) when there is one."""

    attached: bool
    detail: str
    info: Any = None


@dataclass
class TabIdentityChanged(Message):
    """The tab's URL/title/ids changed (a TabIdentity)."""

    identity: Any


@dataclass
class SessionFinished(Message):
    """A session ended; `record` is what the store recorded."""

    summary: SessionSummary
    record: dict
    log_path: str | None


@dataclass
class LinkEvent(Message):
    """Any other link notification (SignalStats, ...), kept for the curious."""

    event: Any

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LinkEvent) and type(message.event) is type(self.event)


@dataclass
class DownloadChanged(Message):
    """A video of the session started saving, is being retried, or was saved / failed (grok_tui.saving)."""

    notice: Any


@dataclass
class OptionsChanged(Message):
    """The session's generation options were recorded, or a later request's differed."""

    notice: Any


def to_message(obj: object) -> Message | None:
    """Map one runner notification to a UI message (None: nothing to show)."""
    # Imported here so this module stays importable without the runner's deps.
    from ..engine.events import ClickMakeVideo, Refused, SessionEnded, SetTitle
    from ..runner import AttemptUpdate, LinkState, PhaseChanged, SessionRecorded

    if isinstance(obj, LogLine):
        return RunnerLog(obj)
    if isinstance(obj, SetTitle):
        return TitleChanged(obj.text)
    if isinstance(obj, Refused):
        return ActionRefused(obj.message)
    if isinstance(obj, AttemptUpdate):
        return AttemptChanged(obj.change, dict(obj.record))
    if isinstance(obj, PhaseChanged):
        return PhaseUpdated(obj.phase, obj.next_action)
    if isinstance(obj, LinkState):
        return LinkStatus(obj.attached, obj.detail, obj.info)
    if isinstance(obj, SessionRecorded):
        return SessionFinished(obj.summary, dict(obj.record or {}), obj.log_path)
    from ..saving import DownloadFinished, DownloadRetrying, DownloadStarted

    if isinstance(obj, (DownloadStarted, DownloadRetrying, DownloadFinished)):
        return DownloadChanged(obj)
    if type(obj).__name__ in ("OptionsSeen", "OptionsDiffer"):
        return OptionsChanged(obj)
    if isinstance(obj, (SessionEnded, ClickMakeVideo)):
        return None  # SessionRecorded follows SessionEnded; AttemptUpdate follows the click
    name = type(obj).__name__
    if name == "Attached":
        info = getattr(obj, "info", None)
        return LinkStatus(True, "attached", info)
    if name == "TabChanged":
        return TabIdentityChanged(getattr(obj, "identity", None))
    return LinkEvent(obj)
