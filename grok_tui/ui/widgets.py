"""The main screen's panes."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, RichLog, Static

from ..engine.events import LogLine
from ..export import COLUMNS, attempt_row, outcome_text
from .lines import LineBar, LineTable, SteadyScroll
from .render import (
    attempt_markup,
    connection_markup,
    counters_markup,
    counts_text,
    esc,
    health_markup,
    next_markup,
    status_markup,
)

LEVEL_VARS = {"DEBUG": "text-muted", "INFO": "primary", "WARN": "warning", "ERROR": "error"}
OUTCOME_VARS = {
    "success": "success",
    "moderated": "warning",
    "running": "primary",
    "pending": "primary",
    "rate_limited": "error",
    "timeout": "error",
    "cancelled": "warning",
    "click_failed": "error",
}


def theme_color(widget: Any, var: str, fallback: str = "white") -> str:
    """A theme variable's colour; the variables are built once per theme (building them is costly)."""
    try:
        app = widget.app
        cache = app.__dict__.setdefault("_grok_css_vars", {})
        theme = app.theme
        if theme not in cache:
            cache.clear()
            cache[theme] = app.get_css_variables()
        return cache[theme].get(var) or fallback
    except Exception:
        return fallback


def set_text(widget: Any, old: str | None, text: str) -> bool:
    """Update a Label/Static to `text` unless it already shows it; True when updated.

    A layout pass (a reflow of the whole screen) only when the text can change the widget's size:
    its width is `auto` and the text's length changed, or its height is `auto` and the text's
    length or line count changed. A fixed-size line (the panes' one-line rows) just repaints.
    """
    if old == text:
        return False
    styles = widget.styles
    auto_w = styles.width is not None and styles.width.is_auto
    auto_h = styles.height is None or styles.height.is_auto
    resized = old is None or ((auto_w or auto_h) and len(old) != len(text)) or (auto_h and old.count("\n") != text.count("\n"))
    widget.update(text, layout=resized)
    return True


class HeaderBar(Horizontal):
    """Connection line (two rows) with the session's counts at the right end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="conn"):
            yield Static("", id="conn-line1", markup=True)
            yield Static("", id="conn-line2", markup=True)
        yield Static("", id="counts")

    def show(
        self, attached: bool, detail: str, info: Any, identity: Any, media_id: str | None, engine: Any, stats: Any = None
    ) -> None:
        l1, l2 = connection_markup(attached, detail, info, identity, media_id, stats)
        for wid, text in (("conn-line1", l1), ("conn-line2", l2), ("counts", counts_text(engine))):
            if set_text(self.query_one(f"#{wid}", Static), self._shown.get(wid), text):
                self._shown[wid] = text


class SessionPane(Vertical):
    """Status, current attempt, videos, retries, credits, layers, auto-retry, next action."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock_text: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="status")
        with Horizontal(classes="bar-row"):
            yield Label("attempt –", id="attempt-label", classes="bar-label")
            yield LineBar(total=100, id="attempt-bar")
        with Horizontal(classes="bar-row"):
            yield Label("videos", classes="bar-label")
            yield LineBar(total=1, show_percentage=False, id="videos-bar")
            yield Label("0 / 1", id="videos-count")
        yield Static("", id="counters")
        yield Static("", id="next")

    def show(self, engine: Any, now: float, options: dict | None = None, saved: tuple[int, int] | None = None) -> None:
        self.show_clock(engine, now)
        label, pct = attempt_markup(engine)
        s, p = engine.session, engine.persistent
        self._set("#attempt-label", label)
        self._set("#videos-count", f"{s.videos_generated} / {p.video_goal}")
        self._set("#counters", "\n".join(counters_markup(engine, options, saved)))
        bar = self.query_one("#attempt-bar", LineBar)
        if (bar.total, bar.progress) != (100, pct or 0):
            bar.update(total=100, progress=pct or 0)
        vbar = self.query_one("#videos-bar", LineBar)
        want = (p.video_goal, min(s.videos_generated, p.video_goal))
        if (vbar.total, vbar.progress) != want:
            vbar.update(total=want[0], progress=want[1])
        self.set_class(engine.phase.value == "ended", "ended")
        marks = health_markup(engine)
        if self._clock_text.get("border_subtitle") != marks:  # the property reads back as Content, never equal to str
            self.border_subtitle = marks
            self._clock_text["border_subtitle"] = marks

    def _set(self, selector: str, text: str) -> None:
        """Update a Label/Static only when its text changed."""
        if set_text(self.query_one(selector), self._clock_text.get(selector), text):
            self._clock_text[selector] = text  # only once it is on screen

    def show_clock(self, engine: Any, now: float) -> None:
        """The lines that carry a countdown; a line is repainted only when its text changed."""
        self._set("#status", status_markup(engine, now))
        self._set("#next", next_markup(engine, now))


