"""The History screen (`h`): every recorded session, the same prompt across sessions, charts per day.

Renders what grok_tui.history computes (nothing is computed here). Tables are sorted
by the raw values (times, counts, rates), never by their formatted text: a click on a
column header sorts by it (again: the other way), `s` / `S` do the same from the
keyboard. `/` filters every view by text in the prompt or the post. Enter opens a
session's detail: its attempts, a sparkline of their durations, its log file and its
downloaded files (`o` opens their folder).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, RichLog, Sparkline, Static, TabbedContent, TabPane
from textual_plotext import PlotextPlot

from ..history import (
    NEVER_AFTER,
    DayTotals,
    Filter,
    HistoryError,
    HistoryReader,
    PromptGroup,
    SessionRow,
    by_day,
    by_prompt,
    duration_text,
    local_time,
    select,
    shorten,
    totals,
)
from ..export import read_log
from .render import esc
from .widgets import AttemptsTable

ROW_LIMIT = 300  # rows in a table at once; sorting and filtering run over every session first
CHART_DAYS = 30  # the charts show the last 30 days that have sessions
LOG_LINES = 500
OUTCOME_VARS = {"success": "success", "failure": "error", "cancelled": "warning"}


# ---------------------------------------------------------------- columns


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    width: int | None  # None: the rest of the line (the prompt)
    raw: Callable[[Any], Any]  # what the column sorts by
    text: Callable[[Any, int], Any]  # what it shows (row, width)
    right: bool = False
    min_screen: int = 0  # shown only on screens at least this wide (the detail has it all)


def _num(attr: str, label: str, width: int) -> Col:
    return Col(attr, label, width, lambda x: getattr(x, attr), lambda x, w: str(getattr(x, attr)), right=True)


def _none_last(v: float | None) -> float:
    return -math.inf if v is None else v


SESSION_COLUMNS: tuple[Col, ...] = (
    Col("when", "when", 14, lambda r: (r.ended_at, r.line), lambda r, w: local_time(r.ended_at).strftime("%y-%m-%d %H:%M")),
    Col("outcome", "outcome", 9, lambda r: r.outcome, lambda r, w: r.outcome),
    Col("videos", "videos", 6, lambda r: (r.videos, r.goal), lambda r, w: f"{r.videos}/{r.goal}", right=True),
    Col("retries", "retries", 7, lambda r: (r.retries, r.max_retries), lambda r, w: f"{r.retries}/{r.max_retries}", right=True),
    _num("credits", "credits", 7),
    _num("l1", "L1", 2),
    _num("l2", "L2", 2),
    _num("l3", "L3", 2),
    Col("duration", "time", 6, lambda r: _none_last(r.duration_s), lambda r, w: duration_text(r.duration_s), right=True),
    Col("batch", "batch/job", 9, lambda r: (r.batch or "", r.job or ""),
        lambda r, w: shorten(f"{r.batch}/{r.job}" if r.job else r.batch, w) if r.batch else "–", min_screen=130),
    Col("post", "post", 8, lambda r: r.post, lambda r, w: r.post[:8] or "–", min_screen=120),
    Col("prompt", "prompt", None, lambda r: r.prompt.casefold(), lambda r, w: shorten(r.prompt, w) or "–"),
)  # fmt: skip

PROMPT_COLUMNS: tuple[Col, ...] = (
    Col("flag", "⚑", 1, lambda g: g.never_works, lambda g, w: "⚑" if g.never_works else ""),
    _num("sessions", "sessions", 8),
    Col("success", "ok %", 5, lambda g: g.success_rate, lambda g, w: f"{g.success_rate:.0%}", right=True),
    _num("videos", "videos", 6),
    _num("attempts", "tries", 5),
    Col("cpv", "cr/video", 8, lambda g: g.credits_per_video if g.credits_per_video is not None else math.inf,
        lambda g, w: f"{g.credits_per_video:.1f}" if g.credits_per_video is not None else "–", right=True),
    Col("layer", "stops at", 8, lambda g: g.top_layer or "", lambda g, w: g.top_layer or "–"),
    Col("l1", "L1", 3, lambda g: g.l1, lambda g, w: str(g.l1), right=True, min_screen=130),
    Col("l2", "L2", 3, lambda g: g.l2, lambda g, w: str(g.l2), right=True, min_screen=130),
    Col("l3", "L3", 3, lambda g: g.l3, lambda g, w: str(g.l3), right=True, min_screen=130),
    Col("posts", "posts", 5, lambda g: len(g.posts), lambda g, w: str(len(g.posts)), right=True, min_screen=130),
    Col("prompt", "prompt", None, lambda g: g.prompt.casefold(), lambda g, w: shorten(g.prompt, w) or "–"),
)  # fmt: skip


def theme_rgb(widget: Any, var: str, fallback: str = "#888888") -> tuple[int, int, int]:
    try:
        value = widget.app.theme_variables.get(var) or fallback
    except Exception:
        value = fallback
    return Color.parse(value).rgb


class SortTable(DataTable):
    """A DataTable over a list of items, sorted by a column's raw value; at most ROW_LIMIT rows shown."""

    def __init__(self, columns: Sequence[Col], sort_key: str, reverse: bool, **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kw)
        self.all_cols = tuple(columns)
        self.cols = {c.key: c for c in columns}
        self.sort_key, self.reverse = sort_key, reverse
        self.items: list[Any] = []  # every item, sorted
        self.shown: list[Any] = []  # the ones in the table, in order
        self.flex_width = 20
        self.styler: Callable[[Col, Any, Any], Any] | None = None

    def set_items(self, items: Sequence[Any], screen_width: int) -> None:
        """Show `items`; columns that need a wider screen are left out, the flexible one takes the rest."""
        self.items = list(items)
        self.cols = {c.key: c for c in self.all_cols if screen_width >= c.min_screen}
        fixed = sum((c.width or 0) + 2 for c in self.cols.values())  # cell padding: 1 each side
        self.flex_width = max(12, screen_width - fixed - 4)  # the scrollbar and a margin
        if self.sort_key not in self.cols:
            self.sort_key = next(iter(self.cols))
        self._rebuild()

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort by column `key`; the same column again flips the order (or `reverse` as given)."""
        if reverse is None:
            reverse = not self.reverse if key == self.sort_key else key not in ("prompt", "outcome", "post", "batch", "layer")
        self.sort_key, self.reverse = key, reverse
        self._rebuild()

    def _rebuild(self) -> None:
        col = self.cols[self.sort_key]
        self.items.sort(key=col.raw, reverse=self.reverse)
        self.shown = self.items[:ROW_LIMIT]
        cursor = self.cursor_row
        self.clear(columns=True)
        for c in self.cols.values():
            arrow = (" ▼" if self.reverse else " ▲") if c.key == self.sort_key else ""
            width = c.width if c.width is not None else self.flex_width
            label = Text(c.label + arrow, justify="right" if c.right else "left")
            self.add_column(label, key=c.key, width=max(width, len(c.label) + len(arrow)))
        rows = []
        for item in self.shown:
            cells = []
            for c in self.cols.values():
                width = c.width if c.width is not None else self.flex_width
                value = c.text(item, width)
                if self.styler is not None:
                    value = self.styler(c, item, value)
                if isinstance(value, str):  # a Text is measured without parsing markup: much faster
                    value = Text(value, justify="right" if c.right else "left", no_wrap=True, end="")
                cells.append(value)
            rows.append(cells)
        self.add_rows(rows)
        if self.shown:
            self.move_cursor(row=min(max(cursor, 0), len(self.shown) - 1), animate=False)

    def raw_column(self, key: str) -> list[Any]:
        """The raw values of column `key`, in the order the rows are shown (for tests and checks)."""
        col = self.cols[key]
        return [col.raw(item) for item in self.shown]

    def selected(self) -> Any | None:
        row = self.cursor_row
        return self.shown[row] if 0 <= row < len(self.shown) else None

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(str(event.column_key.value))


# ---------------------------------------------------------------- the History screen


def tilde(path: Any) -> str:
    """A path as people write it: under the home folder as ~/..."""
    text = str(path)
    home = str(Path.home())
    return "~" + text[len(home):] if home not in ("", "/") and (text == home or text.startswith(home + os.sep)) else text


class HistoryScreen(Screen):
    """Sessions (sortable, filterable), per-prompt view, charts per day."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="history.back"),
        Binding("slash", "filter", "Filter", id="history.filter", key_display="/"),
        Binding("s", "sort_next", "Sort", id="history.sort"),
        Binding("S", "sort_reverse", "Reverse", id="history.reverse", show=False),
        Binding("1", "show_tab('sessions')", "Sessions", id="history.sessions"),
        Binding("2", "show_tab('prompts')", "Prompts", id="history.prompts"),
        Binding("3", "show_tab('charts')", "Charts", id="history.charts"),
    ]

    def __init__(self, reader: HistoryReader, *, opener: Callable[[Path], str | None] | None = None) -> None:
        super().__init__(id="history-screen")
        self.reader = reader
        self.opener = opener
        self.loaded = False
        self.rows: list[SessionRow] = []
        self.error = ""
        self._rendered: tuple[int, str] | None = None  # (width, filter) last rendered

    def compose(self) -> ComposeResult:
        yield Static("History — reading…", id="history-head")
        yield Input(placeholder="/ filter: text in the prompt or the post", id="history-filter")
        with TabbedContent(initial="sessions", id="history-tabs"):
            with TabPane("Sessions", id="sessions"):
                yield SortTable(SESSION_COLUMNS, "when", True, id="history-sessions")
            with TabPane("Prompts", id="prompts"):
                yield SortTable(PROMPT_COLUMNS, "sessions", True, id="history-prompts")
                yield Static(
                    f"⚑ no video after {NEVER_AFTER} or more attempts: worth rethinking (grok-tui never changes a prompt)",
                    id="history-prompts-note",
                )
            with TabPane("Charts", id="charts"):
                yield PlotextPlot(id="chart-outcomes")
                yield PlotextPlot(id="chart-credits")
        yield Footer()

    def on_mount(self) -> None:
        sessions = self.query_one("#history-sessions", SortTable)
        sessions.styler = self._style_session
        self.query_one("#history-prompts", SortTable).styler = self._style_prompt
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.call_later(self.render_all))
        self.load()

    @work(thread=True, exclusive=True, group="history-read", exit_on_error=False)
    def load(self) -> None:
        try:
            self.reader.refresh()
            error = ""
        except HistoryError as exc:
            error = str(exc)
        self.app.call_from_thread(self._loaded, list(self.reader.sessions), error)

    def _loaded(self, rows: list[SessionRow], error: str) -> None:
        self.rows, self.error, self.loaded = rows, error, True
        self.render_all()
        self.query_one("#history-sessions", SortTable).focus()

    # ------------------------------------------------------------ rendering

    def current_filter(self) -> Filter:
        return Filter(text=self.query_one("#history-filter", Input).value.strip())

    def render_all(self, force: bool = True) -> None:
        if not self.loaded:
            return
        width = self.size.width or self.app.size.width
        key = (width, self.current_filter().text)
        if not force and key == self._rendered:
            return
        self._rendered = key
        rows = select(self.rows, self.current_filter())
        sessions = self.query_one("#history-sessions", SortTable)
        sessions.set_items(rows, width)
        self.query_one("#history-prompts", SortTable).set_items(by_prompt(rows), width)
        self._draw_charts(by_day(rows))
        self._head(rows)

    def _head(self, rows: list[SessionRow]) -> None:
        t = totals(rows)
        flt = self.current_filter().text
        parts = [f"[b]History[/b] — {t['sessions']:,} session{'s' if t['sessions'] != 1 else ''}"]
        if flt:
            parts[0] += f" matching “{esc(flt)}” (of {len(self.rows):,})"
        parts.append(f"[$success]{t['success']} success[/] · [$error]{t['failure']} failure[/] · "
                     f"[$warning]{t['cancelled']} cancelled[/]")
        line = "  ".join(parts)
        line += f"\nvideos {t['videos']} · credits {t['credits']} · moderated L1 {t['l1']} · L2 {t['l2']} · L3 {t['l3']}"
        shown = len(self.query_one("#history-sessions", SortTable).shown)
        if shown < len(rows):
            line += f"\n[$text-muted]showing the first {shown:,} of {len(rows):,} as sorted; / filters[/]"
        note = (self.error or self.reader.skipped_note()).replace(str(self.reader.path), tilde(self.reader.path))
        if note:
            line += f"\n[$warning]{esc(note)}[/]"
        self.query_one("#history-head", Static).update(line)

    def _style_session(self, col: Col, row: SessionRow, value: Any) -> Any:
        if col.key == "outcome":
            return Text(value, style=Color(*theme_rgb(self, OUTCOME_VARS.get(row.outcome, "foreground"))).hex)
        return value

    def _style_prompt(self, col: Col, group: PromptGroup, value: Any) -> Any:
        if col.key == "flag" and group.never_works:
            return Text(value, style=f"bold {Color(*theme_rgb(self, 'error')).hex}")
        return value

    def _draw_charts(self, days: list[DayTotals]) -> None:
        days = days[-CHART_DAYS:]
        labels = [d.day[5:] for d in days]  # MM-DD
        series = [
            ("videos", [d.videos for d in days], "success"),
            ("L1", [d.l1 for d in days], "warning"),
            ("L2", [d.l2 for d in days], "accent"),
            ("L3", [d.l3 for d in days], "error"),
            ("cancelled", [d.cancelled for d in days], "secondary"),
        ]
        self._chart("#chart-outcomes", "Outcomes per day: videos, moderated by layer, cancelled sessions", days and (
            lambda plt: plt.stacked_bar(labels, [s[1] for s in series], labels=[s[0] for s in series],
                                        color=[theme_rgb(self, s[2]) for s in series])))
        self._chart("#chart-credits", "Credits per day", days and (
            lambda plt: plt.bar(labels, [d.credits for d in days], color=theme_rgb(self, "primary"))))

    def _chart(self, selector: str, title: str, draw: Callable[[Any], Any] | None) -> None:
        plot = self.query_one(selector, PlotextPlot)
        plot.plt.clear_data()
        plot.plt.clear_figure()
        plot.plt.title(title)
        if draw:
            draw(plot.plt)
        plot.refresh()

    def on_resize(self) -> None:
        self.render_all(force=False)  # only when the width changed

    # ------------------------------------------------------------ intents

    def action_back(self) -> None:
        box = self.query_one("#history-filter", Input)
        if self.focused is box:
            if box.value:
                box.value = ""
            self._focus_table()
            return
        self.dismiss()

    def action_filter(self) -> None:
        self.query_one("#history-filter", Input).focus()

    @on(Input.Changed, "#history-filter")
    def _filter_changed(self) -> None:
        self.render_all()

    @on(Input.Submitted, "#history-filter")
    def _filter_done(self) -> None:
        self._focus_table()

    def _active_table(self) -> SortTable | None:
        tab = self.query_one("#history-tabs", TabbedContent).active
        if tab == "sessions":
            return self.query_one("#history-sessions", SortTable)
        if tab == "prompts":
            return self.query_one("#history-prompts", SortTable)
        return None

    def _focus_table(self) -> None:
        table = self._active_table()
        if table is not None:
            table.focus()

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#history-tabs", TabbedContent).active = tab
        self.call_after_refresh(self._focus_table)

    def action_sort_next(self) -> None:
        table = self._active_table()
        if table is not None:
            keys = list(table.cols)
            table.sort_by(keys[(keys.index(table.sort_key) + 1) % len(keys)])

    def action_sort_reverse(self) -> None:
        table = self._active_table()
        if table is not None:
            table.sort_by(table.sort_key, not table.reverse)

    @on(DataTable.RowSelected, "#history-sessions")
    def _open_session(self, event: DataTable.RowSelected) -> None:
        table = self.query_one("#history-sessions", SortTable)
        row = table.shown[event.cursor_row] if 0 <= event.cursor_row < len(table.shown) else None
        if row is not None:
            self.app.push_screen(SessionDetailScreen(row, self.reader.record(row), opener=self.opener))

    @on(DataTable.RowSelected, "#history-prompts")
    def _prompt_sessions(self, event: DataTable.RowSelected) -> None:
        """Enter on a prompt: the sessions of that prompt."""
        table = self.query_one("#history-prompts", SortTable)
        group = table.shown[event.cursor_row] if 0 <= event.cursor_row < len(table.shown) else None
        if group is not None and group.prompt:
            self.query_one("#history-filter", Input).value = group.prompt
            self.action_show_tab("sessions")


