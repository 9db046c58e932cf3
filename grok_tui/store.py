"""Persistent state on disk: PersistentData per post, and the history of session summaries.

Every whole-file write is atomic (temp file in the same folder, fsync, rename); each
history record is appended with one write of its whole line, and a failed append is cut
back off. Files are readable by the user only, and never opened through a symbolic link.
The state file is checked against a schema field by field: a bad field falls back to its
default (one warning); an unreadable file (not JSON, too deep, binary, a directory, ...)
is kept aside with a timestamp and defaults are used (one warning).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .engine import PersistentData
from .engine.events import SessionSummary

STATE_FILE = "state.json"
HISTORY_FILE = "history.jsonl"
LOGS_DIR = "logs"
MAX_STATE_BYTES = 16 * 1024 * 1024
# One history line is one session's summary and its attempt records; nothing sane is bigger.
MAX_HISTORY_LINE_BYTES = 4 * 1024 * 1024
# Settings that also live in the stored record: setting name -> PersistentData field.
PINNABLE = {"max_retries": "max_retries", "video_goal": "video_goal", "auto_retry": "auto_retry_enabled"}


class StateError(Exception):
    """The state folder cannot be used; the message is one sentence for the user."""


class UnsafePath(OSError):
    """A state file is a symbolic link (or not a regular file): grok-tui does not open it."""


# ---------------------------------------------------------------- files


def refuse_link(path: Path) -> None:
    """Raise UnsafePath when `path` is a symbolic link (a file planted to redirect our writes)."""
    if path.is_symlink():
        raise UnsafePath(
            errno.ELOOP,
            f"{path} is a symbolic link; grok-tui does not follow links in its state folder (remove it)",
        )


def open_append(path: Path) -> int:
    """A file descriptor for appending to `path` (created 0600), never through a symlink."""
    try:
        return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            refuse_link(path)
        raise


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file (not a link, FIFO or directory), at most `limit` + 1 of them."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # replaces a link itself, never writes through it
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def move_aside(path: Path) -> Path:
    """Rename a bad file (or directory) to `<name>.corrupt-<timestamp>` (kept, never deleted)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists() or target.is_symlink():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    return target


def check_writable(directory: Path) -> None:
    """Raise StateError (one sentence) unless grok-tui can create files in `directory`."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, probe = tempfile.mkstemp(prefix=".grok-tui-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise StateError(
            f"The state folder {directory} is not writable ({exc.strerror or exc}); "
            "fix its permissions or set GROK_TUI_STATE_DIR to a folder you can write."
        ) from None


# ---------------------------------------------------------------- the state file's schema


def _no_videos() -> list[str]:
    """An empty video group. Not `list` itself: pydantic reads a default factory's signature when the
    model is built, and a builtin's is parsed from its text with `tokenize` (~5 ms of every start)."""
    return []


class PersistentRecord(BaseModel):
    """The seed's PersistentData as stored, with its camelCase keys. Strict: no coercion."""

    model_config = ConfigDict(strict=True, extra="ignore")

    maxRetries: int = Field(3, ge=1, le=50)
    autoRetryEnabled: bool = True
    lastPromptValue: str = ""
    videoGoal: int = Field(1, ge=1, le=50)
    videoGroup: list[str] = Field(default_factory=_no_videos)
    originalMediaId: str | None = None

    def to_persistent(self) -> PersistentData:
        return PersistentData(
            max_retries=self.maxRetries,
            auto_retry_enabled=self.autoRetryEnabled,
            last_prompt_value=self.lastPromptValue,
            video_goal=self.videoGoal,
            video_group=list(self.videoGroup),
            original_media_id=self.originalMediaId,
        )


def _describe(err: dict) -> str:
    msg = str(err.get("msg", "bad value")).removeprefix("Value error, ")
    return f"{msg[:1].lower()}{msg[1:]}"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def parse_record(raw: Any, where: str, problem) -> PersistentRecord | None:
    """A stored record, each bad field replaced by its default (and told to `problem`)."""
    if not isinstance(raw, dict):
        problem(f"{where} is not an object ({_short_repr(raw)}), ignored")
        return None
    data = dict(raw)
    for _ in range(len(PersistentRecord.model_fields) + 1):
        try:
            return PersistentRecord.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                name = str(err["loc"][0]) if err.get("loc") else ""
                if name in data:
                    default = PersistentRecord.model_fields[name].get_default(call_default_factory=True)
                    problem(f"{where}.{name} = {_short_repr(data[name])}: {_describe(err)}, default {default!r} used")
                    del data[name]
    return None  # pragma: no cover - every bad field was dropped above


# ---------------------------------------------------------------- the store


