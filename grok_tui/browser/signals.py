"""Link events: what the browser link emits besides the engine's own events.

Frozen dataclasses, no I/O. The engine events (ClickSent, AttemptProgress,
VideoSucceeded, ...) come from grok_tui.engine.events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Union

from ..engine.events import Event

LinkLevel = Literal["DEBUG", "INFO", "WARN", "ERROR"]


@dataclass(frozen=True)
class TabIdentity:
    """What the attached tab shows: its URL and title, and the Grok ids read from it."""

    url: str
    title: str
    post_id: str | None = None  # from /imagine/post/<id>
    media_id: str | None = None  # source image id, from img[src*="imagine-public/images/"]
    target_id: str | None = None


@dataclass(frozen=True)
class AttachInfo:
    host: str
    port: int
    browser: str  # e.g. "Chrome/156.0.8078.108"
    protocol: str  # e.g. "1.3"
    target_id: str
    identity: TabIdentity
    matched: int  # how many page tabs matched tab_match (the first one is used)
    pages: int  # how many page tabs there were
    attach_ms: float  # how long attach() took
    endpoint: str = ""  # where the browser was found (Endpoint.label), e.g. "127.0.0.1:9222 via DevToolsActivePort in <dir>"


@dataclass(frozen=True)
class Attached:
    info: AttachInfo


@dataclass(frozen=True)
class LinkLog:
    level: LinkLevel
    message: str


@dataclass(frozen=True)
class PageNotice:
    """A toast that is neither a moderation nor a rate limit; `text` is already escaped and capped."""

    text: str


@dataclass(frozen=True)
class ClickPaused:
    """The click of `attempt` waits: its button is covered, or the tab left the session's post (`message` says which)."""

    attempt: int
    message: str


@dataclass(frozen=True)
class TabChanged:
    """The tab's identity changed (route change or load)."""

    identity: TabIdentity


@dataclass(frozen=True)
class TabLost:
    """The tab or browser is gone (socket closed, tab closed/detached, crash). Re-attach to go on."""

    reason: str


@dataclass(frozen=True)
class AwaitingPermission:
    """Connecting waits on Chrome: it may be asking the user to allow remote debugging."""

    where: str  # host:port
    wait_s: float = 0.0  # how long grok-tui waits for the answer (0: not said)

    @property
    def message(self) -> str:
        upto = f"; waiting up to {self.wait_s:g} s" if self.wait_s else ""
        return f"allow the connection in Chrome (it asks whether to allow remote debugging from {self.where}){upto}"


@dataclass(frozen=True)
class TabsChanged:
    """The matching page tabs changed (one opened, closed or changed URL): [{id, url, title}]."""

    tabs: tuple[dict, ...]


@dataclass(frozen=True)
class SignalStats:
    """Page-signal counters: binding calls received, signals accepted, items dropped (junk/flood)."""

    received: int
    accepted: int
    dropped: int


@dataclass(frozen=True)
class VideoUrl:
    """A signal named the URL of a finished video: stream, post list, DOM video[src] or the store."""

    url: str
    attempt: int | None
    video_id: str | None = None
    video_post_id: str | None = None
    source: str = "network"
    session: int | None = None  # the session tag of `attempt` (see engine.events)


@dataclass(frozen=True)
class OptionsSeen:
    """The generation options of a session's first request (None: it carried none)."""

    attempt: int
    options: dict | None


@dataclass(frozen=True)
class OptionsDiffer:
    """A later request's options differ from the first's: `changes` names them; `blocked`: not sent."""

    attempt: int
    changes: str
    blocked: bool
    options: dict | None = None


LinkEvent = (
    Attached | LinkLog | PageNotice | ClickPaused | TabChanged | TabLost | SignalStats | AwaitingPermission | TabsChanged
    | VideoUrl | OptionsSeen | OptionsDiffer
)

# What the link hands the runner (its `emit`): engine events read off the page, and link events.
Handoff = Union[Event, LinkEvent]
Emit = Callable[[Handoff], None]
