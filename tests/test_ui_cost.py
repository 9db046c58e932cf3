"""What the screen costs: a burst of runner notifications is drawn once, a changed cell redraws
only its row, an idle screen paints nothing, and steady updates need no layout pass.

Real Textual (`run_test`) and the real app; no browser: the notices are handed to the app's
listener (`app.notice`) as the runner hands them.
"""

from __future__ import annotations

import time

from textual.screen import Screen

from grok_tui import notices as n
from grok_tui.settings import Settings
from grok_tui.store import StateStore
from grok_tui.ui.app import GrokApp
from grok_tui.ui.app import make_app as build_app
from grok_tui.ui.widgets import AttemptsTable, LogPane

SIZE = (110, 34)


def make_app(tmp_path) -> GrokApp:
    settings = Settings(cdp_port=1, tab="/imagine/post/")
    return build_app(settings, store=StateStore(tmp_path / "state"), link_factory=lambda **_kw: None, attach=False,
                     prompt="a fox")


def record(n: int, progress: float, outcome: str = "running") -> dict:
    return {"attempt": n, "startedAt": time.time(), "outcome": outcome, "maxProgress": progress, "layer": None,
            "durationS": None, "videoId": None}


class Counter:
    """Counts calls of a method on a class while installed (monkeypatch restores it)."""

    def __init__(self, monkeypatch, cls, name):
        self.calls = 0
        original = getattr(cls, name)

        def counted(obj, *a, **kw):
            self.calls += 1
            return original(obj, *a, **kw)

        monkeypatch.setattr(cls, name, counted)


async def test_a_burst_of_progress_and_log_lines_is_drawn_once(tmp_path, monkeypatch):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        rows = Counter(monkeypatch, AttemptsTable, "update_row")
        frames = Counter(monkeypatch, Screen, "_compositor_refresh")
        app.notice(n.AttemptStarted(record(1, 0)))
        for p in range(1, 101):  # the sim at 20 ms steps, delivered all at once
            app.notice(n.ProgressChanged(record(1, p)))
            app.notice(n.LogLine(at=time.time(), level="INFO", message=f"line {p}"))
        await pilot.pause(0.3)
        table = app.query_one(AttemptsTable)
        assert table.row_count == 1 and str(table.get_row_at(0)[3]) == "100"  # the latest progress
        assert rows.calls <= 2  # not 100 redraws of the row
        assert frames.calls <= 3
        log = [s.text for s in app.query_one(LogPane).lines]
        assert [t.rsplit(" ", 1)[-1] for t in log[-100:]] == [str(p) for p in range(1, 101)]  # every line, in order


async def test_a_changed_cell_redraws_only_its_row(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(AttemptsTable)
        for i in range(1, 31):
            table.upsert(record(i, 100, "moderated"))
        await pilot.pause(0.2)
        drawn = dict(table._drawn)
        assert len(drawn) >= 10  # the visible rows are drawn and kept
        table.upsert(record(30, 100, "success"))
        await pilot.pause(0.2)
        assert "✔ success" in str(table.get_row_at(29)[2])
        assert table._drawn["30"] is not drawn["30"]
        assert all(table._drawn.get(k) is v for k, v in drawn.items() if k != "30")  # the others were not drawn again


async def test_an_idle_screen_paints_nothing_and_steady_updates_need_no_layout(tmp_path, monkeypatch):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        log = app.query_one(LogPane)
        for i in range(LogPane.MAX_LINES + 20):
            app.notice(n.LogLine(at=time.time(), level="INFO", message=f"line {i}"))
        await pilot.pause(0.5)
        frames = Counter(monkeypatch, Screen, "_compositor_refresh")
        layouts = Counter(monkeypatch, Screen, "_refresh_layout")
        await pilot.pause(1.0)
        assert frames.calls == 0  # idle: no timer repaints anything
        assert not app._clock._active.is_set()  # the countdown clock sleeps while no countdown is shown
        app.notice(n.AttemptStarted(record(1, 0)))
        await pilot.pause(0.2)
        layouts.calls = 0
        for p in range(1, 30):  # progress, and a full log that scrolls: repaints without a layout pass
            app.notice(n.ProgressChanged(record(1, p)))
            app.notice(n.LogLine(at=time.time(), level="INFO", message=f"more {p}"))
            await pilot.pause(0.03)
        await pilot.pause(0.8)  # new log lines are drawn at most twice a second
        assert frames.calls > 0 and layouts.calls == 0
        assert log.lines[-1].text.endswith("more 29") and len(log.lines) == LogPane.MAX_LINES


async def test_a_long_session_keeps_the_table_to_its_last_rows(tmp_path):
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(AttemptsTable)
        for n in range(1, 401):
            table.upsert(record(n, 100, "moderated"))
            table.show_file(n, f"file {n}")
        await pilot.pause(0.2)
        assert table.row_count <= AttemptsTable.MAX_ROWS
        assert str(table.get_row_at(table.row_count - 1)[0]) == "400"  # the newest is kept, and shown
        assert str(table.get_row_at(0)[0]) == str(401 - table.row_count)
        assert len(table._files) == table.row_count and "1" not in table._files
        assert table.scroll_offset.y == table.max_scroll_y and table.cursor_row == table.row_count - 1
        assert str(table.get_row_at(table.row_count - 1)[6]) == "file 400"


async def test_a_frame_draws_only_the_widgets_that_changed_and_the_terminal_gets_the_same(tmp_path, monkeypatch):
    """The main screen's compositor leaves out the widgets no change touches; what it sends the terminal is
    what Textual's own compositor sends for the same changes (each frame is rendered both ways)."""
    from textual._compositor import Compositor
    from textual.widget import Widget
    from textual.widgets import Footer

    from grok_tui.ui.screen import ChangedOnlyCompositor

    app = make_app(tmp_path)
    frames: list[tuple[str, str]] = []
    partial = ChangedOnlyCompositor.render_partial_update

    counting = [False]

    def both(self):
        changed = set(self._dirty_regions)
        counting[0] = True
        try:
            mine = partial(self)
        finally:
            counting[0] = False
        self._dirty_regions.update(changed)
        stock = Compositor.render_partial_update(self)  # self._changed is empty: Textual's own _get_renders
        if mine is not None or stock is not None:
            frames.append((mine.render_segments(app.console), stock.render_segments(app.console)))
        return mine

    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen._compositor, ChangedOnlyCompositor)
        await pilot.pause(0.2)
        monkeypatch.setattr(ChangedOnlyCompositor, "render_partial_update", both)
        drawn: list[Widget] = []
        render_lines = Widget.render_lines

        def counted(widget, crop):
            if counting[0]:
                drawn.append(widget)
            return render_lines(widget, crop)

        monkeypatch.setattr(Widget, "render_lines", counted)
        app.notice(n.LogLine(at=time.time(), level="INFO", message="one line"))
        await pilot.pause(0.3)
        assert any(isinstance(w, LogPane) for w in drawn)
        assert not any(isinstance(w, (AttemptsTable, Footer)) for w in drawn)  # untouched: not drawn again
        app.notice(n.AttemptStarted(record(1, 0)))
        for p in range(1, 60, 7):
            app.notice(n.ProgressChanged(record(1, p)))
            app.notice(n.LogLine(at=time.time(), level="WARN", message=f"line {p}"))
            await pilot.pause(0.12)
        app.notice(n.AttemptResolved(record(1, 59, "moderated")))
        await pilot.pause(0.4)
    assert len(frames) >= 5
    for mine, stock in frames:
        assert mine == stock
