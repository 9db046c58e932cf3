"""Command palette: session, logs, prompt, settings and theme commands that follow the state."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, Iterator

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..engine import Phase
from .doctor import open_doctor

if TYPE_CHECKING:
    from .app import GrokApp


class GrokCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, str, Callable]]:
        app: GrokApp = self.app  # type: ignore[assignment]
        phase = app.runner.engine.phase
        if phase == Phase.MANUAL_WAIT:
            yield "session: retry now", "Retry the moderated attempt now", app.action_start
        elif not phase.active:
            yield "session: start", "Start a session with the prompt", app.action_start
        if phase.active:
            yield "session: cancel", "Cancel the running session", app.action_cancel
            yield "session: reset retries", "Set the retry counter back to 0", app.action_reset_retries
        auto = app.runner.engine.persistent.auto_retry_enabled
        yield "session: toggle auto-retry", f"Auto-retry is {'on' if auto else 'off'}", app.action_toggle_auto_retry
        yield "logs: export", "Write the session's log, attempts and summary to files", app.action_export
        yield "history: open", "Every recorded session, per prompt, charts per day", app.action_history
        yield "page: check", "Check the tab for every signal a session needs (grok-tui doctor)", partial(open_doctor, app)
        yield "prompt: edit", "Edit the prompt", app.action_edit_prompt
        if app.runner.link is not None and not phase.active:
            yield "prompt: capture from page", "Read the prompt from the page's editor", app.action_capture_prompt
        yield "settings: goal and retries", "Videos per session and max retries", app.action_settings
        for name in app.theme_names():
            if name != app.theme:
                yield f"theme: {name}", "Switch to this theme", partial(app.set_theme, name)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
