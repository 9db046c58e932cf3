"""The one table of the app's actions: it makes the key bindings, the help screen and the palette entries.

Each row is an action once: its id (the `action_<id>` method, the binding id a
`[keymap]` remaps, the palette callback), its key, footer label, palette title, help
text, when the palette offers it, and whether it belongs to the main screen (its keys
do nothing on the Queue and History screens, which have keys of their own). Adding an
action is adding a row (and its `action_<id>` method on the app). The UI refuses nothing
itself: an action that does not fit the state goes to the runner, and the engine (or the
runner, for the link) says no in one sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from textual.binding import Binding

from ..engine import Phase

if TYPE_CHECKING:
    from .app import GrokApp


def _always(app: GrokApp) -> bool:
    return True


def _idle(app: GrokApp) -> bool:
    return not app.runner.engine.phase.active


def _running(app: GrokApp) -> bool:
    return app.runner.engine.phase.active


def _waiting_for_user(app: GrokApp) -> bool:
    return app.runner.engine.phase == Phase.MANUAL_WAIT


def _idle_and_attached(app: GrokApp) -> bool:
    return _idle(app) and app.runner.link is not None


@dataclass(frozen=True)
class Action:
    id: str  # the app's `action_<id>`, the binding id for [keymap]
    key: str | None  # None: palette only
    label: str  # footer label
    title: str  # palette title, "area: verb"
    help: str  # help screen line and palette help
    when: Callable[[GrokApp], bool] = _always  # the palette offers it only then
    key_display: str | None = None
    # Shown in the footer. At 100 columns the palette hint covers the last 12: what is left must end
    # before it, `q Quit` included; the rest are on `?` and in the palette.
    footer: bool = True
    main_screen: bool = True  # acts only on the main screen; False: on every screen
    priority: bool = False


ACTIONS: tuple[Action, ...] = (
    Action("start", "s", "Start", "session: start", "start a session (or retry now when a moderated attempt waits)", _idle),
    Action("retry_now", None, "Retry", "session: retry now", "retry the moderated attempt now", _waiting_for_user),
    Action("cancel", "c", "Cancel", "session: cancel", "cancel the running session (or the running queue)", _running),
    Action("reset_retries", "r", "Reset", "session: reset retries", "set the retry counter back to 0", _running,
           footer=False),
    Action("toggle_auto_retry", "a", "Auto", "session: toggle auto-retry", "turn auto-retry on or off", footer=False),
    Action("edit_prompt", "p", "Prompt", "prompt: edit", "edit the prompt, or capture it from the page"),
    Action("capture_prompt", None, "Capture", "prompt: capture from page", "read the prompt from the page's editor",
           _idle_and_attached),
    Action("settings", "g", "Goal", "settings: goal and retries", "video goal and max retries (1-50)"),
    Action("export", "e", "Export", "logs: export", "export the session's log, attempts and summary"),
    Action("tabs", "t", "Tab", "browser: pick tab", "show the matching page tabs", footer=False),
    Action("page_check", None, "Check", "page: check",
           "check the tab for every signal a session needs (grok-tui doctor)"),
    Action("open_downloads", "o", "Files", "downloads: open folder", "open the folder of saved videos (or copy its path)",
           footer=False),
    Action("queue", "b", "Queue", "queue: open", "the batch queue: jobs (post x prompt) run one after another"),
    Action("history", "h", "History", "history: open",
           "every recorded session: sort, filter (/), per prompt, charts; Enter for one"),
    Action("help", "question_mark", "Help", "help: keys", "this help", key_display="?", main_screen=False),
    Action("quit", "q", "Quit", "app: quit", "quit (the browser tab is left as it was)", main_screen=False, priority=True),
)

BY_ID = {a.id: a for a in ACTIONS}


def bindings() -> list[Binding]:
    """The app's BINDINGS: one per action with a key, its id remappable with [keymap]."""
    return [
        Binding(a.key, a.id, a.label, id=a.id, key_display=a.key_display, show=a.footer, priority=a.priority)
        for a in ACTIONS
        if a.key is not None
    ]
