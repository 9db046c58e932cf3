"""The one Textual message that carries a runner notice (grok_tui.notices) into the app's queue.

The runner calls the app's listener on Textual's own loop; the listener posts the
notice wrapped in `RunnerNotice`, so the runner's step never waits on a repaint.
High-rate notices (progress, phase, title, signal counters, the tab list) let a newer one
replace a queued one.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from ..notices import Notice, PhaseChanged, ProgressChanged, SetTitle, SignalStats, TabsChanged


@dataclass
class RunnerNotice(Message):
    """A notice from the session runner, handled by the app with `match`."""

    notice: Notice

    def can_replace(self, message: Message) -> bool:
        if not isinstance(message, RunnerNotice):
            return False
        mine, queued = self.notice, message.notice
        match mine, queued:
            case ProgressChanged(record=new), ProgressChanged(record=old):
                return new.get("attempt") == old.get("attempt")
            case (
                (PhaseChanged(), PhaseChanged()) | (SetTitle(), SetTitle())
                | (SignalStats(), SignalStats()) | (TabsChanged(), TabsChanged())
            ):
                return True
        return False
