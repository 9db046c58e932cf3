"""Telling a person who is away that a batch is over: the terminal bell and one desktop notification.

No Textual. `notifier()` finds the platform's notifier (notify-send on Linux/BSD,
osascript on macOS); `notify()` runs it once with a timeout and never raises.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

TIMEOUT_S = 5.0


def notifier() -> list[str] | None:
    """The command (without the message) that shows a desktop notification here, or None."""
    if sys.platform == "darwin" and shutil.which("osascript"):
        return ["osascript", "-e"]
    exe = shutil.which("notify-send")
    return [exe, "--app-name=grok-tui"] if exe else None


def notify(title: str, body: str) -> bool:
    """Show one desktop notification; False when there is no notifier or it failed."""
    cmd = notifier()
    if cmd is None:
        return False
    if cmd[0].endswith("osascript"):
        quote = lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'  # noqa: E731
        argv = [*cmd, f"display notification {quote(body)} with title {quote(title)}"]
    else:
        argv = [*cmd, "--", title, body]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
