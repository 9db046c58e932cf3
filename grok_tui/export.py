"""Export a session (the current or the last recorded one): its full log, attempts table and summary, as files.

Pure functions, no Textual: the UI's `e` and the headless run use them. Every exported
line goes through `grok_tui.redact.redact`. Files are written with mode 0600 as a
timestamped pair `grok-tui-session-YYYYmmdd-HHMMSS.json` / `.txt`. The attempts
table's columns (`COLUMNS`, `attempt_row`) are the screen's too.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .engine.state import OUTCOME_MARKS
from .redact import redact
from .settings import data_dir

PREFIX = "grok-tui-session-"

# The attempts table, in the export's text and on the screen.
COLUMNS = ("#", "started", "outcome", "max %", "layer", "took", "video")
_OUTCOME_WORDS = {"rate_limited": "rate limit", "click_failed": "click failed"}


def outcome_text(outcome: object) -> str:
    """An attempt's outcome with its mark: "✔ success", "■ rate limit", ..."""
    word = str(outcome)
    mark = OUTCOME_MARKS.get(word)
    return f"{mark} {_OUTCOME_WORDS.get(word, word)}" if mark else word


class ExportError(Exception):
    """Nothing to export, or the files could not be written; one sentence for the user."""


@dataclass
class SessionExport:
    """What gets exported: plain data, already gathered."""

    summary: dict | None
    attempts: list[dict]
    log_lines: list[str]
    log_path: str | None = None
    prompt: str | None = None
    active: bool = False
    extra: dict = field(default_factory=dict)


def export_dir(configured: Path | str | None) -> Path:
    """settings.export_dir, else <XDG data dir>/exports."""
    return Path(configured).expanduser() if configured else data_dir() / "exports"


def read_log(path: str | Path | None, fallback: Iterable[str] = ()) -> list[str]:
    """Every line of the session's log file; the in-memory lines when there is no file."""
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
            return text.splitlines()
        except OSError:
            pass
    return [str(x) for x in fallback]


def gather_from_runner(runner: Any) -> SessionExport:
    """The current session (running or just ended) or, failing that, the last recorded one."""
    engine = runner.engine
    session = engine.session
    has_current = engine.phase.active or engine.phase.value == "ended" or bool(session.attempt_progress)
    if has_current:
        summary = session.last_session_summary
        summary_dict = {**summary.to_dict(), **summary.extra} if summary is not None else None
        log_path = str(runner.logbook.path) if runner.logbook.path else None
        return SessionExport(
            summary=summary_dict,
            attempts=[a.to_dict() for a in session.attempt_progress],
            log_lines=read_log(log_path, (ln.format() for ln in runner.logbook.lines)),
            log_path=log_path,
            prompt=engine.prompt or engine.persistent.last_prompt_value,
            active=engine.phase.active,
            extra={
                "videosGenerated": session.videos_generated,
                "retryCount": session.retry_count,
                "creditsUsed": session.credits_used,
                "layer1Failures": session.layer1_failures,
                "layer2Failures": session.layer2_failures,
                "layer3Failures": session.layer3_failures,
                "videoGoal": engine.persistent.video_goal,
                "maxRetries": engine.persistent.max_retries,
                "options": getattr(runner, "session_options", None),
                "downloads": [r.to_event() for r in getattr(getattr(runner, "saves", None), "results", [])],
            },
        )
    record = runner.store.last_session()
    if record is None:
        raise ExportError("There is no session to export yet: start one first.")
    log_path = record.get("logPath")
    return SessionExport(
        summary={k: v for k, v in record.items() if k not in ("attemptsDetail",)},
        attempts=list(record.get("attemptsDetail") or []),
        log_lines=read_log(log_path),
        log_path=log_path,
    )


def _open_new(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _redact_obj(obj: Any) -> Any:
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: _redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_redact_obj(v) for v in obj]
    return obj


def _clock(ms: int | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) if ms else "–"