class PromptPane(Static):
    """The prompt sent on every attempt (p edits it)."""

    _shown: str | None = None

    def show(self, prompt: str) -> None:
        text = esc(prompt) if prompt.strip() else "[$text-muted]no prompt yet: p to type one or capture it from the page[/]"
        if text != self._shown:  # wrapped text: any change may change its height, so always with layout
            self.update(text)
            self._shown = text


class AttemptsTable(LineTable):
    """One row per attempt of the current session (the last LineTable.MAX_ROWS), newest visible."""

    COLUMNS = COLUMNS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._files: dict[str, str] = {}  # the saved file (or its download's state), by row key

    def _cells(self, rec: dict) -> list[Any]:
        cells: list[Any] = list(attempt_row(rec, video_chars=4))
        outcome = str(rec.get("outcome"))
        color = theme_color(self, OUTCOME_VARS.get(outcome, "foreground"))
        cells[2] = Text(outcome_text(outcome), style=color)
        if outcome in ("pending", "running"):
            cells[5] = "…"
        file = self._files.get(str(rec.get("attempt")))
        if file:
            cells[6] = file
        return cells

    def upsert(self, rec: dict) -> None:
        """Add the attempt's row, or redraw it if a cell changed."""
        key = str(rec.get("attempt"))
        if key in self.rows:
            self.update_row(key, self._cells(rec))
        else:
            self.add_row(*self._cells(rec), key=key)
            self.move_cursor(row=self.row_count - 1)
            self.follow_end()

    def rows_dropped(self, keys: list[str]) -> None:
        for key in keys:
            self._files.pop(key, None)

    def show_file(self, attempt: int, text: str) -> None:
        """The attempt's saved file (or what its download is doing) in the video column."""
        key = str(attempt)
        self._files[key] = text
        if key in self.rows:
            cells = self.rows[key][:]
            cells[self.COLUMNS.index("video")] = Text(text)
            self.update_row(key, cells)

    def reset(self, records: list[dict] | None = None) -> None:
        self.clear()
        self._files.clear()
        for rec in records or []:
            self.upsert(rec)


class LogPane(SteadyScroll, RichLog):
    """The last 200 log lines, levels in colour, following the tail."""

    MAX_LINES = 200

    def add(self, line: LogLine, *, follow: bool = True) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(line.at))
        color = theme_color(self, LEVEL_VARS.get(line.level, "foreground"))
        text = Text()
        text.append(stamp + " ", style="dim")
        text.append(f"{line.level:<5} ", style=f"bold {color}")
        text.append(line.message, style="dim" if line.level == "DEBUG" else "")
        self.write(text, scroll_end=False)
        if follow and self.auto_scroll:  # in this repaint, not one after it (RichLog's own scroll waits for the next)
            self.follow_end()

    def add_all(self, lines: list[LogLine]) -> None:
        """Several lines, then one scroll to the last (a scroll per line cost about as much as writing the line)."""
        for line in lines:
            self.add(line, follow=False)
        if lines and self.auto_scroll:
            self.follow_end()
