"""The one table of actions (grok_tui.ui.actions) makes the bindings, the help screen and the palette; the footer fits."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from grok_tui.settings import Settings
from grok_tui.store import StateStore
from grok_tui.ui.actions import ACTIONS
from grok_tui.ui.app import make_app
from grok_tui.ui.modals import HelpScreen
from grok_tui.ui.queue import QueueScreen

from browser_rig import wait_until


def new_app(tmp_path):
    return make_app(Settings(), store=StateStore(tmp_path / "state"), attach=False)


def titles(app) -> list[str]:
    return [c.title for c in app.get_system_commands(app.screen)]


async def test_bindings_help_and_palette_come_from_the_table(tmp_path):
    app = new_app(tmp_path)
    keyed = [a for a in ACTIONS if a.key is not None]
    assert len({a.id for a in ACTIONS}) == len(ACTIONS) and len({a.key for a in keyed}) == len(keyed)
    assert [(b.key, b.action, b.id) for b in app.BINDINGS] == [(a.key, a.id, a.id) for a in keyed]
    for a in ACTIONS:
        assert callable(getattr(app, f"action_{a.id}")), a.id
    async with app.run_test(size=(110, 34)) as pilot:
        await pilot.pause(0.2)
        names = titles(app)
        # idle and not attached: what fits now, each action once, the saved-videos folder among them
        assert {"session: start", "downloads: open folder", "queue: open", "history: open", "logs: export"} <= set(names)
        assert not {"session: cancel", "session: reset retries", "session: retry now", "prompt: capture from page"} & set(names)
        assert len(names) == len(set(names))
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        shown = " ".join(str(s.render()) for s in app.screen.query("Static"))
        for a in keyed:
            assert a.help in shown, a.id


async def test_footer_keeps_quit_at_100_columns(tmp_path):
    """The palette hint docks over the footer's right end: `q Quit` ends before it, on every screen."""
    app = new_app(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)

        def footer() -> dict[str, FooterKey]:
            return {k.description: k for k in app.screen.query(FooterKey) if k.region.width}

        for screen in ("main", "queue"):
            if screen == "queue":
                await pilot.press("b")
                await wait_until(pilot, lambda: isinstance(app.screen, QueueScreen), what="the queue")
                await pilot.pause(0.3)
            keys = footer()
            assert {"Quit", "Help", "palette"} <= set(keys), screen
            assert keys["Quit"].region.right <= keys["palette"].region.x, screen
            assert keys["Start"].region.right <= keys["palette"].region.x, screen