def attempt_row(rec: dict, video_chars: int | None = None) -> list[str]:
    """One attempt as table cells: #, started, outcome, max %, layer, took, video (cut to `video_chars`)."""
    took = rec.get("durationS")
    video = rec.get("videoId")
    return [
        str(rec.get("attempt", "?")),
        _clock(rec.get("startedAt")),
        outcome_text(rec.get("outcome")),
        f"{float(rec.get('maxProgress') or 0):.0f}",
        str(rec["layer"]) if rec.get("layer") else "–",
        f"{took:.0f} s" if isinstance(took, (int, float)) else "–",
        (video[:video_chars] + "…") if video and video_chars and len(video) > video_chars + 1 else (video or "–"),
    ]


def render_text(data: SessionExport, exported_at: float) -> str:
    lines = [f"grok-tui session export — {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(exported_at))}", ""]
    s = data.summary
    if s:
        lines += [
            "Summary",
            f"  outcome      {s.get('outcome')}" + (f" ({s['reason']})" if s.get("reason") else ""),
            f"  videos       {s.get('completedVideos')} / {s.get('videoGoal')}",
            f"  retries      {s.get('retriesAttempted')} / {s.get('maxRetries')}",
            f"  credits      {s.get('creditsUsed')}",
            f"  layers       L1 {s.get('layer1Failures')} · L2 {s.get('layer2Failures')} · L3 {s.get('layer3Failures')}",
        ]
        if s.get("durationS") is not None:
            lines.append(f"  duration     {float(s['durationS']):.1f} s")
        lines.append(f"  ended at     {_clock(s.get('endedAt'))}")
    else:
        lines += ["Summary", "  (session still running)" if data.active else "  (none)"]
    if data.prompt:
        lines += ["", "Prompt", "  " + data.prompt]
    options = data.extra.get("options") or (s or {}).get("options")
    if options:
        from .browser.options import summary as options_summary

        lines += ["", "Generation options (first attempt)", "  " + options_summary(options)]
    saved = data.extra.get("downloads") or []
    if saved:
        lines += ["", "Saved videos"]
        for d in saved:
            what = d.get("path") if d.get("path") else f"not saved: {d.get('error')}"
            lines.append(f"  {str(d.get('videoId'))[:8]}  {what}")
    lines += ["", "Attempts"]
    rows = [list(COLUMNS)] + [attempt_row(a) for a in data.attempts]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    for r in rows:
        lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    lines += ["", f"Log ({len(data.log_lines)} lines)"]
    lines += data.log_lines
    return "\n".join(redact(line) for line in lines) + "\n"


def write_export(data: SessionExport, directory: Path | str, *, now: float | None = None) -> tuple[Path, Path]:
    """Write the pair of files; return (json_path, txt_path). Raises ExportError."""
    now = time.time() if now is None else now
    directory = Path(directory).expanduser()
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ExportError(f"Could not create the export folder {directory}: {exc.strerror or exc}.") from None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    payload = {
        "exportedAt": int(now * 1000),
        "active": data.active,
        "summary": data.summary,
        "attempts": data.attempts,
        "prompt": data.prompt,
        "logPath": data.log_path,
        "counters": data.extra,
        "log": data.log_lines,
    }
    payload = _redact_obj(payload)
    text = render_text(data, now)
    n = 0
    while True:
        base = f"{PREFIX}{stamp}" + (f"-{n}" if n else "")
        jpath, tpath = directory / f"{base}.json", directory / f"{base}.txt"
        try:
            jfd = _open_new(jpath)
        except FileExistsError:
            n += 1
            continue
        except OSError as exc:
            raise ExportError(f"Could not write {jpath}: {exc.strerror or exc}.") from None
        try:
            tfd = _open_new(tpath)
        except FileExistsError:
            os.close(jfd)
            os.unlink(jpath)
            n += 1
            continue
        except OSError as exc:
            os.close(jfd)
            raise ExportError(f"Could not write {tpath}: {exc.strerror or exc}.") from None
        break
    with os.fdopen(jfd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    with os.fdopen(tfd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return jpath, tpath
