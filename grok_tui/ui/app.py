"""grok-tui's Textual app: renders the session runner's state and sends user intents to it.

Dependencies are passed in (settings, store, runner); nothing is looked up. The
runner calls `listener` on Textual's own loop; the app turns each notification
into a typed message (messages.py) and renders from `runner.engine`.
"""

from __future__ import annotations

import sys
import time as _time
from typing import Any, TypeVar

from textual import on, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, TextArea
from textual.worker import Worker, WorkerState

from ..browser.signals import AwaitingPermission, TabsChanged
from ..engine import Phase
from ..engine.events import Configure, ResetRetries, RetryNow, SetAutoRetry, UserCancel
from ..runner import SessionRunner
from ..settings import Settings
from ..store import StateStore
from . import messages as m
from .commands import GrokCommands
from .export import ExportError, export_dir, gather_from_runner, write_export
from .modals import HelpScreen, Limits, PromptScreen, SettingsScreen, TabsScreen
from .themes import ThemeError, resolve_theme
from .widgets import AttemptsTable, HeaderBar, LogPane, PromptPane, SessionPane

__all__ = ["GrokApp", "ThemeError"]

W = TypeVar("W")

TICK_S = 0.25  # the countdowns' clock; it runs only while a countdown is on screen
VIEW_INTERVAL_S = 0.1  # the screen follows the runner at most 10 times a second (a burst is one repaint)
LOG_INTERVAL_S = 0.25  # new log lines scroll the whole pane: at most 4 times a second


