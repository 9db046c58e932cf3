"""The Queue screen: a batch of jobs (post x prompt) to run one after another on the chosen tab.

Renders `app.queue` (a grok_tui.batch_runner.BatchQueue) and sends it the user's intents;
the session panes on the main screen show the running job as they show any session.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, DataTable, Footer, Input, Static

STATUS_MARK = {
    "pending": "· pending",
    "running": "▶ running",
    "success": "✔ success",
    "failure": "✖ failure",
    "cancelled": "■ cancelled",
    "rate_limited": "⏸ rate limit",
}


def _clip(text: str, n: int) -> str:
    one = " ".join(str(text).split())
    return one if len(one) <= n else one[: n - 1] + "…"


class LoadScreen(ModalScreen[str | None]):
    """Ask for a batch file's path (.toml, .csv or .txt)."""

    BINDINGS = [Binding("escape", "close", "Close", id="queue.load.close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="load-dialog") as box:
            box.border_title = "Load a batch file"
            yield Static(".toml ([[job]] post, prompt), .csv (post,prompt[,goal][,max_retries]) or .txt "
                         "(prompts for the tab's post, separated by blank lines)", id="load-note")
            yield Input(placeholder="path/to/jobs.toml", id="load-path")
            with Horizontal(classes="buttons"):
                yield Button("Load", id="load-ok", variant="primary")
                yield Button("Cancel", id="load-cancel")

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#load-cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#load-ok")
    @on(Input.Submitted, "#load-path")
    def _ok(self) -> None:
        value = self.query_one("#load-path", Input).value.strip()
        self.dismiss(value or None)


class QueueScreen(Screen):
    """Jobs with status, videos, retries and credits; keys to edit, start and pause the queue."""

    BINDINGS = [
        Binding("a", "add", "Add job", id="queue.add"),
        Binding("l", "load", "Load file", id="queue.load"),
        Binding("x,delete", "remove", "Remove", id="queue.remove"),
        Binding("K,shift+up", "move(-1)", "Up", id="queue.up", key_display="K", show=False),  # said in the table's
        Binding("J,shift+down", "move(1)", "Down", id="queue.down", key_display="J", show=False),  # border (footer room)
        Binding("s", "start", "Start", id="queue.start"),
        Binding("p", "pause", "Pause", id="queue.pause"),
        Binding("c", "stop", "Stop", id="queue.stop"),
        Binding("escape,b", "close", "Back", id="queue.close"),
    ]

    DEFAULT_CSS = """
    QueueScreen { layout: vertical; }
    QueueScreen #queue-note { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    QueueScreen #queue-table { height: 1fr; border: round $primary; }
    """

    def __init__(self, queue: Any) -> None:
        super().__init__()
        self.queue = queue

    def compose(self) -> ComposeResult:
        yield Static("", id="queue-note")
        table = DataTable(id="queue-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "Queue"
        table.border_subtitle = "K / J move the selected job up / down"
        yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "status", "post", "prompt", "videos", "retries", "credits")
        self.render_queue()

    # ---- rendering

    def render_queue(self) -> None:
        q = self.queue
        try:
            table = self.query_one(DataTable)
            note = self.query_one("#queue-note", Static)
        except Exception:
            return
        row = table.cursor_row
        table.clear()
        for i, job in enumerate(q.manifest.jobs, start=1):
            goal = job.video_goal or job.goal or "·"
            tries = job.max_retries_eff or job.max_retries or "·"
            table.add_row(
                str(i),
                STATUS_MARK.get(job.status, job.status),
                job.post_id[:8] + "…",
                _clip(job.prompt, 38),
                f"{job.total('videos')}/{goal}",
                f"{job.total('retries')}/{tries}",
                str(job.total("credits")),
                key=str(i),
            )
        if q.manifest.jobs:
            table.move_cursor(row=min(max(row, 0), len(q.manifest.jobs) - 1))
        where = q.manifest.file or "queue (jobs added here)"
        state = "running" if q.running else "stopped"
        line = q.manifest.batch_line()
        counts = f"{line['success']} ok · {line['failure']} failed · {line['cancelled']} cancelled · {line['pending']} to run"
        note.update(f"{where} — {state} — {counts}\n{q.note}")

    # ---- intents

    def _say(self, problem: str | None) -> None:
        if problem:
            self.app.notify(problem, title="Queue", severity="warning")
        self.render_queue()

    def _selected(self) -> int:
        return self.query_one(DataTable).cursor_row

    def action_add(self) -> None:
        app = self.app
        ident = getattr(app, "tab_identity", None)
        post_id = getattr(ident, "post_id", None)
        self._say(self.queue.add(post_id or "", app.current_prompt()))

    def action_load(self) -> None:
        def done(path: str | None) -> None:
            if path:
                post = getattr(getattr(self.app, "tab_identity", None), "post_id", None)
                self._say(self.queue.load(path, post))

        self.app.push_screen(LoadScreen(), done)

    def action_remove(self) -> None:
        self._say(self.queue.remove(self._selected()))

    def action_move(self, delta: int) -> None:
        i = self._selected()
        self._say(self.queue.move(i, delta))
        self.query_one(DataTable).move_cursor(row=max(0, i + delta))

    def action_start(self) -> None:
        self._say(self.queue.start())

    def action_pause(self) -> None:
        self._say(self.queue.pause())

    def action_stop(self) -> None:
        self._say(self.queue.stop())

    def action_close(self) -> None:
        self.app.pop_screen()
