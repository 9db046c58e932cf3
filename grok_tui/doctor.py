"""`grok-tui doctor`: attach to the chosen tab, check every signal a session relies on, say what to put in `[selectors]`.

The page logic lives in grok_tui.browser.probe. This module attaches the way a
session does (one controller per tab: the tab lock first), formats the report as
text or JSON and the `[selectors]` TOML lines, and picks the exit code: 0 every
essential signal (editor, button, image id) found, 1 one is missing, 3 cannot
attach. The UI's Doctor screen shows the same rows. No Textual here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from .browser.probe import FOUND, MISSING, Candidate, ProbeReport, Row
from .browser.signals import Emit, Handoff
from .sanitize import page_text, strip_url

EXIT_OK, EXIT_MISSING, EXIT_CANNOT_ATTACH = 0, 1, 3
MARKS = {FOUND: "✔", MISSING: "✖"}  # anything else (not yet): "·"
MAX_HOW = 400


def mark(status: str) -> str:
    return MARKS.get(status, "·")


# ---------------------------------------------------------------- the [selectors] lines


def toml_string(s: str) -> str:
    """`s` as a TOML string: a literal '...' when it can be one (selectors hold double quotes), else a basic "..."."""
    if "'" not in s and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        return f"'{s}'"
    return json.dumps(s, ensure_ascii=False)  # JSON's escapes are all valid in a TOML basic string


def toml_lines(suggest: dict[str, Any]) -> list[str]:
    """The `[selectors]` table that would use the suggested selectors (empty when there are none)."""
    if not suggest:
        return []
    lines = ["[selectors]"]
    for key, value in suggest.items():
        if isinstance(value, (list, tuple)):
            lines.append(f"{key} = [{', '.join(toml_string(str(v)) for v in value)}]")
        else:
            lines.append(f"{key} = {toml_string(str(value))}")
    return lines


# ---------------------------------------------------------------- text and JSON


def candidate_text(c: Candidate) -> str:
    bits = [f"{c.kind:<15}", page_text(c.selector, MAX_HOW)]
    if c.label and c.label not in c.selector:
        bits.append(f"label {page_text(c.label)!r}")
    if c.text:
        bits.append(page_text(c.text))
    if c.note:
        bits.append(f"({page_text(c.note)})")
    return "  ".join(bits)


def row_line(r: Row) -> str:
    status = r.status.upper() if r.status == MISSING else r.status
    return f"{mark(r.status)} {r.name:<25} {status:<8} {page_text(r.how, MAX_HOW)}"


def verdict(report: ProbeReport) -> str:
    missing = [r.name for r in report.rows if r.essential and not r.ok]
    if not missing:
        return "Every essential signal is there: a session can run on this page."
    return f"Missing what a session needs: {', '.join(missing)}."


def format_text(report: ProbeReport, info: Any = None, config: Path | None = None) -> str:
    head = "grok-tui doctor"
    browser = getattr(info, "browser", "")
    if browser:
        head += f" · {page_text(browser)}"
    out = [f"{head} · {strip_url(report.url)}", ""]
    for r in report.rows:
        out.append(row_line(r))
        if r.status == MISSING and r.candidates:
            out.append("      candidates on the page:")
            out.extend(f"        {candidate_text(c)}" for c in r.candidates)
    out += ["", verdict(report)]
    lines = toml_lines(report.suggestions())
    if lines:
        where = f"the config file {config}" if config else "the config file"
        out += ["", f"These lines in {where} would use the best candidates (they replace the same keys there):", ""]
        out += lines
    return "\n".join(out) + "\n"


def report_dict(report: ProbeReport, info: Any = None) -> dict:
    ident = getattr(info, "identity", None)
    return {
        "ok": report.essentials_ok,
        "exit": EXIT_OK if report.essentials_ok else EXIT_MISSING,
        "url": strip_url(report.url),
        "title": page_text(report.title),
        "browser": str(getattr(info, "browser", "") or ""),
        "postId": getattr(ident, "post_id", None),
        "rows": [
            {
                "key": r.key, "name": r.name, "essential": r.essential, "status": r.status, "how": page_text(r.how, MAX_HOW),
                "candidates": [
                    {"kind": c.kind, "selector": c.selector, "label": page_text(c.label), "text": page_text(c.text), "note": c.note}
                    for c in r.candidates
                ],
                "suggest": r.suggest,
            }
            for r in report.rows
        ],
        "selectors": report.suggestions(),
        "toml": "\n".join(toml_lines(report.suggestions())),
    }


# ---------------------------------------------------------------- attach, check, close


def check_tab(settings: Any, lock_dir: Path, emit: Emit | None = None):
    """Attach to the settings' tab (its lock first), check it, detach: (ProbeReport, AttachInfo).

    Raises the link's BrowserError or TabBusy when it cannot attach.
    """
    from .browser.cdp import BrowserError
    from .browser.link import BrowserLink
    from .tablock import TabLock, me

    link = BrowserLink(
        endpoint=settings.endpoint_spec(), tab_match=settings.tab, emit=emit or (lambda _e: None),
        selectors=settings.selectors or None,
    )
    lock = None
    try:
        tabs = link.list_tabs()
        target = str(tabs[0]["id"]) if tabs else None
        if target is not None:
            try:
                lock = TabLock.acquire(lock_dir, target, me("grok-tui doctor"))
            except OSError as exc:
                raise BrowserError(f"The lock folder {lock_dir} cannot be used ({exc.strerror or exc}).") from None
        info = link.attach(target)  # no tab: the link says which tabs there are
        return link.probe(), info
    finally:
        link.close()
        if lock is not None:
            lock.release()


def run(settings: Any, lock_dir: Path, *, as_json: bool = False, config: Path | None = None,
        out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The `doctor` command: the report on `out`, one sentence on `err` when it cannot attach; the exit code."""
    from .browser.cdp import BrowserError
    from .browser.signals import AwaitingPermission
    from .redact import redact
    from .tablock import TabBusy

    out, err = out or sys.stdout, err or sys.stderr

    def on_event(ev: Handoff) -> None:
        if isinstance(ev, AwaitingPermission):
            print(f"grok-tui: {ev.message}", file=err, flush=True)

    try:
        report, info = check_tab(settings, lock_dir, on_event)
    except (BrowserError, TabBusy) as exc:
        sentence = redact(str(exc) or type(exc).__name__)
        print(f"grok-tui: {sentence}", file=err)
        if as_json:
            print(json.dumps({"ok": False, "exit": EXIT_CANNOT_ATTACH, "error": sentence}, ensure_ascii=False), file=out)
        return EXIT_CANNOT_ATTACH
    if as_json:
        print(json.dumps(report_dict(report, info), ensure_ascii=False), file=out)
    else:
        out.write(format_text(report, info, config))
    if report.unrestored is not None:
        print("grok-tui: your editor text could not be put back; here it is, exactly:", file=err)
        print(report.unrestored, file=err)
    return EXIT_OK if report.essentials_ok else EXIT_MISSING
