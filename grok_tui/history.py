"""The session history, read and summed up: rows per session, groups per prompt, totals per day.

Pure and UI-free (no Textual): the History screen and `grok-tui history` both use it.
`HistoryReader` reads `history.jsonl` incrementally: each `refresh()` parses only the
lines appended since the last one. A line that is not a session record is skipped and
counted (never a crash); an unfinished last line (a write in progress) is left for the
next refresh. Rows keep only the numbers people sort and filter by; a session's full
record (attempts, log path, downloads) is read again from its byte offset on demand.

grok-tui never changes a prompt: a prompt that has produced no video after
`NEVER_AFTER` attempts is only flagged, for the user to rethink.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

NEVER_AFTER = 5  # attempts without a single video before a prompt is flagged
OUTCOMES = ("success", "failure", "cancelled")
LAYERS = ("L1", "L2", "L3")
_decode = json.JSONDecoder().decode


class HistoryError(Exception):
    """Bad filter input or an unreadable history file; one sentence for the user."""


# ---------------------------------------------------------------- one session


@dataclass(slots=True)
class SessionRow:
    """One recorded session, as the table and the exports show it (raw values, not text)."""

    line: int  # 1-based line number in the history file
    offset: int  # byte offset of that line: `HistoryReader.record()` reads the full record
    ended_at: int  # epoch milliseconds
    started_at: int | None
    duration_s: float | None
    post: str
    prompt: str
    outcome: str
    reason: str
    videos: int
    goal: int
    retries: int
    max_retries: int
    credits: int
    l1: int
    l2: int
    l3: int
    attempts: int
    batch: str | None
    job: str | None
    log_path: str | None
    downloads: int  # how many downloaded files the record lists

    @property
    def moderated(self) -> int:
        return self.l1 + self.l2 + self.l3

    @property
    def day(self) -> str:
        return local_day(self.ended_at)

    def to_dict(self) -> dict:
        """The export row (`grok-tui history --json/--csv`): one key per column, full prompt."""
        return {
            "when": local_time(self.ended_at).isoformat(timespec="seconds"),
            "endedAt": self.ended_at,
            "post": self.post,
            "prompt": self.prompt,
            "outcome": self.outcome,
            "reason": self.reason,
            "videos": self.videos,
            "goal": self.goal,
            "retries": self.retries,
            "maxRetries": self.max_retries,
            "credits": self.credits,
            "l1": self.l1,
            "l2": self.l2,
            "l3": self.l3,
            "attempts": self.attempts,
            "durationS": self.duration_s,
            "batch": self.batch,
            "job": self.job,
            "logPath": self.log_path,
        }


EXPORT_FIELDS = (
    "when", "endedAt", "post", "prompt", "outcome", "reason", "videos", "goal", "retries", "maxRetries",
    "credits", "l1", "l2", "l3", "attempts", "durationS", "batch", "job", "logPath",
)  # fmt: skip


def local_time(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000).astimezone()


_DAY_CACHE: dict[int, str] = {}
_QUARTER_MS = 900_000  # UTC offsets and DST changes fall on quarter hours: one date per quarter


def local_day(ms: int) -> str:
    """The local calendar date (YYYY-MM-DD) of an epoch-ms time, cached per quarter hour."""
    q = ms // _QUARTER_MS
    day = _DAY_CACHE.get(q)
    if day is None:
        if len(_DAY_CACHE) > 100_000:
            _DAY_CACHE.clear()
        t = time.localtime(q * _QUARTER_MS / 1000)
        day = _DAY_CACHE[q] = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
    return day


def _count(rec: dict, key: str, default: int = 0) -> int:
    v = rec.get(key, default)
    if type(v) is int and v >= 0:  # the common case, first (10,000 records x 10 fields)
        return v
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
        raise ValueError(key)
    return int(v)


def _label(v: Any) -> str | None:
    """A batch/job reference as text: an id, a name, or a number."""
    if v is None or v == "":
        return None
    if isinstance(v, dict):
        v = v.get("id", v.get("name"))
        return None if v is None else str(v)
    return str(v)


def _text(v: Any) -> str:
    return sys.intern(v) if isinstance(v, str) else ""


def row_from_record(rec: Any, line: int = 0, offset: int = 0) -> SessionRow:
    """A row from one history record. ValueError when it is not a session record."""
    if not isinstance(rec, dict) or not isinstance(rec.get("outcome"), str):
        raise ValueError("not a session record")
    ended = _count(rec, "endedAt", -1)
    if ended < 0:
        raise ValueError("endedAt")
    started = rec.get("startedAt")
    started = int(started) if isinstance(started, (int, float)) and not isinstance(started, bool) else None
    duration = rec.get("durationS")
    if not isinstance(duration, (int, float)) or isinstance(duration, bool):
        duration = (ended - started) / 1000 if started is not None else None
    detail = rec.get("attemptsDetail")
    videos = _count(rec, "completedVideos")
    retries = _count(rec, "retriesAttempted")
    attempts = _count(rec, "attempts", len(detail) if isinstance(detail, list) and detail else videos + retries)
    downloads = rec.get("downloads")
    log_path = rec.get("logPath")
    return SessionRow(
        line=line,
        offset=offset,
        ended_at=ended,
        started_at=started,
        duration_s=float(duration) if duration is not None else None,
        post=_text(rec.get("postId") or rec.get("originalMediaId")),
        prompt=_text(rec.get("prompt")),
        outcome=sys.intern(rec["outcome"]),
        reason=rec.get("reason") if isinstance(rec.get("reason"), str) else "",
        videos=videos,
        goal=_count(rec, "videoGoal"),
        retries=retries,
        max_retries=_count(rec, "maxRetries"),
        credits=_count(rec, "creditsUsed"),
        l1=_count(rec, "layer1Failures"),
        l2=_count(rec, "layer2Failures"),
        l3=_count(rec, "layer3Failures"),
        attempts=attempts,
        batch=_label(rec.get("batch")),
        job=_label(rec.get("job")),
        log_path=log_path if isinstance(log_path, str) else None,
        downloads=len(downloads) if isinstance(downloads, list) else 0,
    )


# ---------------------------------------------------------------- reading the file


@dataclass
class HistoryReader:
    """history.jsonl, read incrementally. `sessions` is oldest first (file order)."""

    path: Path
    sessions: list[SessionRow] = field(default_factory=list)
    corrupt: int = 0  # lines that are not session records (skipped)
    partial: int = 0  # 1 when the last line is unfinished (read again at the next refresh)
    _offset: int = 0
    _line: int = 0
    _inode: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.path = Path(self.path)

    @property
    def skipped(self) -> int:
        return self.corrupt + self.partial

    def skipped_note(self) -> str:
        """'' or one sentence saying what was skipped."""
        parts = []
        if self.corrupt:
            parts.append(f"{self.corrupt} corrupt line{'s' if self.corrupt != 1 else ''}")
        if self.partial:
            parts.append("an unfinished last line")
        return f"Skipped {' and '.join(parts)} in {self.path}." if parts else ""

    def _reset(self) -> None:
        self.sessions, self.corrupt, self.partial, self._offset, self._line = [], 0, 0, 0, 0

    def refresh(self) -> list[SessionRow]:
        """Parse what was appended since the last call; returns the new rows. Raises HistoryError."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._reset()
            self._inode = None
            return []
        except OSError as exc:
            raise HistoryError(f"The history file {self.path} cannot be read ({exc.strerror or exc}).") from None
        inode = (st.st_dev, st.st_ino)
        if inode != self._inode or st.st_size < self._offset:  # replaced (kept aside and rewritten) or cut
            self._reset()
            self._inode = inode
        new: list[SessionRow] = []
        self.partial = 0
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                for raw in fh:
                    if not raw.endswith(b"\n"):
                        self.partial = 1 if raw.strip() else 0
                        break
                    offset = self._offset
                    self._offset += len(raw)
                    self._line += 1
                    if not raw.strip():
                        continue
                    try:
                        new.append(row_from_record(_decode(raw.decode("utf-8")), self._line, offset))
                    except (ValueError, TypeError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                        self.corrupt += 1
        except OSError as exc:
            raise HistoryError(f"The history file {self.path} cannot be read ({exc.strerror or exc}).") from None
        self.sessions.extend(new)
        return new

    def record(self, row: SessionRow) -> dict:
        """The full record behind a row (attemptsDetail, logPath, downloads, ...); {} if it is gone."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(row.offset)
                rec = json.loads(fh.readline())
            return rec if isinstance(rec, dict) else {}
        except (OSError, ValueError):
            return {}


def read_history(path: Path) -> HistoryReader:
    reader = HistoryReader(path)
    reader.refresh()
    return reader


# ---------------------------------------------------------------- filters


def parse_since(text: str) -> int:
    """'YYYY-MM-DD' (local midnight) or 'YYYY-MM-DD HH:MM[:SS]' / ISO 8601, as epoch ms."""
    raw = text.strip()
    try:
        when = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise HistoryError(f"--since {text!r} is not a date; use YYYY-MM-DD (or YYYY-MM-DDTHH:MM).") from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time
    return int(when.timestamp() * 1000)


@dataclass(frozen=True)
class Filter:
    since_ms: int | None = None
    prompt: str = ""  # case-insensitive text in the prompt
    text: str = ""  # case-insensitive text in the prompt or the post

    def __call__(self, row: SessionRow) -> bool:
        if self.since_ms is not None and row.ended_at < self.since_ms:
            return False
        if self.prompt and self.prompt.casefold() not in row.prompt.casefold():
            return False
        if self.text:
            t = self.text.casefold()
            if t not in row.prompt.casefold() and t not in row.post.casefold():
                return False
        return True


def select(rows: Iterable[SessionRow], flt: Filter | None = None) -> list[SessionRow]:
    return [r for r in rows if flt is None or flt(r)]


def newest_first(rows: Iterable[SessionRow]) -> list[SessionRow]:
    return sorted(rows, key=lambda r: (r.ended_at, r.line), reverse=True)


# ---------------------------------------------------------------- aggregates


def _add_counts(into: Any, r: SessionRow) -> None:
    into.videos += r.videos
    into.credits += r.credits
    into.l1 += r.l1
    into.l2 += r.l2
    into.l3 += r.l3


@dataclass(slots=True)
class PromptGroup:
    """The same prompt (exact text) across sessions and posts."""

    prompt: str
    sessions: int = 0
    successes: int = 0  # sessions whose outcome is success
    attempts: int = 0
    videos: int = 0
    credits: int = 0
    l1: int = 0
    l2: int = 0
    l3: int = 0
    last_ms: int = 0
    posts: set = field(default_factory=set)
    never_after: int = NEVER_AFTER

    @property
    def success_rate(self) -> float:
        """Share of its sessions that reached their goal (0..1)."""
        return self.successes / self.sessions if self.sessions else 0.0

    @property
    def credits_per_video(self) -> float | None:
        return self.credits / self.videos if self.videos else None

    @property
    def top_layer(self) -> str | None:
        """The layer that stopped it most often (the earlier layer on a tie); None if never moderated."""
        counts = (self.l1, self.l2, self.l3)
        best = max(counts)
        return LAYERS[counts.index(best)] if best else None

    @property
    def never_works(self) -> bool:
        """No video after at least `never_after` attempts: flagged for the user to rethink."""
        return self.videos == 0 and self.attempts >= self.never_after

    def add(self, r: SessionRow) -> None:
        self.sessions += 1
        self.successes += r.outcome == "success"
        self.attempts += r.attempts
        _add_counts(self, r)
        self.last_ms = max(self.last_ms, r.ended_at)
        if r.post:
            self.posts.add(r.post)

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "sessions": self.sessions,
            "successes": self.successes,
            "successRate": round(self.success_rate, 4),
            "attempts": self.attempts,
            "videos": self.videos,
            "credits": self.credits,
            "creditsPerVideo": None if self.credits_per_video is None else round(self.credits_per_video, 3),
            "l1": self.l1,
            "l2": self.l2,
            "l3": self.l3,
            "topLayer": self.top_layer,
            "posts": len(self.posts),
            "neverWorks": self.never_works,
        }


def by_prompt(rows: Iterable[SessionRow], never_after: int = NEVER_AFTER) -> list[PromptGroup]:
    """One group per prompt, most sessions first (then the most recently used)."""
    groups: dict[str, PromptGroup] = {}
    for r in rows:
        g = groups.get(r.prompt)
        if g is None:
            g = groups[r.prompt] = PromptGroup(r.prompt, never_after=never_after)
        g.add(r)
    return sorted(groups.values(), key=lambda g: (-g.sessions, -g.last_ms, g.prompt))


@dataclass(slots=True)
class DayTotals:
    """One local calendar day: session outcomes, attempt outcomes, credits."""

    day: str  # YYYY-MM-DD, local time
    sessions: int = 0
    success: int = 0
    failure: int = 0
    cancelled: int = 0
    videos: int = 0
    l1: int = 0
    l2: int = 0
    l3: int = 0
    credits: int = 0

    def add(self, r: SessionRow) -> None:
        self.sessions += 1
        if r.outcome == "success":
            self.success += 1
        elif r.outcome == "failure":
            self.failure += 1
        else:
            self.cancelled += 1
        _add_counts(self, r)


def by_day(rows: Iterable[SessionRow]) -> list[DayTotals]:
    """Per local day, oldest first (days without sessions are left out)."""
    days: dict[str, DayTotals] = {}
    for r in rows:
        key = r.day
        d = days.get(key)
        if d is None:
            d = days[key] = DayTotals(key)
        d.add(r)
    return [days[k] for k in sorted(days)]


def totals(rows: Iterable[SessionRow]) -> dict:
    t = {"sessions": 0, "success": 0, "failure": 0, "cancelled": 0, "videos": 0, "credits": 0,
         "retries": 0, "attempts": 0, "l1": 0, "l2": 0, "l3": 0}  # fmt: skip
    for r in rows:
        t["sessions"] += 1
        t[r.outcome if r.outcome in OUTCOMES else "cancelled"] += 1
        t["videos"] += r.videos
        t["credits"] += r.credits
        t["retries"] += r.retries
        t["attempts"] += r.attempts
        t["l1"] += r.l1
        t["l2"] += r.l2
        t["l3"] += r.l3
    return t


# ---------------------------------------------------------------- text helpers


def shorten(text: str, width: int) -> str:
    """One line, at most `width` characters, with an ellipsis when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def when_text(ms: int) -> str:
    return local_time(ms).strftime("%Y-%m-%d %H:%M")


def iter_export(rows: Iterable[SessionRow]) -> Iterator[dict]:
    for r in rows:
        yield r.to_dict()
