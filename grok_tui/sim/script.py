"""The sim's outcome script: one token per generation request.

Grammar (comma-separated string or list):
  ok          progress 0..100 in `steps` steps, then success
  mod@N       progress up to N, then a moderated object with progress N (N=0: at once)
  rate        HTTP 429, no stream; the page shows the rate-limit toast
  silent      a few progress objects (up to ~30) then the stream just ends
Any token may carry a timing suffix `/MS` (step_ms for that attempt), e.g. `ok/50`, and then
a dialog suffix `+chooser:S` or `+banner:S`: when that attempt ends, a dialog covering the
generate button shows for S seconds (Grok's "Which video do you prefer?" chooser, or an
announcement banner), e.g. `ok+chooser:3`, `ok/50+banner:2.5`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"^(ok|rate|silent|mod@(\d{1,3}(?:\.\d+)?))(?:/(\d+(?:\.\d+)?))?(?:\+(chooser|banner):(\d+(?:\.\d+)?))?$"
)
DIALOG_KINDS = ("chooser", "banner")


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok" | "mod" | "rate" | "silent"
    token: str  # the token as written (normalized)
    mod_at: float = 0.0  # progress of the moderation for kind == "mod"
    step_ms: float | None = None  # per-attempt step override
    dialog: tuple[str, float] | None = None  # (kind, seconds) shown when the attempt ends


def parse_token(token: str) -> Outcome:
    tok = str(token).strip().lower()
    m = _TOKEN.match(tok)
    if not m:
        raise ValueError(
            f"bad sim script token {token!r} (expected ok, mod@N, rate, silent, optionally /MS, then +chooser:S or +banner:S)"
        )
    step = float(m.group(3)) if m.group(3) else None
    dialog = (m.group(4), float(m.group(5))) if m.group(4) else None
    if dialog is not None and dialog[1] <= 0:
        raise ValueError(f"bad sim script token {token!r}: a dialog lasts more than 0 s")
    if m.group(2) is not None:
        n = float(m.group(2))
        if n > 100:
            raise ValueError(f"bad sim script token {token!r}: moderation progress must be 0..100")
        return Outcome("mod", tok, mod_at=int(n) if n.is_integer() else n, step_ms=step, dialog=dialog)
    return Outcome(m.group(1), tok, step_ms=step, dialog=dialog)


def parse_script(script) -> list[Outcome]:
    """A list of Outcomes from a comma-separated string or a list of tokens."""
    if script is None:
        return []
    if isinstance(script, str):
        tokens = [t for t in (p.strip() for p in script.split(",")) if t]
    else:
        tokens = [str(t).strip() for t in script if str(t).strip()]
    return [parse_token(t) for t in tokens]
