"""Modal screens: prompt editor, goal/retries settings, tab picker, help."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static, TextArea

from ..engine.state import LIMIT_MAX, LIMIT_MIN
from ..runner import CaptureError
from .render import esc


class PromptScreen(ModalScreen[str | None]):
    """Edit the prompt; 'capture from page' pulls the page editor's text."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="prompt.cancel")]

    def __init__(self, prompt: str, runner: Any) -> None:
        super().__init__(classes="modal")
        self._prompt = prompt
        self._runner = runner

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="prompt-dialog") as box:
            box.border_title = "Prompt"
            yield TextArea(self._prompt, id="prompt-text", soft_wrap=True, show_line_numbers=False)
            yield Label("", id="prompt-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="prompt-save")
                yield Button("Capture from page", id="prompt-capture")
                yield Button("Cancel", id="prompt-cancel")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#prompt-save")
    def _save(self) -> None:
        text = self.query_one(TextArea).text
        if not text.strip():
            self.query_one("#prompt-error", Label).update("The prompt cannot be empty.")
            return
        self.dismiss(text)

    @on(Button.Pressed, "#prompt-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#prompt-capture")
    def _capture_pressed(self) -> None:
        self.capture()

    @work(exclusive=True, group="capture", exit_on_error=False)
    async def capture(self) -> None:
        err = self.query_one("#prompt-error", Label)
        err.update("reading the page's editor…")
        try:
            text = await self._runner.page_prompt()
        except CaptureError as exc:
            err.update(str(exc))
            return
        self.query_one(TextArea).text = text
        err.update("captured from the page")


@dataclass(frozen=True)
class Limits:
    video_goal: int
    max_retries: int


def parse_limit(name: str, raw: str) -> tuple[int | None, str]:
    """(value, error message) for a 1-50 whole number field."""
    raw = raw.strip()
    try:
        value = int(raw)
    except ValueError:
        return None, f"{name} must be a whole number from {LIMIT_MIN} to {LIMIT_MAX}."
    if not LIMIT_MIN <= value <= LIMIT_MAX:
        return None, f"{name} must be from {LIMIT_MIN} to {LIMIT_MAX}, not {value}."
    return value, ""


class SettingsScreen(ModalScreen[Limits | None]):
    """Video goal and max retries, 1-50 each, errors shown inline."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="settings.cancel")]

    def __init__(self, video_goal: int, max_retries: int) -> None:
        super().__init__(classes="modal")
        self._goal, self._retries = video_goal, max_retries

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="settings-dialog") as box:
            box.border_title = "Goal and retries"
            yield Label(f"Videos per session ({LIMIT_MIN}-{LIMIT_MAX})")
            yield Input(str(self._goal), id="goal-input", type="integer")
            yield Label("", id="goal-error", classes="error")
            yield Label(f"Max retries after moderation ({LIMIT_MIN}-{LIMIT_MAX})")
            yield Input(str(self._retries), id="retries-input", type="integer")
            yield Label("", id="retries-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="settings-save")
                yield Button("Cancel", id="settings-cancel")

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#settings-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    @on(Button.Pressed, "#settings-save")
    def _save(self) -> None:
        goal, goal_err = parse_limit("The video goal", self.query_one("#goal-input", Input).value)
        retries, retries_err = parse_limit("Max retries", self.query_one("#retries-input", Input).value)
        self.query_one("#goal-error", Label).update(goal_err)
        self.query_one("#retries-error", Label).update(retries_err)
        if goal is None or retries is None:
            return
        self.dismiss(Limits(goal, retries))


class TabsScreen(ModalScreen[str | None]):
    """The page tabs that match the tab setting; the attached one is marked. Enter picks one."""

    BINDINGS = [Binding("escape", "close", "Close", id="tabs.close")]

    def __init__(self, runner: Any) -> None:
        super().__init__(classes="modal")
        self._runner = runner
        self.target_ids: list[str | None] = []  # the listed tabs, in order

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="tabs-dialog") as box:
            box.border_title = "Tabs"
            yield Static("", id="tabs-note")
            yield OptionList(id="tabs-list")
            with Horizontal(classes="buttons"):
                yield Button("Close", id="tabs-close")

    def on_mount(self) -> None:
        self.load()

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#tabs-close")
    def _close(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected, "#tabs-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        index = event.option_index
        if 0 <= index < len(self.target_ids):
            self.dismiss(self.target_ids[index])

    @work(exclusive=True, group="tabs", exit_on_error=False)
    async def load(self) -> None:
        runner, note = self._runner, self.query_one("#tabs-note", Static)
        if runner.link is None:
            note.update("Not attached: no tab to show.")
            return
        try:
            tabs = await runner.list_tabs()
        except Exception as exc:
            note.update(f"Could not list the tabs: {esc(exc)}")
            return
        self.show(tabs)

    def show(self, tabs: list[dict]) -> None:
        """List the matching tabs (on open, and again whenever one opens, closes or changes URL)."""
        options = self.query_one("#tabs-list", OptionList)
        was = options.highlighted
        keep = self.target_ids[was] if was is not None and 0 <= was < len(self.target_ids) else None
        current = getattr(self._runner.info, "target_id", None)
        options.clear_options()
        self.target_ids = []
        for t in tabs:
            tid, url, title = t["id"], t["url"], t["title"]
            mark = "●" if tid == current else "○"
            self.target_ids.append(tid)
            options.add_option(f"{mark} {esc(title)} — {esc(url)}")
        if keep in self.target_ids:
            options.highlighted = self.target_ids.index(keep)
        self.query_one("#tabs-note", Static).update(
            f"{len(tabs)} tab(s) match {self._runner.settings.tab!r}; ● is the attached one. Enter attaches to another."
        )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help.close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__(classes="modal")
        self._rows = rows

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help-dialog") as box:
            box.border_title = "Help"
            lines = [f"[b $accent]{esc(k):>10}[/]  {esc(d)}" for k, d in self._rows]
            lines += [
                "",
                "A session types the prompt, clicks Make video, waits for the outcome,",
                "retries moderated videos up to the retry cap and stops at the video goal.",
                "Moderations are classed by progress: L1 < 25 %, L2 < 88 %, L3 after.",
                "ctrl+p opens the command palette. Esc closes this.",
            ]
            yield Static("\n".join(lines))

    def action_close(self) -> None:
        self.dismiss(None)
