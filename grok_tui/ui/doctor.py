"""The Doctor screen (palette "page: check"): `grok-tui doctor`'s rows for the attached tab, in the UI.

The check runs on the runner's own link in a worker thread (grok_tui.browser.probe);
the rows, candidates and `[selectors]` lines are grok_tui.doctor's. During a session,
or when this window only watches, the editor write test is skipped.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from ..browser.probe import FOUND, MISSING, ProbeReport
from ..doctor import candidate_text, mark, toml_lines, verdict
from ..sanitize import page_text, strip_url
from .render import esc
from .widgets import theme_color

STATUS_VARS = {FOUND: "success", MISSING: "error"}  # not yet: muted


class DoctorScreen(Screen):
    """One row per signal: found / missing / not yet, and how; candidates and [selectors] lines below."""

    BINDINGS = [
        Binding("r", "recheck", "Check again", id="doctor.recheck"),
        Binding("y", "copy", "Copy [selectors]", id="doctor.copy"),
        Binding("escape", "close", "Back", id="doctor.close"),
    ]

    DEFAULT_CSS = """
    DoctorScreen { layout: vertical; }
    DoctorScreen #doctor-head { height: auto; padding: 0 1; color: $text-muted; }
    DoctorScreen #doctor-rows { height: auto; max-height: 13; border: round $primary; }
    DoctorScreen #doctor-more { height: 1fr; border: round $primary; padding: 0 1; }
    """

    def __init__(self, runner: Any) -> None:
        super().__init__()
        self.runner = runner
        self.report: ProbeReport | None = None
        self.toml = ""

    def compose(self) -> ComposeResult:
        yield Static("checking the tab…", id="doctor-head")
        table = DataTable(id="doctor-rows", cursor_type="row", zebra_stripes=True)
        table.border_title = "Page check"
        yield table
        with VerticalScroll(id="doctor-more") as more:
            more.border_title = "Candidates and [selectors]"
            yield Static("", id="doctor-text")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("", "signal", "state", "how"):
            table.add_column(name, key=name or "mark")
        self.action_recheck()

    # ------------------------------------------------------------ the check

    def action_recheck(self) -> None:
        runner = self.runner
        link = runner.link
        if link is None or not runner.attached or not hasattr(link, "probe"):
            self._show_error("Not attached to Chrome: the page check needs the Grok tab.")
            return
        write, why = True, ""
        if runner.read_only:
            write, why = False, "this window only watches"
        elif runner.engine.phase.active:
            write, why = False, "a session is running"
        self.query_one("#doctor-head", Static).update("checking the tab…")
        self._check(link, write, why)

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False, name="page check")
    def _check(self, link: Any, write: bool, why: str) -> None:
        try:
            report = link.probe(write_test=write, skip_reason=why)
        except Exception as exc:  # BrowserError and friends: one sentence
            self.app.call_from_thread(self._show_error, f"The page check failed: {exc or type(exc).__name__}")
            return
        self.app.call_from_thread(self._show, report)

    def _show_error(self, message: str) -> None:
        self.query_one("#doctor-head", Static).update(f"[b $error]{esc(message)}[/]")

    def _show(self, report: ProbeReport) -> None:
        self.report = report
        table = self.query_one(DataTable)
        table.clear()
        for r in report.rows:
            color = theme_color(self, STATUS_VARS.get(r.status, "text-muted"))
            table.add_row(
                Text(mark(r.status), style=color), r.name, Text(r.status, style=color), page_text(r.how, 400), key=r.key
            )
        ok = report.essentials_ok
        style = "$success" if ok else "$error"
        self.query_one("#doctor-head", Static).update(
            f"{esc(strip_url(report.url))}\n[b {style}]{esc(verdict(report))}[/]"
        )
        lines: list[str] = []
        if report.unrestored is not None:
            lines += ["[b $error]Your editor text could not be put back; here it is, exactly:[/]", esc(report.unrestored), ""]
        for r in report.rows:
            if r.status == MISSING and r.candidates:
                lines.append(f"[b]{esc(r.name)}[/]: candidates on the page")
                lines += [f"  {esc(candidate_text(c))}" for c in r.candidates]
        toml = toml_lines(report.suggestions())
        self.toml = "\n".join(toml)
        if toml:
            lines += ["", "Put these lines in the config file (y copies them):", ""] + [esc(t) for t in toml]
        elif not lines:
            lines.append("Nothing is missing: no [selectors] to change.")
        self.query_one("#doctor-text", Static).update("\n".join(lines))

    # ------------------------------------------------------------ keys

    def action_copy(self) -> None:
        if not self.toml:
            self.notify("No [selectors] lines to copy: nothing is missing.", title="Nothing to copy")
            return
        self.app.copy_to_clipboard(self.toml + "\n")
        self.notify(f"{len(self.toml.splitlines())} lines", title="[selectors] copied")

    def action_close(self) -> None:
        self.app.pop_screen()


def open_doctor(app: Any) -> None:
    """The palette's "page: check": the Doctor screen for the app's runner (once)."""
    if not isinstance(app.screen, DoctorScreen):
        app.push_screen(DoctorScreen(app.runner))
