"""The link's one way out: emits events safely and tags engine events with the attempt they belong to.

It holds the current attempt, which video belongs to which attempt, each
attempt's highest progress, and the events of a click still being confirmed
(they wait for its ClickSent/ClickFailed). `lock` guards this and the other
link modules' de-duplication state, so a page signal and a click never see
each other half done.
"""

from __future__ import annotations

import threading
from typing import Callable

from ..engine.events import AttemptProgress, VideoModerated, VideoSucceeded
from .cdp import log
from .signals import LinkLog

MAX_KEYS = 2000


class AttemptBoard:
    def __init__(self, emit: Callable[[object], None]):
        self._emit_fn = emit
        self.lock = threading.RLock()
        self._emit_lock = threading.RLock()
        self.attempt: int | None = None
        self._hold_attempt: int | None = None
        self._held: list[object] = []
        self._progress_max: dict[int, float] = {}
        self._video_attempt: dict[str, int] = {}
        # The attempt whose generation request was seen and whose outcome has not been emitted yet:
        # after a reload or re-attach its outcome is looked up (network.recover).
        self.open_attempt: int | None = None

    # -- out
    def emit(self, event: object) -> None:
        try:
            self._emit_fn(event)
        except Exception:
            log.error("browser link: emit failed", exc_info=True)

    def log(self, level: str, message: str) -> None:
        getattr(log, {"WARN": "warning"}.get(level, level.lower()), log.info)(message)
        self.emit(LinkLog(level, message))

    def emit_attempt(self, event) -> None:
        """Emit an engine event; events of a click still being confirmed wait for its ClickSent."""
        with self._emit_lock:
            if isinstance(event, (VideoSucceeded, VideoModerated)) and event.attempt == self.open_attempt:
                self.open_attempt = None
            if self._hold_attempt is not None and getattr(event, "attempt", None) == self._hold_attempt:
                self._held.append(event)
                return
            self.emit(event)

    def videos_of(self, attempt: int) -> set[str]:
        """The video ids tied to `attempt`. Call under `lock`."""
        return {v for v, a in self._video_attempt.items() if a == attempt}

    def tied_elsewhere(self, video_id: str, attempt: int) -> bool:
        """`video_id` belongs to another attempt. Call under `lock`."""
        other = self._video_attempt.get(video_id)
        return other is not None and other != attempt

    # -- a click's attempt
    def begin(self, attempt: int) -> None:
        """`attempt` is now the current one; its events are held until `release`."""
        with self._emit_lock:
            self._hold_attempt = attempt
            self._held = []
        with self.lock:
            self.attempt = attempt
            self._progress_max.pop(attempt, None)

    def release(self, first_event) -> None:
        with self._emit_lock:
            self.emit(first_event)
            held, self._held = self._held, []
            self._hold_attempt = None
            for ev in held:
                self.emit(ev)

    # -- tagging
    def video_attempt(self, video_id: str | None) -> int | None:
        """The attempt `video_id` was first seen in (the current attempt if unknown). Call under `lock`."""
        return self._video_attempt.get(video_id, self.attempt) if video_id else self.attempt

    def known_attempt(self, video_id: str) -> int | None:
        """The attempt `video_id` was seen in, None when it is not one of ours. Call under `lock`."""
        return self._video_attempt.get(video_id)

    def tag_video(self, video_id: str, attempt: int) -> int:
        """Tie `video_id` to `attempt` unless it is tied already; returns its attempt. Call under `lock`."""
        got = self._video_attempt.setdefault(video_id, attempt)
        if len(self._video_attempt) > MAX_KEYS:
            self._video_attempt.pop(next(iter(self._video_attempt)))
        return got

    def progress(self, attempt: int, percent: float, source: str) -> None:
        """Emit AttemptProgress when `percent` is above the attempt's highest so far."""
        with self.lock:
            if percent <= self._progress_max.get(attempt, -1.0):
                return
            self._progress_max[attempt] = percent
            if len(self._progress_max) > 100:
                self._progress_max.pop(min(self._progress_max))
        self.emit_attempt(AttemptProgress(percent, attempt, source))