class GrokApp(App):
    """The main screen: connection line, session pane, prompt, attempts table, log."""

    CSS_PATH = "app.tcss"
    TITLE = "grok-tui"
    COMMANDS = App.COMMANDS | {GrokCommands}
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("s", "start", "Start", id="start"),
        Binding("c", "cancel", "Cancel", id="cancel"),
        Binding("r", "reset_retries", "Reset", id="reset_retries"),
        Binding("a", "toggle_auto_retry", "Auto", id="toggle_auto_retry"),
        Binding("p", "edit_prompt", "Prompt", id="edit_prompt"),
        Binding("g", "settings", "Goal", id="settings"),
        Binding("e", "export", "Export", id="export"),
        Binding("t", "tabs", "Tab", id="tabs"),
        Binding("o", "open_downloads", "Files", id="open_downloads", show=False),
        Binding("b", "queue", "Queue", id="queue"),
        Binding("h", "history", "History", id="history"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("q", "quit", "Quit", id="quit", priority=True),
    ]

    HELP_ROWS = {
        "start": "start a session (or retry now when a moderated attempt waits)",
        "cancel": "cancel the running session",
        "reset_retries": "set the retry counter back to 0",
        "toggle_auto_retry": "turn auto-retry on or off",
        "edit_prompt": "edit the prompt, or capture it from the page",
        "settings": "video goal and max retries (1-50)",
        "export": "export the session's log, attempts and summary",
        "tabs": "show the matching page tabs",
        "open_downloads": "open the folder of saved videos (or copy its path)",
        "queue": "the batch queue: jobs (post x prompt) run one after another",
        "history": "every recorded session: sort, filter (/), per prompt, charts; Enter for one",
        "help": "this help",
        "quit": "quit (the browser tab is left as it was)",
    }

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        runner: SessionRunner,
        *,
        attach: bool = True,
        demo_autostart: bool = False,
        prompt: str | None = None,
    ) -> None:
        # Raises ThemeError (unknown name / invalid file) before anything runs.
        self._initial_theme, self._grok_themes = resolve_theme(settings.theme)
        super().__init__()
        self.settings = settings
        self.store = store
        self.runner = runner
        self.attach_on_mount = attach
        self.demo_autostart = demo_autostart
        self.prompt_override: str | None = prompt if prompt and prompt.strip() else None
        self.link_attached = False
        self.link_detail = "attaching…" if attach else "not attached"
        self.link_info: Any = None
        self.tab_identity: Any = None
        self.last_outcome: str | None = None
        self.last_export: tuple[Any, Any] | None = None
        self._view_pending = False
        self._view_at = 0.0  # when the planned repaint runs (time.monotonic())
        self._view_timer: Any = None
        self._last_view = 0.0  # time.monotonic() of the last repaint
        # What the next repaint draws: attempt rows (the latest record of each, in order), log lines.
        self._rows: dict[int, dict] = {}
        self._rows_reset = False
        self._files: dict[int, str] = {}
        self._lines: list[Any] = []
        self._last_log = 0.0  # time.monotonic() when log lines were last drawn
        self._clock: Any = None
        self._history: Any = None
        runner.listener = self._forward
        from ..batch_runner import BatchQueue

        self.queue = BatchQueue(runner, store.directory, on_change=self._queue_changed, on_end=self._batch_over)
        if settings.keymap:
            self.set_keymap(dict(settings.keymap))

    # ------------------------------------------------------------ runner -> UI

    def _forward(self, obj: object) -> None:
        """The runner's listener (called on this app's loop): post a typed message."""
        msg = m.to_message(obj)
        if msg is not None:
            self.post_message(msg)

    # ------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield HeaderBar(id="header")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                session = SessionPane(id="session")
                session.border_title = "Session"
                yield session
                prompt = PromptPane("", id="prompt")
                prompt.border_title = "Prompt"
                yield prompt
            table = AttemptsTable(id="attempts")
            table.border_title = "Attempts"
            yield table
        log = LogPane(id="log", max_lines=LogPane.MAX_LINES, wrap=True, markup=False, auto_scroll=True)
        log.border_title = "Log (last 200)"
        yield log
        yield Footer()

    def on_mount(self) -> None:
        for theme in self._grok_themes.values():
            self.register_theme(theme)
        if self._initial_theme.name not in self._grok_themes:
            self.register_theme(self._initial_theme)
        self.theme = self._initial_theme.name
        for warning in self.store.warnings:
            self.notify(warning, severity="warning", timeout=10)
        self.call_after_refresh(self._show_last_session)
        self._trap_signals()
        self._clock = self.set_interval(TICK_S, self._tick, pause=True)
        self.refresh_view()
        self.run_worker(self._connect(), name="attach", group="attach", exclusive=True, exit_on_error=False)

    def _show_last_session(self) -> None:
        """What the previous run ended with (also a session cut short by a kill or a closed terminal)."""
        try:
            last = self.store.last_session()
        except OSError:
            return
        if not last:
            return
        when = _time.strftime("%Y-%m-%d %H:%M", _time.localtime(last.get("endedAt", 0) / 1000))
        text = (
            f"last session ({when}): {last.get('outcome')} — videos {last.get('completedVideos')}/{last.get('videoGoal')}, "
            f"retries {last.get('retriesAttempted')}/{last.get('maxRetries')}, credits {last.get('creditsUsed')}"
        )
        if last.get("reason"):
            text += f" ({last['reason']})"
        try:
            self.main_widget(LogPane).write(text)
        except Exception:  # the screen is already gone (a very short run)
            pass

    def _trap_signals(self) -> None:
        """SIGTERM / SIGHUP (terminal closed): quit through unmount, which records a running session."""
        import asyncio
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, self.exit)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    async def _connect(self) -> None:
        runner = self.runner
        if self.attach_on_mount:
            try:
                await runner.attach()
            except Exception as exc:  # BrowserError and friends: one sentence, never a traceback
                self.link_attached, self.link_detail = False, "not attached"
                self.notify(str(exc) or type(exc).__name__, title="Not attached to Chrome", severity="error", timeout=15)
                self.refresh_view()
        if runner.read_only:  # another grok-tui controls the tab: this window only watches
            self.notify(runner.read_only, title="Read-only", severity="warning", timeout=15)
        runner.start_loop()
        if self.demo_autostart and runner.attached:
            await self._start_session()

    async def on_unmount(self) -> None:
        if not self.runner.closed:
            try:
                await self.runner.close()
            except Exception:
                pass

    # ------------------------------------------------------------ rendering

    def now(self) -> float:
        return self.runner.clock()

    def current_prompt(self) -> str:
        engine = self.runner.engine
        if engine.phase.active or engine.phase == Phase.ENDED and self.prompt_override is None:
            return engine.prompt or engine.persistent.last_prompt_value
        return self.prompt_override or engine.persistent.last_prompt_value

    def refresh_view(self, *, lines_now: bool = True) -> None:
        """Draw what is pending (attempt rows and files, log lines) and the panes; each widget repaints only
        what changed. Log lines wait for their own cadence unless `lines_now`."""
        engine = self.runner.engine
        self._last_view = _time.monotonic()
        self._draw_pending(lines_now)
        if self._clock is not None:  # the clock ticks only while a countdown is shown
            if engine.phase.active and engine.next_action is not None:
                self._clock.resume()
            else:
                self._clock.pause()
        try:
            self.main_widget(HeaderBar).show(
                self.link_attached,
                self.link_detail,
                self.link_info,
                self.tab_identity,
                engine.persistent.original_media_id,
                engine,
            )
            saves = self.runner.saves
            self.main_widget(SessionPane).show(
                engine, self.now(), self.runner.session_options, (saves.saved, saves.failed)
            )
            self.main_widget(PromptPane).show(self.current_prompt())
        except Exception:  # not mounted (yet / any more)
            return

    def schedule_view(self, at: float = 0.0) -> None:
        """Coalesce: a burst of notifications (progress, logs, phase) repaints once, at most 10 times a second.

        The first change after a quiet spell is drawn at once (after the messages already queued);
        `at` (a time.monotonic()) asks for a repaint no earlier than that. A repaint asked for sooner
        than the one already planned (log lines wait longer) takes its place.
        """
        want = max(self._last_view + VIEW_INTERVAL_S, at)
        if self._view_pending and want >= self._view_at - 0.001:
            return
        if self._view_timer is not None:
            self._view_timer.stop()
            self._view_timer = None
        self._view_pending, self._view_at = True, want
        wait = want - _time.monotonic()
        if wait > 0.001:
            self._view_timer = self.set_timer(wait, self._flush_view)
        else:
            self.call_later(self._flush_view)  # after the messages already queued

    def _flush_view(self) -> None:
        self._view_pending, self._view_timer = False, None
        self.refresh_view(lines_now=False)

    def _tick(self) -> None:
        """The countdowns move on: a repaint with the next one (nothing is polled; unchanged text costs nothing)."""
        self.schedule_view()

    def main_widget(self, cls: type[W]) -> W:
        """The main screen's widget of type `cls`, whichever screen is on top (an app's query sees only the top one)."""
        return self.screen_stack[0].query_one(cls)

    def _draw_pending(self, lines_now: bool = True) -> None:
        rows, files, lines = self._rows, self._files, self._lines
        if not (rows or files or lines or self._rows_reset):
            return
        try:
            table, log = self.main_widget(AttemptsTable), self.main_widget(LogPane)
        except Exception:  # not mounted (yet / any more): the runner may still log its close
            del lines[: -LogPane.MAX_LINES]
            return
        self._rows, self._files = {}, {}
        if self._rows_reset:
            self._rows_reset = False
            table.reset()
        for record in rows.values():
            table.upsert(record)
        for attempt, text in files.items():
            table.show_file(attempt, text)
        if not lines:
            return
        due = self._last_log + LOG_INTERVAL_S
        if lines_now or due - _time.monotonic() <= 0.001:
            self._lines = []
            self._last_log = _time.monotonic()
            for line in lines:
                log.add(line)
        else:
            self.schedule_view(due)  # with the repaint that falls due then

    @on(m.RunnerLog)
    def _on_log(self, msg: m.RunnerLog) -> None:
        self._lines.append(msg.line)
        self.schedule_view()  # every engine change logs a line (auto-retry, reset, ...)

    @on(m.TitleChanged)
    def _on_title(self, msg: m.TitleChanged) -> None:
        if msg.text == self.sub_title:  # the engine repeats its title at every step
            return
        # Without a repaint: no screen shows the sub-title (no Header), and assigning it would
        # repaint the whole screen (App.sub_title is a repainting reactive).
        self.set_reactive(App.sub_title, msg.text)
        self._write_terminal_title(f"grok-tui {msg.text}")
        self.schedule_view()

    @on(m.ActionRefused)
    def _on_refused(self, msg: m.ActionRefused) -> None:
        self.notify(msg.message, title="Not now", severity="warning")

    @on(m.AttemptChanged)
    def _on_attempt(self, msg: m.AttemptChanged) -> None:
        """Drawn by the next repaint: each attempt's latest record only (progress every 20 ms is 10 redraws a second)."""
        number = msg.record.get("attempt")
        if msg.change == "started" and number == 1:  # a new session: a new table
            self._rows_reset = True
            self._rows.clear()
            self._files.clear()
        self._rows[number] = msg.record
        self.schedule_view()

    @on(m.PhaseUpdated)
    def _on_phase(self, msg: m.PhaseUpdated) -> None:
        if msg.phase == Phase.CLICKING and self.runner.engine.attempt_no == 1:
            self.last_outcome = None
        self.schedule_view()

    @on(m.LinkStatus)
    def _on_link(self, msg: m.LinkStatus) -> None:
        self.link_attached, self.link_detail = msg.attached, msg.detail
        if msg.info is not None:
            self.link_info = msg.info
            self.tab_identity = getattr(msg.info, "identity", self.tab_identity)
        self.schedule_view()

    @on(m.TabIdentityChanged)
    def _on_tab(self, msg: m.TabIdentityChanged) -> None:
        self.tab_identity = msg.identity
        self.schedule_view()

    @on(m.LinkEvent)
    def _on_link_event(self, msg: m.LinkEvent) -> None:
        if isinstance(msg.event, TabsChanged):
            if isinstance(self.screen, TabsScreen):
                self.screen.show(list(msg.event.tabs))
        elif isinstance(msg.event, AwaitingPermission):
            self.link_detail = "allow the connection in Chrome"  # in the header until the attach ends
            self.notify(msg.event.message.capitalize() + ".", title="Chrome is asking", timeout=msg.event.wait_s or 30)
            self.schedule_view()

    @on(m.SessionFinished)
    def _on_finished(self, msg: m.SessionFinished) -> None:
        s = msg.summary
        self.last_outcome = s.outcome
        severity = {"success": "information", "failure": "error"}.get(s.outcome, "warning")
        reason = s.extra.get("reason", "")
        self.notify(
            f"{s.completedVideos}/{s.videoGoal} videos · retries {s.retriesAttempted}/{s.maxRetries} · "
            f"credits {s.creditsUsed} · L1 {s.layer1Failures} · L2 {s.layer2Failures} · L3 {s.layer3Failures}"
            + (f"\n{reason}" if reason else ""),
            title=f"Session {s.outcome}",
            severity=severity,
            timeout=10,
        )
        self.refresh_view()

    @on(m.DownloadChanged)
    def _on_download(self, msg: m.DownloadChanged) -> None:
        from ..saving import DownloadFinished, DownloadRetrying, DownloadStarted

        n = msg.notice
        if isinstance(n, DownloadStarted):
            self._files[n.attempt] = "⇣ saving…"
        elif isinstance(n, DownloadRetrying):
            self._files[n.attempt] = f"⇣ retry {n.tries}"
        elif isinstance(n, DownloadFinished):
            r = n.result
            if r.ok and r.path:
                name = r.path.rsplit("/", 1)[-1]
                self._files[n.attempt] = "💾 " + (name if len(name) <= 26 else "…" + name[-25:])
            else:
                self._files[n.attempt] = "✖ not saved"
                self.notify(str(r.reason), title=f"Video {r.job.number} not saved", severity="error", timeout=10)
        self.schedule_view()  # the file in its row with the next repaint, the saved count in the session pane

    @on(m.OptionsChanged)
    def _on_options(self, msg: m.OptionsChanged) -> None:
        n = msg.notice
        if type(n).__name__ == "OptionsDiffer" and getattr(n, "blocked", False):
            self.notify(
                f"{n.changes}\nSet them back on the page, then press s.",
                title="Generation options changed: request not sent",
                severity="warning",
                timeout=20,
            )
        self.schedule_view()

    def _write_terminal_title(self, text: str) -> None:
        if self.is_headless or not sys.__stdout__ or not sys.__stdout__.isatty():
            return
        driver = getattr(self, "_driver", None)
        if driver is None:
            return
        clean = "".join(ch for ch in text if ch.isprintable())
        try:
            driver.write(f"\x1b]2;{clean}\x07")
        except Exception:
            pass

    # ------------------------------------------------------------ worker errors, in one place

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            self.notify(f"{err}" or type(err).__name__, title=f"{event.worker.name or 'task'} failed", severity="error")

    # ------------------------------------------------------------ user intents

    def refuse(self, message: str) -> None:
        self.notify(message, title="Not now", severity="warning")

    async def action_start(self) -> None:
        phase = self.runner.engine.phase
        if phase == Phase.MANUAL_WAIT:
            self.runner.submit(RetryNow())
            return
        if phase.active:
            self.refuse("A session is already running; cancel it first.")
            return
        if not self.runner.attached:
            self.refuse("Not attached to Chrome: a session needs the Grok tab.")
            return
        self.run_worker(self._start_session(), name="start", group="start", exclusive=True, exit_on_error=False)

    async def _start_session(self) -> None:
        await self.runner.start_session(self.prompt_override)

    def action_cancel(self) -> None:
        if self.queue.running:  # the running job is recorded cancelled and the queue stops
            self.queue.stop()
            return
        if not self.runner.engine.phase.active:
            self.refuse("No session is running.")
            return
        self.runner.submit(UserCancel())

    def action_reset_retries(self) -> None:
        self.runner.submit(ResetRetries())

    def action_toggle_auto_retry(self) -> None:
        self.runner.submit(SetAutoRetry())

    def action_edit_prompt(self) -> None:
        def done(text: str | None) -> None:
            if text is not None:
                self.set_prompt(text)

        self.push_screen(PromptScreen(self.current_prompt(), self.runner), done)

    def set_prompt(self, text: str) -> None:
        """Use `text` for the next session (sent exactly as given)."""
        self.prompt_override = text
        if not self.runner.engine.phase.active:
            self.runner.submit(Configure(prompt=text))
        else:
            self.notify("The new prompt applies to the next session.", title="Prompt saved")
        self.refresh_view()

    def action_capture_prompt(self) -> None:
        self.run_worker(self._capture(), name="capture prompt", group="capture", exclusive=True, exit_on_error=False)

    async def _capture(self) -> None:
        if self.runner.link is None:
            self.refuse("Not attached to Chrome: nothing to capture.")
            return
        text = await self.runner.capture_prompt()
        if not (text or "").strip():
            self.refuse("The page's editor is empty.")
            return
        self.set_prompt(text)
        self.notify(f"{len(text)} characters from the page.", title="Prompt captured")

    def action_settings(self) -> None:
        p = self.runner.engine.persistent

        def done(limits: Limits | None) -> None:
            if limits is not None:
                self.runner.submit(Configure(max_retries=limits.max_retries, video_goal=limits.video_goal))
                self.notify(f"goal {limits.video_goal}, max retries {limits.max_retries}", title="Settings saved")
                self.call_later(self.refresh_view)

        self.push_screen(SettingsScreen(p.video_goal, p.max_retries), done)

    def action_tabs(self) -> None:
        def picked(target_id: str | None) -> None:
            current = getattr(self.runner.info, "target_id", None)
            if target_id and target_id != current:
                self.run_worker(self._switch_tab(target_id), name="switch tab", group="attach", exit_on_error=False)

        self.push_screen(TabsScreen(self.runner), picked)

    async def _switch_tab(self, target_id: str) -> None:
        try:
            info = await self.runner.switch_tab(target_id)
        except Exception as exc:
            self.notify(str(exc) or type(exc).__name__, title="Could not switch tabs", severity="error")
            return
        if info is not None:
            self.notify(getattr(info.identity, "url", ""), title="Attached to another tab")

    def action_queue(self) -> None:
        from .queue import QueueScreen

        self.push_screen(QueueScreen(self.queue))

    def _queue_changed(self) -> None:
        from .queue import QueueScreen

        if isinstance(self.screen, QueueScreen):
            self.screen.render_queue()

    def _batch_over(self, line: dict) -> None:
        """A finished or stopped batch: a notice, the bell, one desktop notification (both can be off)."""
        from ..batch import batch_text

        text = batch_text(line)
        self.notify(text, title="Batch over", severity="information" if not line.get("stoppedBy") else "warning",
                    timeout=20)
        if self.settings.batch_bell:
            self.bell()
        if self.settings.batch_notify:
            self._desktop_notify(text)

    @work(thread=True, group="desktop", exit_on_error=False, name="desktop notification")
    def _desktop_notify(self, text: str) -> None:
        from ..desktop import notify

        notify("grok-tui batch", text)

    def action_help(self) -> None:
        rows: list[tuple[str, str]] = []
        bindings = {b.id: b for b in self.BINDINGS if isinstance(b, Binding)}
        for bid, text in self.HELP_ROWS.items():
            keys = self._keys_for(bid) or (bindings[bid].key_display or bindings[bid].key)
            rows.append((keys, text))
        self.push_screen(HelpScreen(rows))

    def _keys_for(self, binding_id: str) -> str:
        keys = [k for k, ab in self.active_bindings.items() if ab.binding.id == binding_id]
        return ", ".join(self.get_key_display(self.active_bindings[k].binding) for k in keys)

    def action_export(self) -> None:
        try:
            data = gather_from_runner(self.runner)
        except ExportError as exc:
            self.refuse(str(exc))
            return
        self._write_export(data)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False, name="export")
    def _write_export(self, data: Any) -> None:
        try:
            jpath, tpath = write_export(data, export_dir(self.settings.export_dir))
        except ExportError as exc:
            self.call_from_thread(self.notify, str(exc), title="Export failed", severity="error")
            return
        self.last_export = (jpath, tpath)
        self.call_from_thread(self.notify, f"{jpath}\n{tpath}", title="Logs exported", timeout=10)

    def action_open_downloads(self) -> None:
        folder = self.runner.saves.folder or self.settings.downloads_path()
        opener = open_folder(folder)
        if opener:
            self.notify(str(folder), title=f"Opened with {opener}")
            return
        self.copy_to_clipboard(str(folder))
        self.notify(str(folder), title="Saved videos (path copied)")

    def action_history(self) -> None:
        from ..history import HistoryReader
        from .history import HistoryScreen

        if isinstance(self.screen, HistoryScreen):
            return
        if self._history is None:  # one reader: each opening reads only what was appended since
            self._history = HistoryReader(self.store.history_path)
        self.push_screen(HistoryScreen(self._history, opener=open_folder))

    async def action_quit(self) -> None:
        focused = self.focused
        if isinstance(focused, (Input, TextArea)):
            raise SkipAction()  # let the text field have its "q"
        self.exit()

    # ------------------------------------------------------------ themes

    def theme_names(self) -> list[str]:
        return list(self.available_themes)

    def set_theme(self, name: str) -> None:
        self.theme = name


def open_folder(folder: Any) -> str | None:
    """Open `folder` in the desktop's file manager (created if missing); the opener's name, or None."""
    import shutil
    import subprocess
    from pathlib import Path

    opener = next((o for o in ("xdg-open", "open") if shutil.which(o)), None)
    if opener is None:
        return None
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        subprocess.Popen(
            [opener, str(folder)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return None
    return opener
