"""Turns the page observer's binding calls (toasts, progress, videos, media store, routes) into attempt-tagged events.

Each toast, video and finished store entry counts once (the observer tells a toast
re-rendered by the page from a new one); what the page showed before a click
(`absorb_snapshot`) belongs to earlier attempts. A video or store entry the network
stream already tied to an attempt is that attempt's, of its session; any other
outcome seen only here is placed by causality (`AttemptBoard.emit_page_outcome`).
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict

from ..engine.events import RateLimited, VideoModerated, VideoSucceeded
from ..sanitize import page_text
from .attempts import MAX_KEYS, REQUESTED, AttemptBoard
from .cdp import BrowserError, CdpSession, log
from .observer import SignalGate, classify_toast, validate_signal
from .page import Page, js_call
from .signals import PageNotice, SignalStats, VideoUrl

JS_SNAPSHOT = "(function (f) { return (window[f] && window[f].snapshot) ? window[f].snapshot() : null; })"


def _store_key(e: dict) -> str | None:
    moderated = e.get("moderated") is True
    if not moderated and not e.get("mediaUrl"):
        return None  # not finished
    vid = e.get("videoId")
    if vid:
        return "v:" + vid
    return "e:" + json.dumps(e, sort_keys=True)


class DomSignals:
    def __init__(self, page: Page, board: AttemptBoard):
        self.page, self.board = page, board
        self.gate = SignalGate()
        self._last_stats_at = 0.0
        self._last_dropped = 0
        self.toast_keys: OrderedDict[str, int | None] = OrderedDict()
        self.known_srcs: set[str] = set()
        self.store_seen: OrderedDict[str, None] = OrderedDict()

    def register(self, s: CdpSession) -> None:
        s.on("Runtime.bindingCalled", self._on_binding, inline=True)  # never waits for a CDP answer (routes: page.later)

    def _on_binding(self, p: dict) -> None:
        if p.get("name") != self.page.binding:
            return
        for sig in self.gate.admit(p.get("payload")):
            try:
                self._on_signal(sig)
            except BrowserError as exc:
                log.debug("signal handling failed: %s", exc)
        self._maybe_stats()

    def _maybe_stats(self) -> None:
        g = self.gate
        now = time.monotonic()
        if g.dropped != self._last_dropped and now - self._last_stats_at >= 1.0:
            self._last_dropped = g.dropped
            self._last_stats_at = now
            self.board.emit(SignalStats(received=g.received, accepted=g.accepted, dropped=g.dropped))

    def _on_signal(self, sig: dict) -> None:
        kind = sig["kind"]
        board = self.board
        if kind == "toast":
            self._on_toast(sig["key"], sig["text"])
        elif kind == "progress":
            with board.lock:
                attempt = board.attempt
                early = attempt is not None and board.causal_state(attempt) == REQUESTED
            if attempt is not None and not early:  # before the response began it is the attempt before's
                board.progress(attempt, sig["percent"], "dom")
        elif kind == "video":
            with board.lock:
                src = sig["src"]
                if src in self.known_srcs:
                    return
                self.known_srcs.add(src)
                attempt = board.attempt
                vid = board.video_in_url(src)
                known = board.known_attempt(vid) if vid else None
            if known is not None:  # the stream named this video: it is that attempt's, of its session
                board.emit_attempt(VideoSucceeded(known, vid, "dom"))
                board.emit_attempt(VideoUrl(src, known, vid, None, "dom"))
            elif attempt is not None:
                board.emit_page_outcome("a video element", VideoSucceeded(attempt, None, "dom"),
                                        VideoUrl(src, attempt, None, None, "dom"))
        elif kind == "mediaStore":
            self._on_store(sig["entries"])
        elif kind == "route":
            self.page.request_route(sig["path"])
        elif kind == "ready":
            log.debug("observer ready in document %s", sig["docId"])

    def _on_toast(self, key: str, raw: str) -> None:
        what = classify_toast(raw)
        text = page_text(raw)  # page text enters here, once: escaped and capped
        board = self.board
        with board.lock:
            if key in self.toast_keys:
                return
            attempt = board.attempt
            self.toast_keys[key] = attempt
            if len(self.toast_keys) > MAX_KEYS:
                self.toast_keys.popitem(last=False)
        if attempt is None:
            if what:
                log.debug("toast before any click ignored: %s", text[:80])
            return
        if what == "moderated":
            board.emit_page_outcome("a moderation toast", VideoModerated(attempt, None, None, "dom"))
        elif what == "rate":
            board.emit_attempt(RateLimited(attempt, "dom", text))
        else:
            board.emit(PageNotice(text))

    def _on_store(self, entries: list[dict], *, silent: bool = False) -> None:
        board = self.board
        for e in entries:
            key = _store_key(e)
            if key is None:
                continue
            with board.lock:
                if key in self.store_seen:
                    continue
                self.store_seen[key] = None
                if len(self.store_seen) > MAX_KEYS:
                    self.store_seen.popitem(last=False)
                vid = e.get("videoId")
                known = board.known_attempt(vid) if vid else None
                attempt = known if known is not None else board.attempt
            if silent or attempt is None:
                continue
            if e.get("moderated") is True:
                events: tuple = (VideoModerated(attempt, e.get("progress"), vid, "store"),)
            else:
                url = e.get("videoUrl") or e.get("mediaUrl")
                events = (VideoSucceeded(attempt, vid, "store"),) + ((VideoUrl(url, attempt, vid, None, "store"),) if url else ())
            if known is not None:  # the stream tied this video to its attempt (and session)
                for ev in events:
                    board.emit_attempt(ev)
            else:
                board.emit_page_outcome("a store entry of an unknown video", *events)

    def absorb_snapshot(self) -> None:
        """Mark every video, toast and store entry on the page now as seen (they are not the next attempt's)."""
        page = self.page
        expr = js_call(JS_SNAPSHOT, page.flag)
        snap = page.eval(expr)
        if snap is None:
            page.install()
            snap = page.eval(expr)
        self.absorb(snap)

    def absorb(self, snap: object) -> None:
        """What the page's observer snapshot (`snapshot()`) lists is seen: no later attempt's."""
        if not isinstance(snap, dict):
            return
        with self.board.lock:
            for src in snap.get("videos") or []:
                if isinstance(src, str):
                    self.known_srcs.add(src)
            for key in snap.get("toasts") or []:
                if isinstance(key, str) and key not in self.toast_keys:
                    self.toast_keys[key] = self.board.attempt
        entries = snap.get("store")
        if isinstance(entries, list):
            clean = validate_signal({"kind": "mediaStore", "entries": entries[:200]})
            if clean:
                self._on_store(clean["entries"], silent=True)