@dataclass
class StateStore:
    directory: Path
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        check_writable(self.directory)
        for path in (self.state_path, self.history_path, self.directory / LOGS_DIR):
            try:
                refuse_link(path)
            except UnsafePath as exc:
                raise StateError(f"The state file {exc.strerror}.") from None
        self._state = self._load_state()

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    @property
    def history_path(self) -> Path:
        return self.directory / HISTORY_FILE

    def _warn(self, message: str) -> None:
        self.warnings.append(message)

    def _kept_aside(self, path: Path, why: str) -> None:
        try:
            aside = move_aside(path)
            kept = f"it was kept as {aside.name}"
        except OSError as exc:
            kept = f"it could not be moved aside ({exc.strerror or exc})"
        self._warn(f"The {'state' if path == self.state_path else 'history'} file {path} was corrupt ({why}); {kept} and defaults are used.")

    # ------------------------------------------------------------ persistent data

    def _load_state(self) -> dict:
        empty: dict = {"last": None, "posts": {}}
        path = self.state_path
        if not os.path.lexists(path):
            return empty
        try:
            raw = read_regular(path, MAX_STATE_BYTES)
            if len(raw) > MAX_STATE_BYTES:
                raise ValueError(f"larger than {MAX_STATE_BYTES // (1024 * 1024)} MB")
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"a JSON {type(data).__name__}, not an object")
        except RecursionError:
            self._kept_aside(path, "nested too deeply")
            return empty
        except (ValueError, UnicodeDecodeError, OSError) as exc:
            self._kept_aside(path, _brief(exc))
            return empty
        return self._validated(data)

    def _validated(self, data: dict) -> dict:
        """Field by field: a bad field gets its default. When any was bad, the original file is
        kept aside, the cleaned state written in its place, and one warning names the fields."""
        problems: list[str] = []
        out: dict = {"last": None, "posts": {}}
        last = data.get("last")
        if last is not None:
            rec = parse_record(last, "last", problems.append)
            out["last"] = rec.model_dump() if rec else None
        posts = data.get("posts", {})
        if not isinstance(posts, dict):
            problems.append(f"posts = {_short_repr(posts)}: not an object, ignored")
            posts = {}
        for post_id, value in posts.items():
            rec = parse_record(value, f"posts[{post_id!r}]", problems.append)
            if rec is not None:
                out["posts"][post_id] = rec.model_dump()
        if problems:
            path = self.state_path
            shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            try:
                aside = move_aside(path)
                atomic_write_text(path, json.dumps(out, indent=2, ensure_ascii=False))
                kept = f"the original was kept as {aside.name}"
            except OSError as exc:
                kept = f"the file could not be rewritten ({exc.strerror or exc})"
            self._warn(f"The state file {path} had bad values ({shown}); {kept}.")
        return out

    def persistent_for(self, post_id: str | None) -> PersistentData | None:
        """Saved data for this post, else the last used values, else None."""
        raw = (self._state["posts"].get(post_id) if post_id else None) or self._state.get("last")
        return PersistentRecord.model_validate(raw).to_persistent() if raw else None

    def restore_for(self, post_id: str | None, settings: Any) -> PersistentData | None:
        """What to restore on attaching to `post_id`: its record, else the last used one, with
        every setting given by a flag or the environment (`settings.pinned()`) winning."""
        stored = self.persistent_for(post_id)
        if stored is None:
            return None
        pinned = settings.pinned()
        return replace(stored, **{f: getattr(settings, name) for name, f in PINNABLE.items() if name in pinned})

    def save_persistent(self, data: PersistentData, post_id: str | None) -> None:
        as_dict = data.to_dict()
        self._state["last"] = as_dict
        if post_id:
            self._state["posts"][post_id] = as_dict
        atomic_write_text(self.state_path, json.dumps(self._state, indent=2, ensure_ascii=False))

    # ------------------------------------------------------------ history

    def append_history(self, summary: SessionSummary, **more: object) -> dict:
        """Append one record as one line, written whole or not at all."""
        record = {**summary.to_dict(), **summary.extra, **more}
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        fd = open_append(self.history_path)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # an earlier broken tail stays a line of its own
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(errno.ENOSPC, f"only {written} of {len(line)} bytes written")
                os.fsync(fd)
            except OSError:
                try:
                    os.ftruncate(fd, size)  # no half line is left behind
                except OSError:
                    pass
                raise
        finally:
            os.close(fd)
        return record

    def history(self) -> list[dict]:
        """All recorded sessions, oldest first. Bad lines are skipped; the file is then kept aside
        and rewritten with its good records (each one on its own line)."""
        path = self.history_path
        if not os.path.lexists(path):
            return []
        try:
            raw = read_regular(path, 1 << 40)
        except OSError as exc:
            self._kept_aside(path, _brief(exc))
            return []
        good: list[dict] = []
        bad = 0
        for chunk in raw.split(b"\n"):
            if not chunk.strip():
                continue
            try:
                if len(chunk) > MAX_HISTORY_LINE_BYTES:
                    raise ValueError("line too long")
                rec = json.loads(chunk.decode("utf-8"))
                if not isinstance(rec, dict) or "outcome" not in rec:
                    raise ValueError("not a session record")
                good.append(rec)
            except (ValueError, UnicodeDecodeError, RecursionError):
                bad += 1
        if bad:
            try:
                aside = move_aside(path)
                atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in good))
                kept = f"the original was kept as {aside.name}"
            except OSError as exc:
                kept = f"the file could not be rewritten ({exc.strerror or exc})"
            self._warn(
                f"The history file {path} had {bad} corrupt line(s); {kept} and its {len(good)} good record(s) were kept."
            )
        return good

    def last_session(self) -> dict | None:
        records = self.history()
        return records[-1] if records else None


def _brief(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]
