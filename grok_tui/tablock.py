"""One controller per tab: an exclusive file lock per browser target in the state dir.

`flock` on `<state>/locks/tab-<target id>.lock`: the kernel releases it when the
process ends, however it ends, so a crash never leaves a tab locked. The file holds
who holds it (pid, command, host, since) so a second instance can name the holder.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import sys
import time
from pathlib import Path


class TabBusy(Exception):
    """Another grok-tui controls this tab; `str()` is one sentence naming it."""

    def __init__(self, target_id: str, holder: dict):
        self.target_id, self.holder = target_id, dict(holder)
        super().__init__(f"Another grok-tui controls this tab: {describe_holder(holder)}; stop it first, or watch read-only in the UI.")


def describe_holder(holder: dict) -> str:
    pid = holder.get("pid", "?")
    cmd = str(holder.get("command") or "grok-tui")[:80]
    host = holder.get("host")
    since = holder.get("since")
    where = f" on {host}" if host and host != socket.gethostname() else ""
    when = ""
    if isinstance(since, (int, float)):
        when = time.strftime(" since %H:%M:%S", time.localtime(since))
    return f"pid {pid}{where} ({cmd}){when}"


def me(command: str | None = None) -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command or " ".join(["grok-tui", *sys.argv[1:3]])[:80],
        "since": time.time(),
    }


def _name(target_id: str) -> str:
    return "tab-" + (re.sub(r"[^A-Za-z0-9_-]", "_", target_id)[:100] or "unknown") + ".lock"


class TabLock:
    """Held lock on one target; `release()` (or process exit) frees it."""

    def __init__(self, directory: Path, target_id: str, fd: int, holder: dict):
        self.directory, self.target_id, self._fd, self.holder = directory, target_id, fd, holder

    @classmethod
    def acquire(cls, directory: Path, target_id: str, holder: dict | None = None) -> "TabLock":
        """Take the lock or raise TabBusy naming the holder. OSError if the folder is unusable."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / _name(target_id)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                raw = os.pread(fd, 4096, 0)
                other = json.loads(raw.decode("utf-8")) if raw else {}
            except (OSError, ValueError):
                other = {}
            os.close(fd)
            raise TabBusy(target_id, other if isinstance(other, dict) else {}) from None
        except OSError:
            os.close(fd)
            raise
        info = dict(holder or me(), target=target_id)
        data = json.dumps(info).encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        return cls(directory, target_id, fd, info)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # the file stays (removing it would race a new holder); it just names no one
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass
        finally:
            os.close(fd)


def holder_of(directory: Path, target_id: str) -> dict | None:
    """Who holds the target's lock (None if nobody does)."""
    try:
        lock = TabLock.acquire(directory, target_id, {"probe": True})
    except TabBusy as busy:
        return busy.holder
    except OSError:
        return None
    lock.release()
    return None


__all__ = ["TabBusy", "TabLock", "describe_holder", "holder_of", "me"]
