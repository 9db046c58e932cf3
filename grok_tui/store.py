"""Persistent state on disk: PersistentData per post, and the history of session summaries.

Every whole-file write is atomic (temp file in the same folder, fsync, rename);
history lines are appended with one write each. Files are readable by the user
only. A corrupt file is moved aside (kept, with a timestamp) and defaults are used.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .engine import PersistentData
from .engine.events import SessionSummary

STATE_FILE = "state.json"
HISTORY_FILE = "history.jsonl"


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def move_aside(path: Path) -> Path:
    """Rename a bad file to `<name>.corrupt-<timestamp>` (kept, never deleted)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(path, target)
    return target


@dataclass
class StateStore:
    directory: Path
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.directory = Path(self.directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._state = self._load_state()

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    @property
    def history_path(self) -> Path:
        return self.directory / HISTORY_FILE

    # ------------------------------------------------------------ persistent data

    def _load_state(self) -> dict:
        path = self.state_path
        if not path.exists():
            return {"last": None, "posts": {}}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("posts", {}), dict):
                raise ValueError("not a state object")
            if data.get("last") is not None:
                PersistentData.from_dict(data["last"])  # validates
            for value in data.get("posts", {}).values():
                PersistentData.from_dict(value)
            data.setdefault("posts", {})
            data.setdefault("last", None)
            return data
        except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            aside = move_aside(path)
            self.warnings.append(
                f"The state file {path} was corrupt ({_brief(exc)}); it was kept as {aside.name} and defaults are used."
            )
            return {"last": None, "posts": {}}

    def persistent_for(self, post_id: str | None) -> PersistentData | None:
        """Saved data for this post, else the last used values, else None."""
        raw = (self._state["posts"].get(post_id) if post_id else None) or self._state.get("last")
        return PersistentData.from_dict(raw) if raw else None

    def save_persistent(self, data: PersistentData, post_id: str | None) -> None:
        as_dict = data.to_dict()
        self._state["last"] = as_dict
        if post_id:
            self._state["posts"][post_id] = as_dict
        atomic_write_text(self.state_path, json.dumps(self._state, indent=2, ensure_ascii=False))

    # ------------------------------------------------------------ history

    def append_history(self, summary: SessionSummary, **more: object) -> dict:
        record = {**summary.to_dict(), **summary.extra, **more}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        path = self.history_path
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def history(self) -> list[dict]:
        """All recorded sessions, oldest first. A corrupt file is kept aside; its good lines survive."""
        path = self.history_path
        if not path.exists():
            return []
        good: list[dict] = []
        bad = 0
        try:
            text = path.read_text(encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            text, bad = path.read_bytes().decode("utf-8", errors="replace"), 1
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict) or "outcome" not in rec:
                    raise ValueError
                good.append(rec)
            except ValueError:
                bad += 1
        if bad:
            aside = move_aside(path)
            atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in good))
            self.warnings.append(
                f"The history file {path} had {bad} corrupt line(s); the original was kept as {aside.name} "
                f"and its {len(good)} good record(s) were kept."
            )
        return good

    def last_session(self) -> dict | None:
        records = self.history()
        return records[-1] if records else None


def _brief(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]
