"""Pure parsing of Grok's generation stream (no I/O).

`JsonObjectStream` turns the raw bytes of a streamed response into JSON objects,
by balanced braces (the objects come one per line, back to back, or split
across network chunks). `GenerationTracker` turns those objects into per-video
status transitions.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Literal

DEFAULT_MAX_BUFFER = 1 << 20  # 1 MiB of one unfinished object

# Outside a string: the next brace or quote. Inside one: the next quote or backslash.
_OUTSIDE = re.compile(r'[{}"]')
_INSIDE = re.compile(r'["\\]')


class JsonObjectStream:
    """Incremental parser of concatenated JSON objects.

    `feed(bytes)` returns the complete top-level objects found so far. Text
    between objects (newlines, junk, a stray `]`) is skipped; an object that
    does not parse is dropped; one that grows beyond `max_buffer` characters is
    dropped too, so garbage cannot grow memory.
    """

    def __init__(self, max_buffer: int = DEFAULT_MAX_BUFFER):
        self.max_buffer = max_buffer
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._parts: list[str] = []  # pieces of the object being read
        self._size = 0
        self._depth = 0
        self._in_string = False
        self._escape = False
        self.objects = 0  # objects returned
        self.dropped = 0  # objects/garbage dropped (bad JSON, too large, not an object)

    def feed(self, data: bytes) -> list[dict]:
        text = self._decoder.decode(data)
        return self._scan(text) if text else []

    def _scan(self, text: str) -> list[dict]:
        out: list[dict] = []
        i, n = 0, len(text)
        while i < n:
            if self._depth == 0:
                j = text.find("{", i)
                if j < 0:
                    break
                self._depth = 1
                self._parts = []
                self._size = 0
                self._in_string = self._escape = False
                seg_start, i = j, j + 1
            else:
                seg_start = i
            # Inside an object: advance to its end or the end of the text.
            closed_at = -1
            while i < n:
                if self._escape:
                    self._escape = False
                    i += 1
                    continue
                if self._in_string:
                    m = _INSIDE.search(text, i)
                    if not m:
                        i = n
                        break
                    i = m.end()
                    if m.group() == "\\":
                        self._escape = True
                    else:
                        self._in_string = False
                    continue
                m = _OUTSIDE.search(text, i)
                if not m:
                    i = n
                    break
                i = m.end()
                c = m.group()
                if c == '"':
                    self._in_string = True
                elif c == "{":
                    self._depth += 1
                else:
                    self._depth -= 1
                    if self._depth == 0:
                        closed_at = i
                        break
            end = closed_at if closed_at >= 0 else i
            piece = text[seg_start:end]
            self._size += len(piece)
            if self._size > self.max_buffer:
                self._reset_object()
                self.dropped += 1
                continue
            self._parts.append(piece)
            if closed_at >= 0:
                raw = "".join(self._parts)
                self._reset_object()
                try:
                    obj = json.loads(raw)
                except ValueError:
                    self.dropped += 1
                    continue
                if isinstance(obj, dict):
                    self.objects += 1
                    out.append(obj)
                else:  # pragma: no cover - cannot happen for text starting with "{"
                    self.dropped += 1
        return out

    def _reset_object(self) -> None:
        self._parts = []
        self._size = 0
        self._depth = 0
        self._in_string = self._escape = False

    @property
    def pending(self) -> int:
        """Characters held for an unfinished object."""
        return self._size if self._depth else 0


# ----------------------------------------------------------------------------- tracker

Status = Literal["progress", "running", "moderated", "completed"]


@dataclass(frozen=True)
class VideoUpdate:
    """One change seen in the stream for `video_id`.

    kind: "progress" (the max progress rose to `percent`), "running" (first
    progress > 0), "moderated" (final; `percent` is the moderation's progress
    or the highest seen, None if none), "completed" (final, progress >= 100).
    """

    kind: Status
    video_id: str
    percent: float | None = None
    video_post_id: str | None = None
    parent_post_id: str | None = None


@dataclass
class VideoState:
    video_id: str
    max_progress: float | None = None
    running: bool = False
    final: str | None = None  # "moderated" | "completed"
    final_percent: float | None = None
    video_post_id: str | None = None
    parent_post_id: str | None = None
    video_url: str | None = None  # where the finished video is served (the stream's videoUrl)


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        v = float(value)
    elif isinstance(value, str):
        try:
            v = float(value.strip().rstrip("%"))
        except ValueError:
            return None
    else:
        return None
    if v != v:  # NaN
        return None
    return max(0.0, min(100.0, v))


def _str(value) -> str | None:
    return value if isinstance(value, str) and value else None


def video_response(obj) -> dict | None:
    """The `streamingVideoGenerationResponse` dict of a stream object, or None."""
    try:
        v = obj["result"]["response"]["streamingVideoGenerationResponse"]
    except (KeyError, TypeError):
        return None
    return v if isinstance(v, dict) else None


class GenerationTracker:
    """Status of each videoId of one generation response, from its stream objects."""

    MAX_VIDEOS = 64

    def __init__(self) -> None:
        self.videos: dict[str, VideoState] = {}

    def feed(self, obj) -> list[VideoUpdate]:
        v = video_response(obj)
        if v is None:
            return []
        vid = _str(v.get("videoId"))
        if vid is None:
            return []
        st = self.videos.get(vid)
        if st is None:
            if len(self.videos) >= self.MAX_VIDEOS:
                return []
            st = self.videos[vid] = VideoState(video_id=vid)
        st.video_post_id = st.video_post_id or _str(v.get("videoPostId"))
        st.parent_post_id = st.parent_post_id or _str(v.get("parentPostId"))
        st.video_url = st.video_url or _str(v.get("videoUrl"))
        if st.final:
            return []  # each videoId's outcome counts once
        out: list[VideoUpdate] = []

        def upd(kind: Status, percent: float | None) -> None:
            out.append(VideoUpdate(kind, vid, percent, st.video_post_id, st.parent_post_id))

        progress = _number(v.get("progress"))
        moderated = v.get("moderated") is True
        if progress is not None and (st.max_progress is None or progress > st.max_progress):
            st.max_progress = progress
            if progress > 0 and not moderated:
                upd("progress", progress)
        if progress is not None and progress > 0 and not st.running:
            st.running = True
            if not moderated:
                upd("running", progress)
        if moderated:
            st.final = "moderated"
            st.final_percent = progress if progress is not None else st.max_progress
            upd("moderated", st.final_percent)
        elif progress is not None and progress >= 100:
            st.final = "completed"
            st.final_percent = 100.0
            upd("completed", 100.0)
        return out

    def feed_all(self, objs) -> list[VideoUpdate]:
        out: list[VideoUpdate] = []
        for o in objs:
            out.extend(self.feed(o))
        return out