# ---------------------------------------------------------------- one session


def download_paths(record: dict) -> list[Path]:
    """The record's `downloads` (paths, or objects with a `path`), when it has them."""
    out = []
    for item in record.get("downloads") or []:
        path = item.get("path") or item.get("file") if isinstance(item, dict) else item
        if isinstance(path, str) and path:
            out.append(Path(path))
    return out


class SessionDetailScreen(Screen):
    """One session: summary, attempts (with a sparkline of their durations), log, downloads."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back"),
        Binding("o", "open_folder", "Open folder", id="detail.open_folder"),
    ]

    def __init__(self, row: SessionRow, record: dict, *, opener: Callable[[Path], str | None] | None = None) -> None:
        super().__init__(id="detail-screen")
        self.row, self.record, self.opener = row, record, opener
        detail = record.get("attemptsDetail")
        self.attempts: list[dict] = [a for a in detail if isinstance(a, dict)] if isinstance(detail, list) else []
        self.durations = [float(a["durationS"]) for a in self.attempts if isinstance(a.get("durationS"), (int, float))]
        self.downloads = download_paths(record)
        self.log_lines = read_log(row.log_path)[-LOG_LINES:] if row.log_path else []

    def compose(self) -> ComposeResult:
        r = self.row
        color = f"${OUTCOME_VARS.get(r.outcome, 'foreground')}"
        when = local_time(r.ended_at).strftime("%Y-%m-%d %H:%M:%S")
        lines = [
            f"[b]Session[/b] {when} — [{color}]{r.outcome}[/]" + (f" ({esc(r.reason)})" if r.reason else ""),
            f"videos {r.videos}/{r.goal} · retries {r.retries}/{r.max_retries} · credits {r.credits} · "
            f"L1 {r.l1} · L2 {r.l2} · L3 {r.l3} · {r.attempts} attempt(s) in {duration_text(r.duration_s)}",
            f"post {esc(r.post or '–')}" + (f" · batch {esc(r.batch)}" if r.batch else "") + (f" · job {esc(r.job)}" if r.job else ""),
            f"prompt [$accent]{esc(r.prompt) or '–'}[/]",
        ]
        yield Static("\n".join(lines), id="detail-head")
        with Horizontal(id="detail-body"):
            with Vertical(id="detail-left"):
                yield Static(self._spark_label(), id="detail-spark-label")
                yield Sparkline(self.durations, id="detail-spark")
                attempts = AttemptsTable(id="detail-attempts")
                attempts.border_title = "Attempts"
                yield attempts
            log = RichLog(id="detail-log", max_lines=LOG_LINES, wrap=True, markup=False, auto_scroll=False, min_width=20)
            log.border_title = f"Log {tilde(r.log_path) if r.log_path else '(no file recorded)'}"
            yield log
        yield Static(self._downloads_text(), id="detail-downloads")
        yield Footer()

    def _spark_label(self) -> str:
        d = self.durations
        if not d:
            return "attempt durations: –"
        return f"attempt durations: {len(d)}, {min(d):.0f}–{max(d):.0f} s, total {sum(d):.0f} s"

    def _downloads_text(self) -> str:
        if not self.downloads:
            return "[$text-muted]no downloaded files recorded for this session[/]"
        names = ", ".join(esc(p.name) for p in self.downloads[:6]) + (" …" if len(self.downloads) > 6 else "")
        return f"downloads ({len(self.downloads)}) in {esc(tilde(self.folder()))}: {names}   [b]o[/b] opens the folder"

    def on_mount(self) -> None:
        self.query_one("#detail-attempts", AttemptsTable).reset(self.attempts)
        self.call_after_refresh(self._fill_log)  # once the log has its width (it wraps)

    def _fill_log(self) -> None:
        log = self.query_one("#detail-log", RichLog)
        if self.row.log_path and not self.log_lines and not os.path.exists(self.row.log_path):
            log.write(f"(the log file {self.row.log_path} is gone)")
        for line in self.log_lines:
            log.write(line)
        log.scroll_home(animate=False)

    def folder(self) -> Path | None:
        if not self.downloads:
            return None
        try:
            return Path(os.path.commonpath([str(p.parent) for p in self.downloads]))
        except ValueError:  # on different drives
            return self.downloads[0].parent

    def action_back(self) -> None:
        self.dismiss()

    def action_open_folder(self) -> None:
        folder = self.folder()
        if folder is None:
            self.notify("This session recorded no downloaded files.", title="Nothing to open", severity="warning")
            return
        name = self.opener(folder) if self.opener is not None else None  # the app's open_folder
        if name:
            self.notify(tilde(folder), title=f"Opened with {name}")
            return
        self.app.copy_to_clipboard(str(folder))
        self.notify(tilde(folder), title="Downloads folder (path copied)")
