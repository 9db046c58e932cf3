"""The link's one way out: emits events safely and tags engine events with the attempt they belong to.

It holds the current attempt, which video belongs to which attempt (and which post
each video has), each attempt's highest progress, and the events of a click still
being confirmed (they wait for its ClickSent/ClickFailed). `lock` guards this and the
other link modules' de-duplication state, so a page signal and a click never see
each other half done.

Sessions: attempt numbers restart at 1 each session, so the current attempt is an
`AttemptNo`, an int that also carries the session tag of the ClickMakeVideo that
started it. The other modules keep it wherever they keep an attempt number (a
generation stream keeps the one its request went out under, a video the one it was
first seen in), and every event leaves with a plain number and that tag (`stamped`):
the engine ignores a late signal of an earlier session.

Causality: Grok can show an attempt's outcome in the page only after its server
answered the attempt's generation request. The board records, per attempt, whether
its request was seen and whether the response has started (`mark`). An outcome only
the page showed (a toast, an unknown video's store entry, a video element) counts for
the current attempt only once that response has started; before that it belongs to
the attempt before (ignored, DEBUG). Where no request was seen for the attempt at all,
a moderation goes out without an attempt number: the engine's 5 s rule decides.

Order: while a click is being confirmed, its attempt's events wait for its ClickSent
or ClickFailed; once its request was seen, the page's route events wait with them, so
all leave in the order the page showed them.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict

from ..engine.events import AttemptProgress, VideoModerated, VideoSucceeded
from .cdp import log
from .signals import Emit, Handoff, LinkLog

MAX_KEYS = 2000
REQUESTED, RESPONDED = "requested", "responded"


class AttemptNo(int):
    """An attempt number that carries the session tag of the click that started it."""

    session: int | None

    def __new__(cls, number: int, session: int | None = None) -> "AttemptNo":
        obj = super().__new__(cls, number)
        obj.session = session
        return obj


def session_of(attempt) -> int | None:
    return getattr(attempt, "session", None)


def same_attempt(a, b) -> bool:
    """The same attempt of the same session (a plain int matches any session's)."""
    if a is None or b is None or int(a) != int(b):
        return False
    sa, sb = session_of(a), session_of(b)
    return sa is None or sb is None or sa == sb


def _key(attempt) -> tuple[int, int | None]:
    return int(attempt), session_of(attempt)


def stamped(event):
    """`event` as it leaves the link: a plain attempt number and the session tag its AttemptNo carried."""
    attempt = getattr(event, "attempt", None)
    if not isinstance(attempt, AttemptNo):
        return event
    names = {f.name for f in dataclasses.fields(event)}
    if "session" in names and getattr(event, "session", None) is None:
        return dataclasses.replace(event, attempt=int(attempt), session=attempt.session)
    return dataclasses.replace(event, attempt=int(attempt))


@dataclasses.dataclass(frozen=True)
class _Undecided:
    """Outcome events only the page showed while their attempt's click was out, before its request was seen."""

    events: tuple
    what: str


class AttemptBoard:
    def __init__(self, emit: Emit):
        self._emit_fn = emit
        self.lock = threading.RLock()
        self._emit_lock = threading.RLock()
        self.attempt: int | None = None
        self.prompt: str | None = None  # the current attempt's prompt, as its click was asked to send it
        self._hold_attempt: int | None = None
        self._hold_requested = False  # the confirming click's generation request was seen
        self._held: list[object] = []
        self._progress_max: OrderedDict[tuple[int, int | None], float] = OrderedDict()
        self._video_attempt: dict[str, int] = {}
        self._video_post: dict[str, str] = {}  # video id -> its own post (the stream's videoPostId)
        self._causal: OrderedDict[tuple[int, int | None], str] = OrderedDict()  # (attempt, session) -> state
        # The attempt whose generation request was seen and whose outcome has not been emitted yet:
        # after a reload or re-attach its outcome is looked up (network.recover).
        self.open_attempt: int | None = None

    # -- out
    def emit(self, event: Handoff) -> None:
        try:
            self._emit_fn(event)
        except Exception:
            log.error("browser link: emit failed", exc_info=True)

    def log(self, level: str, message: str) -> None:
        getattr(log, {"WARN": "warning"}.get(level, level.lower()), log.info)(message)
        self.emit(LinkLog(level, message))

    def emit_attempt(self, event) -> None:
        """Emit an engine event (with its session tag); events of a click still being confirmed wait for its ClickSent."""
        with self._emit_lock:
            attempt = getattr(event, "attempt", None)
            if isinstance(event, (VideoSucceeded, VideoModerated)) and same_attempt(attempt, self.open_attempt):
                self.open_attempt = None
            if isinstance(event, VideoSucceeded) and event.post_id is None and event.video_id:
                with self.lock:
                    post = self._video_post.get(event.video_id)
                if post:
                    event = dataclasses.replace(event, post_id=post)
            if self._hold_attempt is not None and same_attempt(attempt, self._hold_attempt):
                self._held.append(event)
                return
            self.emit(stamped(event))

    def emit_page(self, event) -> None:
        """Emit a page event (a route change); once the confirming click's request was seen, it waits
        behind that attempt's events, so both leave in the order the page showed them."""
        with self._emit_lock:
            if self._hold_attempt is not None and self._hold_requested:
                self._held.append(event)
                return
            self.emit(event)

    def emit_page_outcome(self, what: str, event, *more) -> None:
        """Emit an outcome (VideoModerated, VideoSucceeded) that only the page showed, for `event.attempt`
        (the current attempt), with what follows from it (`more`: its VideoUrl), if causality lets it be
        that attempt's (see the module doc); `what` names it in the log."""
        events = (event, *more)
        with self._emit_lock:
            with self.lock:
                state = self._causal.get(_key(event.attempt))
            if state == RESPONDED:
                for ev in events:
                    self.emit_attempt(ev)
            elif state == REQUESTED:
                self.log("DEBUG", f"{what} shown before the response to attempt {event.attempt}'s request began: "
                                  "it belongs to the attempt before; ignored")
            elif self._hold_attempt is not None and same_attempt(event.attempt, self._hold_attempt):
                self._held.append(_Undecided(events, what))  # decided once the click is confirmed or failed
            else:
                self._without_request(events, what)

    def _without_request(self, events: tuple, what: str) -> None:
        """No generation request was seen for the attempt: a moderation goes out without an attempt
        number (the engine's 5 s rule), anything else as it is."""
        first = events[0]
        if isinstance(first, VideoModerated):
            self.log("DEBUG", f"{what}: no generation request was seen for attempt {first.attempt}; "
                              "passed on without an attempt number")
            self.emit(dataclasses.replace(stamped(first), attempt=None))
            return
        for ev in events:
            self.emit_attempt(ev)

    def videos_of(self, attempt: int) -> set[str]:
        """The video ids tied to `attempt`. Call under `lock`."""
        return {v for v, a in self._video_attempt.items() if same_attempt(a, attempt)}

    def tied_elsewhere(self, video_id: str, attempt: int) -> bool:
        """`video_id` belongs to another attempt. Call under `lock`."""
        other = self._video_attempt.get(video_id)
        return other is not None and not same_attempt(other, attempt)

    # -- a click's attempt
    def begin(self, attempt: int, session: int | None = None, prompt: str | None = None) -> None:
        """`attempt` of `session` (sending `prompt`) is now the current one; its events are held until `release`."""
        current = AttemptNo(attempt, session)
        with self._emit_lock:
            self._hold_attempt = current
            self._hold_requested = False
            self._held = []
        with self.lock:
            self.attempt = current
            self.prompt = prompt
            self._progress_max.pop(_key(current), None)

    def release(self, first_event) -> None:
        """Emit the click's ClickSent / ClickFailed (with its attempt's session tag), then what waited for it, in order."""
        with self._emit_lock:
            hold = self._hold_attempt
            if getattr(first_event, "session", None) is None and same_attempt(getattr(first_event, "attempt", None), hold):
                first_event = dataclasses.replace(first_event, attempt=hold)
            self.emit(stamped(first_event))
            held, self._held = self._held, []
            self._hold_attempt = None
            self._hold_requested = False
            for ev in held:
                if not isinstance(ev, _Undecided):
                    self.emit(stamped(ev))
                    continue
                with self.lock:
                    state = self._causal.get(_key(ev.events[0].attempt))
                if state is None:
                    self._without_request(ev.events, ev.what)
                else:
                    self.log("DEBUG", f"{ev.what} shown before attempt {ev.events[0].attempt}'s request went out: "
                                      "it belongs to the attempt before; ignored")

    # -- causality
    def mark(self, attempt: int, state: str) -> None:
        """`attempt`'s generation request was seen (REQUESTED) or its response began (RESPONDED). Call under `lock`."""
        key = _key(attempt)
        if self._causal.get(key) != RESPONDED:
            self._causal[key] = state
            self._causal.move_to_end(key)
            if len(self._causal) > 100:
                self._causal.popitem(last=False)
        if self._hold_attempt is not None and same_attempt(attempt, self._hold_attempt):
            self._hold_requested = True

    def causal_state(self, attempt: int) -> str | None:
        """None (no request seen for it), REQUESTED or RESPONDED. Call under `lock`."""
        return self._causal.get(_key(attempt))

    # -- tagging
    def known_attempt(self, video_id: str) -> int | None:
        """The attempt `video_id` was seen in, None when it is not one of ours. Call under `lock`."""
        return self._video_attempt.get(video_id)

    def video_in_url(self, url: str) -> str | None:
        """The id of one of our videos that `url` names as a path part (Grok's file URLs carry it). Call under `lock`."""
        path = url.split("?", 1)[0].split("#", 1)[0]
        for part in reversed(path.replace(".", "/").split("/")):
            if part and part in self._video_attempt:
                return part
        return None

    def tag_video(self, video_id: str, attempt: int, post_id: str | None = None) -> int:
        """Tie `video_id` to `attempt` (and its post) unless it is tied already; returns its attempt. Call under `lock`."""
        got = self._video_attempt.setdefault(video_id, attempt)
        if post_id:
            self._video_post.setdefault(video_id, post_id)
        if len(self._video_attempt) > MAX_KEYS:
            self._video_post.pop(next(iter(self._video_attempt)), None)
            self._video_attempt.pop(next(iter(self._video_attempt)))
        return got

    def progress(self, attempt: int, percent: float, source: str) -> None:
        """Emit AttemptProgress when `percent` is above the attempt's highest so far."""
        key = _key(attempt)
        with self.lock:
            if percent <= self._progress_max.get(key, -1.0):
                return
            self._progress_max[key] = percent
            self._progress_max.move_to_end(key)
            if len(self._progress_max) > 100:
                self._progress_max.popitem(last=False)
        self.emit_attempt(AttemptProgress(percent, attempt, source))
