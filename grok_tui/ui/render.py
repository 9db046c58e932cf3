"""Text for the session pane and header, from the engine's state. No widgets here: easy to test."""

from __future__ import annotations

from typing import Any

from ..engine import Phase
from ..engine.state import OUTCOME_MARKS, short_id

OUTCOME_STYLE = {"success": "$success", "failure": "$error", "cancelled": "$warning"}


def esc(text: object) -> str:
    """Escape Textual/Rich markup in free text."""
    return str(text).replace("[", r"\[")


def mmss(seconds: float) -> str:
    s = max(0, int(seconds + 0.999))  # round up: "in 0:01" until it is due
    return f"{s // 60}:{s % 60:02d}"


def counts_text(engine: Any) -> str:
    s, p = engine.session, engine.persistent
    return f"🎬 {s.videos_generated}/{p.video_goal} · 🔄 {s.retry_count}/{p.max_retries}"


def status_markup(engine: Any, now: float) -> str:
    """The first line of the session pane: where the session is, in colour."""
    phase = engine.phase
    s = engine.session
    if phase == Phase.IDLE:
        return "[b $text-muted]○ IDLE[/] · press [b]s[/] to start"
    if phase == Phase.ENDED:
        summary = s.last_session_summary
        outcome = summary.outcome if summary else s.last_session_outcome
        style = OUTCOME_STYLE.get(outcome, "$text")
        reason = (summary.extra.get("reason") if summary else "") or ""
        return f"[b {style}]{OUTCOME_MARKS.get(outcome, '')} {outcome.upper()}[/] · {esc(reason)}"
    nxt = engine.next_action
    if phase in (Phase.RETRY_WAIT, Phase.NEXT_VIDEO) and nxt:
        label, at = nxt
        return f"[b $warning]◐ COOLDOWN[/] · {esc(label)} in {mmss(at - now)}"
    if phase == Phase.MANUAL_WAIT:
        if getattr(engine, "held_for_options", False):
            return "[b $warning]◆ PAUSED[/] · options changed: set them back on the page, then [b]s[/]"
        return "[b $warning]◆ WAITING[/] · moderated, auto-retry off: [b]s[/] retries"
    if phase == Phase.CLICKING:
        if nxt and nxt[0] != "timeout":
            return f"[b $warning]◐ COOLDOWN[/] · {esc(nxt[0])} in {mmss(nxt[1] - now)}"
        return "[b $success]● RUNNING[/] · clicking Make video"
    # DETECTING: cooldown after the click, then waiting for the outcome
    return "[b $success]● RUNNING[/] · waiting for outcome"


def next_markup(engine: Any, now: float) -> str:
    phase = engine.phase
    if phase == Phase.IDLE:
        return "[$text-muted]next: start a session (s)[/]"
    if phase == Phase.ENDED:
        summary = engine.session.last_session_summary
        dur = summary.extra.get("durationS") if summary else None
        took = f"took {mmss(float(dur))} · " if dur is not None else ""
        return f"[$text-muted]{took}s starts a new session[/]"
    if phase == Phase.MANUAL_WAIT:
        return "next: [b]your call[/] (s retry · a auto-retry · c cancel)"
    nxt = engine.next_action
    if nxt is None:
        return "next: –"
    label, at = nxt
    if label == "timeout":
        return f"next: outcome, timeout in [b]{mmss(at - now)}[/]"
    return f"next: [b]{esc(label)}[/] in [b]{mmss(at - now)}[/]"


def attempt_markup(engine: Any) -> tuple[str, float | None]:
    """Label and progress (0-100, None: no attempt) for the current attempt bar."""
    a = engine.current
    if a is None:
        return "attempt –", None
    return f"attempt {a.number}", float(a.max_progress)


def counters_markup(engine: Any, options: dict | None = None, saved: tuple[int, int] | None = None) -> list[str]:
    """The counters; `options` (the session's generation options) and `saved` (videos saved, failed) when known."""
    s, p = engine.session, engine.persistent
    timings = engine.timings
    auto = "[b $success]ON[/]" if p.auto_retry_enabled else "[b $warning]OFF[/]"
    lines = [
        f"retries  [b]{s.retry_count} / {p.max_retries}[/]     credits [b]{s.credits_used}[/]",
        f"layers   L1 [b]{s.layer1_failures}[/] · L2 [b]{s.layer2_failures}[/] · L3 [b]{s.layer3_failures}[/]",
        f"auto-retry {auto}   cooldown {timings.cooldown_s:g} s",
    ]
    if options:
        from ..browser.options import summary

        lines.append(f"options  {esc(summary(options))}")
    if saved and any(saved):
        failed = f" · [b $error]{saved[1]} not saved[/]" if saved[1] else ""
        lines.append(f"saved    [b]{saved[0]}[/] video(s){failed}")
    return lines


HEALTH_MARKS = {"ok": ("●", "$success"), "quiet": ("◐", "$warning"), "lost": ("✖", "$error"), "unseen": ("·", "$text-muted")}
HEALTH_LABELS = (("network", "net"), ("dom", "dom"), ("store", "store"))


def health_markup(engine: Any) -> str:
    """One small mark per signal source: ● reported the last attempt, ◐ missed it, ✖ went quiet, · not seen yet."""
    health = getattr(engine, "health", None)
    if health is None:
        return ""
    parts = []
    for source, label in HEALTH_LABELS:
        mark, style = HEALTH_MARKS.get(health.state(source), ("?", "$text"))
        parts.append(f"{label} [{style}]{mark}[/]")
    return "signals " + " ".join(parts)


def browser_version(info: Any) -> str:
    raw = str(getattr(info, "browser", "") or "")
    if "/" in raw:
        name, ver = raw.split("/", 1)
        name = "Chrome" if "chrome" in name.lower() else name
        return f"{name} {ver.split('.', 1)[0]}"
    return raw or "Chrome ?"


def connection_markup(
    attached: bool, detail: str, info: Any, identity: Any, media_id: str | None, stats: Any = None
) -> tuple[str, str]:
    """Two lines for the header: (browser + state + tab title, tab url + ids [+ page signals dropped])."""
    if not attached:
        line1 = f"[b]grok-tui[/] ─ [b $error]○ not attached[/] · {esc(detail or 'no browser')}"
        return line1, "[$text-muted]start Chrome with `grok-tui chrome`, then restart grok-tui[/]"
    ident = identity or getattr(info, "identity", None)
    url = str(getattr(ident, "url", "") or "")
    for prefix in ("https://", "http://"):
        if url.startswith(prefix):
            url = url[len(prefix) :]
    title = str(getattr(ident, "title", "") or "")
    full_post = getattr(ident, "post_id", None)
    post = short_id(full_post)
    if full_post and len(url) > 40:
        url = url.replace(full_post, post)
    line1 = f"[b]grok-tui[/] ─ {esc(browser_version(info))} ─ [b $success]● attached[/] ─ {esc(title)}"
    line2 = f"[$text-muted]{esc(url)}[/] · post {esc(post)} · image {esc(short_id(media_id))}"
    endpoint = str(getattr(info, "endpoint", "") or "")
    if endpoint:  # where the browser was found: host:port via DevToolsActivePort / --cdp-url / ...
        line2 += f" · [$text-muted]{esc(endpoint)}[/]"
    if stats is not None and stats.dropped:
        line2 += f" · [$warning]{stats.dropped} junk page signal(s) dropped[/]"
    return line1, line2
