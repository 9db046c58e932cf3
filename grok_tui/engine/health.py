"""Live signal health: which of the three sources (network stream, DOM, store) report the resolved attempts.

Pure: no I/O, no clock. The first signal resolves an attempt; the others still
report it and the engine adds them to the attempt's `sources`. An attempt is
judged once the late ones have had time to come (the engine judges it when the
next attempt starts). A source that reported an earlier attempt and is then
silent on QUIET_AFTER attempts of one kind in a row (moderations, or successes)
went quiet: one warning naming the signal, until it reports that kind again.
Nothing here changes how attempts are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

SOURCES = ("network", "dom", "store")
QUIET_AFTER = 3
KINDS = ("success", "moderated")

SOURCE_NAMES = {"network": "the network stream", "dom": "the DOM", "store": "useMediaStore"}
SIGNAL_NAMES = {
    ("network", "moderated"): "the network stream's moderation flag",
    ("network", "success"): "the network stream's finished video",
    ("dom", "moderated"): "the DOM moderation toast",
    ("dom", "success"): "the DOM video element",
    ("store", "moderated"): "useMediaStore's moderated entry",
    ("store", "success"): "useMediaStore's video entry",
}
KIND_PLURAL = {"success": "successes", "moderated": "moderations"}

# What a source's mark means (the session pane shows one per source).
UNSEEN, OK, QUIET, LOST = "unseen", "ok", "quiet", "lost"


@dataclass
class SourceHealth:
    reported: int = 0  # judged attempts it reported
    last: bool | None = None  # it reported the last judged attempt (None: none judged yet)
    quiet: dict[str, int] = field(default_factory=dict)  # kind -> attempts of that kind in a row it missed
    warned: set[str] = field(default_factory=set)  # kinds already warned about (until it reports again)

    @property
    def state(self) -> str:
        if not self.reported:
            return UNSEEN
        if any(n >= QUIET_AFTER for n in self.quiet.values()):
            return LOST
        return OK if self.last else QUIET


@dataclass(frozen=True)
class HealthNote:
    """What judging one attempt has to say: a WARN when a signal went quiet, an INFO when it is back."""

    level: str
    message: str


class SignalHealth:
    def __init__(self) -> None:
        self.sources = {name: SourceHealth() for name in SOURCES}
        self.judged = 0

    def state(self, source: str) -> str:
        return self.sources[source].state

    def judge(self, attempt: int, kind: str, reported: Iterable[str]) -> list[HealthNote]:
        """Attempt `attempt` resolved as `kind` ("success" or "moderated"), reported by `reported`."""
        reported = set(reported)
        if kind not in KINDS or "postlist" in reported:
            return []  # found in the post list after a reload: the live sources had no chance to report it
        got = [s for s in SOURCES if s in reported]
        self.judged += 1
        notes: list[HealthNote] = []
        for name, h in self.sources.items():
            if name in got:
                if kind in h.warned:
                    notes.append(HealthNote("INFO", f"{SIGNAL_NAMES[(name, kind)]} reports again (attempt {attempt})"))
                h.reported += 1
                h.last = True
                h.quiet[kind] = 0
                h.warned.discard(kind)
                continue
            h.last = False
            if not h.reported:
                continue  # it never reported: nothing to miss (the doctor says why)
            n = h.quiet[kind] = h.quiet.get(kind, 0) + 1
            if n >= QUIET_AFTER and kind not in h.warned:
                h.warned.add(kind)
                by = " and ".join(SOURCE_NAMES[s] for s in got) or "no other source"
                notes.append(HealthNote(
                    "WARN",
                    f"{SIGNAL_NAMES[(name, kind)]} went quiet: the last {n} {KIND_PLURAL[kind]} (up to attempt {attempt}) "
                    f"were reported by {by}, not by {SOURCE_NAMES[name]}; Grok may have changed its page: run "
                    "`grok-tui doctor` (in the UI: \"page: check\") and set [selectors]",
                ))
        return notes
