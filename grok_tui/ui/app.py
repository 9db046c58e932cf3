"""grok-tui's Textual app: renders the session runner's state and sends user intents to it.

Dependencies are passed in (settings, store, the link factory, the clock); nothing is
looked up. The app builds its runner with itself as the one listener; each notice
(grok_tui.notices) arrives as a `RunnerNotice` message and the screen renders from
`runner.engine`. `make_app` is the one place an app is built (CLI, tests, snapshots).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time as _time
from functools import partial
from typing import Any, Callable, Iterable, TypeVar

from textual import on, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from .. import notices as n
from ..batch_runner import BatchQueue
from ..browser.signals import AttachInfo, TabIdentity
from ..engine import Phase
from ..engine.events import Configure, ResetRetries, RetryNow, SetAutoRetry, UserCancel
from ..export import ExportError, export_dir, gather_from_runner, write_export
from ..runner import CaptureError, SessionRunner
from ..settings import Settings, state_dir
from ..store import StateStore
from .actions import ACTIONS, BY_ID, bindings
from .messages import RunnerNotice
from .themes import ThemeError, resolve_theme
from .widgets import AttemptsTable, HeaderBar, LogPane, PromptPane, SessionPane

__all__ = ["GrokApp", "ThemeError", "make_app"]

W = TypeVar("W")

TICK_S = 0.25  # the countdowns' clock; it runs only while a countdown is on screen
VIEW_INTERVAL_S = 0.1  # the screen follows the runner at most 10 times a second (a burst is one repaint)
LOG_INTERVAL_S = 0.5  # new log lines scroll the whole pane (every visible line and the scrollbar drawn again): at most twice a second


class GrokApp(App):
    """The main screen: connection line, session pane, prompt, attempts table, log."""

    CSS_PATH = "app.tcss"
    TITLE = "grok-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = bindings()

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        link_factory: Callable[..., Any],
        *,
        clock: Callable[[], float] = _time.time,
        attach: bool = True,
        demo_autostart: bool = False,
        prompt: str | None = None,
        themes: tuple[Any, dict[str, Any]] | None = None,
    ) -> None:
        # Raises ThemeError (unknown name / invalid file) before anything runs. `themes`: resolve_theme(settings.theme)
        # as the CLI's check already read it (the theme files are read once).
        self._initial_theme, self._grok_themes = themes if themes is not None else resolve_theme(settings.theme)
        super().__init__()
        self._loop_thread: int | None = None  # the thread of the loop the app runs on, once mounted
        self._notices_queued = 0  # RunnerNotice messages posted and not yet handled (the runner tells from now on)
        self.settings = settings
        self.store = store
        self.queue: BatchQueue | None = None  # built with the runner; the runner already tells notices as it restores
        # A second grok-tui on the same tab: this window only watches (on_busy="watch").
        self.runner = SessionRunner(settings, store, link_factory, listener=self.notice, clock=clock, on_busy="watch")
        self.attach_on_mount = attach
        self.demo_autostart = demo_autostart
        self.prompt_override: str | None = prompt if prompt and prompt.strip() else None
        self.link_attached = False
        self.link_detail = "attaching…" if attach else "not attached"
        self.link_info: AttachInfo | None = None
        self.tab_identity: TabIdentity | None = None
        self.signal_stats: n.SignalStats | None = None
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
        self._frozen = False
        self._history: Any = None
        self.queue = BatchQueue(self.runner, store.directory, on_change=self._queue_changed, on_end=self._batch_over)
        if settings.keymap:
            self.set_keymap(dict(settings.keymap))
        for theme in self._grok_themes.values():
            self.register_theme(theme)
        if self._initial_theme.name not in self._grok_themes:
            self.register_theme(self._initial_theme)
        self.theme = self._initial_theme.name

    def get_default_screen(self) -> Screen:
        """The main screen: a frame draws only the widgets that changed (grok_tui.ui.screen)."""
        try:
            from .screen import MainScreen
        except ImportError:  # a Textual whose compositor moved: its own screen (it only draws more)
            return super().get_default_screen()
        return MainScreen(id="_default")

    def get_driver_class(self) -> type:
        """Textual's choice, with the terminal's input thread asleep while nothing is typed (grok_tui.ui.driver)."""
        default = super().get_driver_class()
        if default.__module__ != "textual.drivers.linux_driver":
            return default  # Windows, or a driver set with TEXTUAL_DRIVER
        try:
            from .driver import driver_class
        except ImportError:  # a Textual whose key parser moved: its own driver (it only wakes more)
            return default
        return driver_class(default)  # the quiet one in place of LinuxDriver itself, else `default`

    # ------------------------------------------------------------ runner -> UI

    def notice(self, notice: n.Notice) -> None:
        """The runner's listener: the running queue's bookkeeping, then the notice is handled.

        On this app's running loop it is handled at once: the handler only keeps what the next
        repaint draws (and plans that repaint), so the runner's step never waits on a repaint, and
        the ~50 notices a second of a running session (progress every 20 ms, log lines) are not each
        a Textual message (a message is a queue hop and a handler lookup, ~0.1 ms). Before the app
        runs, or from another thread, or while earlier notices still wait in the queue, it is posted
        as a `RunnerNotice` message and handled in order.
        """
        if self.queue is not None:
            self.queue.observe(notice)
        if self._notices_queued or self._loop_thread != threading.get_ident():
            self._notices_queued += 1
            self.post_message(RunnerNotice(notice))
            return
        self._handle_notice(notice)

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
        self._loop_thread = threading.get_ident()  # from now on a notice is handled as it comes (see notice)
        for warning in self.store.warnings:
            self.notify(warning, severity="warning", timeout=10)
        self.call_after_refresh(self._show_last_session)
        self._trap_signals()
        self._clock = self.set_interval(TICK_S, self._tick, pause=True)
        self.refresh_view()
        self.call_after_refresh(gc.freeze)  # see _freeze_once
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
        if self._view_timer is not None:
            self._view_timer.cancel()
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
                self.signal_stats,
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
            self._view_timer.cancel()
            self._view_timer = None
        self._view_pending, self._view_at = True, want
        wait = want - _time.monotonic()
        if wait > 0.001:
            # The loop's own timer (~1 µs to make and cancel): a Textual Timer takes repr(app) and runs
            # as a task of its own (~15 µs, and a task to wake), for every planned repaint.
            self._view_timer = asyncio.get_running_loop().call_later(wait, self._flush_view)
        else:
            self.call_later(self._flush_view)  # after the messages already queued

    def _flush_view(self) -> None:
        self._view_pending, self._view_timer = False, None
        if self.is_running:
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
            log.add_all(lines)
        else:
            self.schedule_view(due)  # with the repaint that falls due then

    @on(RunnerNotice)
    def _on_notice(self, msg: RunnerNotice) -> None:
        self._notices_queued = max(0, self._notices_queued - 1)
        self._handle_notice(msg.notice)

    def _handle_notice(self, notice: n.Notice) -> None:
        match notice:
            case n.LogLine() as line:
                self._lines.append(line)
                self.schedule_view()  # every engine change logs a line (auto-retry, reset, ...)
            case n.SetTitle(text=text):
                if text == self.sub_title:  # the engine repeats its title at every step
                    return
                # Without a repaint: no screen shows the sub-title (no Header), and assigning it would
                # repaint the whole screen (App.sub_title is a repainting reactive).
                self.set_reactive(App.sub_title, text)
                self._write_terminal_title(f"grok-tui {text}")
                self.schedule_view()
            case n.Refused(message=message):
                self.refuse(message)
            case n.AttemptStarted(record=record) | n.ProgressChanged(record=record) | n.AttemptResolved(record=record):
                # Drawn by the next repaint: each attempt's latest record only (progress every 20 ms is
                # 10 redraws a second).
                number = record.get("attempt")
                if isinstance(notice, n.AttemptStarted) and number == 1:  # a new session: a new table
                    self._rows_reset = True
                    self._rows.clear()
                    self._files.clear()
                self._rows[number] = record
                self.schedule_view()
            case n.PhaseChanged(phase=phase):
                if phase == Phase.CLICKING and self.runner.engine.attempt_no == 1:
                    self.last_outcome = None
                self.schedule_view()
            case n.Attached(info=info):
                self._freeze_once()
                self.link_attached = True
                self.link_detail = "watching read-only" if self.runner.read_only else "attached"
                self.link_info, self.tab_identity = info, info.identity
                self.refresh_view()  # at once, not with the next 10-a-second repaint: once per attach
            case n.AwaitingPermission() as waiting:
                self.link_detail = "allow the connection in Chrome"  # in the header until the attach ends
                self.notify(waiting.message.capitalize() + ".", title="Chrome is asking", timeout=waiting.wait_s or 30)
                self.schedule_view()
            case n.TabChanged(identity=identity):
                self.tab_identity = identity
                self.schedule_view()
            case n.TabLost(reason=reason):
                self.link_attached, self.link_detail = False, reason
                self.schedule_view()
            case n.TabsChanged(tabs=tabs):
                from .modals import TabsScreen  # the dialogs load when first used, not before the first frame

                if isinstance(self.screen, TabsScreen):
                    self.screen.show(list(tabs))
            case n.ClickPaused():
                self.schedule_view()  # the link logged why; the log pane has the line
            case n.SignalStats() as stats:
                self.signal_stats = stats
                self.schedule_view()
            case n.OptionsDiffer(blocked=True, changes=changes):
                self.notify(
                    f"{changes}\nSet them back on the page, then press s.",
                    title="Generation options changed: request not sent",
                    severity="warning",
                    timeout=20,
                )
                self.schedule_view()
            case n.OptionsSeen() | n.OptionsDiffer():
                self.schedule_view()
            case n.DownloadStarted() | n.DownloadRetrying() | n.DownloadFinished():
                self._show_download(notice)
            case n.SessionEnded(summary=s):
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
            case n.JobStarted() | n.JobPaused() | n.JobEnded() | n.BatchChanged() | n.BatchNote() | n.BatchEnded():
                pass  # the queue's own listener has them (grok_tui.batch_runner.BatchQueue)

    def _show_download(self, notice: n.DownloadNotice) -> None:
        """A video saving, retried, saved or failed: in its attempt's row with the next repaint."""
        match notice:
            case n.DownloadStarted(attempt=attempt):
                self._files[attempt] = "⇣ saving…"
            case n.DownloadRetrying(attempt=attempt, tries=tries):
                self._files[attempt] = f"⇣ retry {tries}"
            case n.DownloadFinished(attempt=attempt, result=r) if r.ok and r.path:
                name = r.path.rsplit("/", 1)[-1]
                self._files[attempt] = "💾 " + (name if len(name) <= 26 else "…" + name[-25:])
            case n.DownloadFinished(attempt=attempt, result=r):
                self._files[attempt] = "✖ not saved"
                self.notify(str(r.reason), title=f"Video {r.job.number} not saved", severity="error", timeout=10)
        self.schedule_view()  # the file in its row with the next repaint, the saved count in the session pane

    def _freeze_once(self) -> None:
        """What the app and the link built to get here stays for the whole run: the collector leaves it out of
        its later passes (a full pass over it took ~0.1 s, about every 10 s, at 20 ms progress steps)."""
        if not self._frozen:
            self._frozen = True
            gc.freeze()

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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A main-screen action does nothing (and leaves the footer) while the Queue or History screen is up."""
        row = BY_ID.get(action)
        if row is not None and row.main_screen and not self.on_main_screen():
            return False
        return True

    def on_main_screen(self) -> bool:
        """The main screen is the one shown (a modal over it, such as the palette, counts as over it)."""
        under = next((s for s in reversed(self.screen_stack) if not s.is_modal), None)
        return under is None or under is self.screen_stack[0]

    def action_start(self) -> None:
        if self.runner.engine.phase == Phase.MANUAL_WAIT:
            self.action_retry_now()  # `s` is also the way forward when auto-retry is off
            return
        self.run_worker(self._start_session(), name="start", group="start", exclusive=True, exit_on_error=False)

    async def _start_session(self) -> None:
        await self.runner.start_session(self.prompt_override)

    def action_retry_now(self) -> None:
        self.runner.submit(RetryNow())

    def action_cancel(self) -> None:
        if self.queue.running:  # the running job is recorded cancelled and the queue stops
            self.queue.stop()
            return
        self.runner.submit(UserCancel())

    def action_reset_retries(self) -> None:
        self.runner.submit(ResetRetries())

    def action_toggle_auto_retry(self) -> None:
        self.runner.submit(SetAutoRetry())

    def action_edit_prompt(self) -> None:
        from .modals import PromptScreen

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
        try:
            text = await self.runner.page_prompt()
        except CaptureError as exc:
            self.refuse(str(exc))
            return
        self.set_prompt(text)
        self.notify(f"{len(text)} characters from the page.", title="Prompt captured")

    def action_settings(self) -> None:
        from .modals import Limits, SettingsScreen

        p = self.runner.engine.persistent

        def done(limits: Limits | None) -> None:
            if limits is not None:
                self.runner.submit(Configure(max_retries=limits.max_retries, video_goal=limits.video_goal))
                self.notify(f"goal {limits.video_goal}, max retries {limits.max_retries}", title="Settings saved")
                self.call_later(self.refresh_view)

        self.push_screen(SettingsScreen(p.video_goal, p.max_retries), done)

    def action_tabs(self) -> None:
        from .modals import TabsScreen

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
        from .modals import HelpScreen

        rows = [(self._keys_for(a.id) or a.key_display or a.key, a.help) for a in ACTIONS if a.key is not None]
        self.push_screen(HelpScreen(rows))

    def _keys_for(self, binding_id: str) -> str:
        """The keys bound to `binding_id` now (after [keymap]), as the footer shows them."""
        keys = [k for k, ab in self.active_bindings.items() if ab.binding.id == binding_id]
        return ", ".join(self.get_key_display(self.active_bindings[k].binding) for k in keys)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette: the actions that fit the state (and the screen) now, then the themes."""
        on_main = self.on_main_screen()
        for a in ACTIONS:
            if (on_main or not a.main_screen) and a.when(self):
                yield SystemCommand(a.title, a.help[:1].upper() + a.help[1:], partial(self.run_action, a.id))
        for name in self.theme_names():
            if name != self.theme:
                yield SystemCommand(f"theme: {name}", "Switch to this theme", partial(self.set_theme, name))

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

    def action_page_check(self) -> None:
        from .doctor import open_doctor

        open_doctor(self)

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
        from textual.widgets import TextArea  # loaded with the prompt dialog, not before the first frame

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


def make_app(
    settings: Settings,
    *,
    store: StateStore | None = None,
    link_factory: Callable[..., Any] | None = None,
    clock: Callable[[], float] = _time.time,
    attach: bool = True,
    demo_autostart: bool = False,
    prompt: str | None = None,
    themes: tuple[Any, dict[str, Any]] | None = None,
) -> GrokApp:
    """The one way to build the app: the CLI, the tests and the snapshot tests all come here.

    `store` defaults to the state dir's store, `link_factory` to the real BrowserLink.
    Raises ThemeError for an unknown or invalid theme. `themes`: resolve_theme(settings.theme), when the caller has it.
    """
    if link_factory is None:
        from ..browser.link import BrowserLink

        link_factory = BrowserLink
    return GrokApp(
        settings,
        store if store is not None else StateStore(state_dir()),
        link_factory,
        clock=clock,
        attach=attach,
        demo_autostart=demo_autostart,
        prompt=prompt,
        themes=themes,
    )
