"""The History screen in the real app (`h`): snapshots on a fixed generated history, and Pilot tests.

The history is grok_tui.history_sample's (deterministic records, timestamps from 2026-01-01
UTC), with real log files and download paths; TZ is UTC so the "when" column is fixed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from grok_tui import history_sample as sample
from grok_tui.settings import Settings
from grok_tui.store import StateStore
from grok_tui.ui.app import GrokApp
from grok_tui.ui.app import make_app as build_app
from grok_tui.ui.history import HistoryScreen, SessionDetailScreen, SortTable

from browser_rig import wait_until

N = 60
KNIGHT = "a knight on horseback charging through a burning village"


@pytest.fixture(autouse=True)
def utc(monkeypatch, tmp_path):
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("HOME", str(tmp_path))  # paths on screen read ~/logs/..., the same in every run
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def records(tmp_path):
    recs = sample.generate(N, log_dir=str(tmp_path / "logs"), download_dir=str(tmp_path / "downloads"))
    sample.write(tmp_path / "state" / "history.jsonl", recs)
    sample.write_logs(recs)
    return recs


def make_app(tmp_path: Path, theme: str = "grok-dark") -> GrokApp:
    return build_app(Settings(theme=theme), store=StateStore(tmp_path / "state"), attach=False)


def _holds(cond) -> bool:
    try:
        return bool(cond())
    except Exception:  # NoMatches: the screen is not composed yet
        return False


async def _until(pilot, cond, timeout: float = 20.0) -> None:
    """wait_until, with a screen not composed yet counting as "not yet"."""
    await wait_until(pilot, lambda: _holds(cond), timeout)


async def open_history(pilot) -> HistoryScreen:
    await pilot.press("h")
    await _until(pilot, lambda: isinstance(pilot.app.screen, HistoryScreen) and pilot.app.screen.loaded)
    await pilot.pause(0.2)
    return pilot.app.screen


def table(screen, which: str) -> SortTable:
    return screen.query_one(f"#history-{which}", SortTable)


# ---------------------------------------------------------------- snapshots


def _view(tab: str):
    async def run_before(pilot):
        screen = await open_history(pilot)
        if tab != "sessions":
            await pilot.press({"prompts": "2", "charts": "3"}[tab])
            await _until(pilot, lambda: screen.query_one("#history-tabs").active == tab)
        await pilot.pause(0.4)

    return run_before


@pytest.mark.parametrize("size", [(100, 30), (160, 48)], ids=["100x30", "160x48"])
@pytest.mark.parametrize("theme", ["grok-dark", "grok-light"])
@pytest.mark.parametrize("view", ["sessions", "prompts"])
def test_history_snapshot(snap_compare, tmp_path, records, view, theme, size):
    assert snap_compare(make_app(tmp_path, theme), terminal_size=size, run_before=_view(view))


@pytest.mark.parametrize("theme", ["grok-dark", "grok-light"])
def test_history_charts_snapshot(snap_compare, tmp_path, records, theme):
    assert snap_compare(make_app(tmp_path, theme), terminal_size=(160, 48), run_before=_view("charts"))


def test_session_detail_snapshot(snap_compare, tmp_path, records):
    async def run_before(pilot):
        await open_history(pilot)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(pilot.app.screen, SessionDetailScreen))
        await _until(pilot, lambda: len(pilot.app.screen.query_one("#detail-log").lines) > 0)
        await pilot.pause(0.4)

    assert snap_compare(make_app(tmp_path), terminal_size=(100, 30), run_before=run_before)


# ---------------------------------------------------------------- Pilot


def _header_offset(t: SortTable, key: str) -> tuple[int, int]:
    x = 0
    for col in t.ordered_columns:
        if col.key.value == key:
            return x + 1, 0
        x += col.get_render_width(t)
    raise KeyError(key)


async def _click_header(pilot, t: SortTable, key: str) -> None:
    before = (t.sort_key, t.reverse)
    await pilot.click(t, offset=_header_offset(t, key))
    await _until(pilot, lambda: (t.sort_key, t.reverse) != before)
    await pilot.pause(0.05)


@pytest.mark.parametrize("which", ["sessions", "prompts"])
async def test_sort_by_each_column_on_raw_values(tmp_path, records, which):
    app = make_app(tmp_path)
    async with app.run_test(size=(180, 40)) as pilot:
        screen = await open_history(pilot)
        if which == "prompts":
            await pilot.press("2")
            await pilot.pause(0.2)
        t = table(screen, which)
        assert (t.sort_key, t.reverse) == (("when", True) if which == "sessions" else ("sessions", True))
        every = list(t.items)
        for key, col in list(t.cols.items()):
            await _click_header(pilot, t, key)
            first = t.raw_column(key)
            assert first == sorted(first, reverse=t.reverse), key
            want = sorted((col.raw(x) for x in every), reverse=t.reverse)
            assert first == want[: len(first)], key  # over every session, not just the rows on screen
            arrow = " ▼" if t.reverse else " ▲"
            assert str(t.columns[col.key].label) == col.label + arrow
            await _click_header(pilot, t, key)  # again: the other way
            assert t.raw_column(key) == sorted(first, reverse=t.reverse)
        # from the keyboard: s moves to the next column, S flips the order
        start = t.sort_key
        await pilot.press("s")
        keys = list(t.cols)
        assert t.sort_key == keys[(keys.index(start) + 1) % len(keys)]
        reverse = t.reverse
        await pilot.press("S")
        assert t.reverse is not reverse


async def test_sessions_sort_by_when_is_by_time_not_text(tmp_path, records):
    """Newest first by the raw epoch time, whatever the text looks like."""
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        t = table(await open_history(pilot), "sessions")
        assert [r.ended_at for r in t.shown] == sorted((r["endedAt"] for r in records), reverse=True)
        await _click_header(pilot, t, "credits")
        assert [r.credits for r in t.shown][:3] == sorted((r["creditsUsed"] for r in records), reverse=True)[:3]


async def test_filter_by_prompt_or_post_text(tmp_path, records):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_history(pilot)
        sessions, prompts = table(screen, "sessions"), table(screen, "prompts")
        await pilot.press("slash")
        assert screen.focused is screen.query_one("#history-filter")
        await pilot.press(*"KNIGHT")
        await _until(pilot, lambda: len(sessions.shown) < N)
        assert {r.prompt for r in sessions.shown} == {KNIGHT}
        assert len(sessions.shown) == sum(r["prompt"] == KNIGHT for r in records)
        assert [g.prompt for g in prompts.shown] == [KNIGHT] and prompts.shown[0].never_works
        head = str(screen.query_one("#history-head").render())
        assert "matching “KNIGHT”" in head and f"(of {N})" in head
        await pilot.press("enter")  # back to the table, filter kept
        assert screen.focused is sessions
        await pilot.press("slash", "escape")  # in the filter: clears it, stays on the screen
        await _until(pilot, lambda: len(sessions.shown) == N)
        assert isinstance(app.screen, HistoryScreen) and screen.focused is sessions
        # by post: the first 8 characters of a post id
        await pilot.press("slash", *"c0ffee00")
        post = "c0ffee00-1234-4abc-9def-0123456789ab"
        await _until(pilot, lambda: len(sessions.shown) < N)
        assert {r.post for r in sessions.shown} == {post}
        assert len(sessions.shown) == sum(r["postId"] == post for r in records)
        await pilot.press("escape")
        await _until(pilot, lambda: len(sessions.shown) == N)
        # Enter on a prompt shows that prompt's sessions
        await pilot.press("2")
        await pilot.pause(0.2)
        assert screen.focused is prompts
        chosen = prompts.shown[0].prompt
        await pilot.press("enter")
        await _until(pilot, lambda: screen.query_one("#history-tabs").active == "sessions")
        assert {r.prompt for r in sessions.shown} == {chosen}


async def test_open_a_session_detail_and_go_back(seen, tmp_path, records, monkeypatch):
    import grok_tui.ui.app as app_module

    opened: list[Path] = []
    monkeypatch.setattr(app_module, "open_folder", lambda folder: opened.append(folder) or "test-opener")
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 48), message_hook=seen) as pilot:
        screen = await open_history(pilot)
        sessions = table(screen, "sessions")
        # the newest session that downloaded something
        index = next(i for i, r in enumerate(sessions.shown) if r.videos)
        sessions.move_cursor(row=index)
        row = sessions.shown[index]
        rec = next(r for r in records if r["endedAt"] == row.ended_at)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        detail = app.screen
        await _until(pilot, lambda: detail.query_one("#detail-attempts").row_count == len(rec["attemptsDetail"]))
        assert list(detail.query_one("#detail-spark").data) == [a["durationS"] for a in rec["attemptsDetail"]]
        await _until(pilot, lambda: len(detail.query_one("#detail-log").lines) > 0)
        log_text = "\n".join(line.text for line in detail.query_one("#detail-log").lines)
        assert f"session started: {rec['prompt']}" in log_text
        assert detail.query_one("#detail-log").border_title == f"Log ~/logs/{Path(rec['logPath']).name}"
        downloads = str(detail.query_one("#detail-downloads").render())
        assert f"downloads ({len(rec['downloads'])})" in downloads and Path(rec["downloads"][0]).name in downloads
        head = str(detail.query_one("#detail-head").render())
        assert rec["prompt"] in head and rec["postId"] in head
        await pilot.press("o")
        assert opened == [tmp_path / "downloads"]
        assert any(n.title == "Opened with test-opener" for n in seen.notifications())
        await pilot.press("escape")
        await _until(pilot, lambda: app.screen is screen)
        assert sessions.cursor_row == index  # back where it was
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, HistoryScreen))
        assert app.screen.query_one("#attempts")  # the main screen


async def test_detail_without_downloads_says_so(seen, tmp_path, records):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 48), message_hook=seen) as pilot:
        screen = await open_history(pilot)
        sessions = table(screen, "sessions")
        sessions.move_cursor(row=next(i for i, r in enumerate(sessions.shown) if not r.videos))
        await pilot.press("enter")
        await _until(pilot, lambda: "no downloaded files" in str(app.screen.query_one("#detail-downloads").render()))
        await pilot.press("o")
        await pilot.pause(0.1)
        assert any(n.title == "Nothing to open" for n in seen.notifications())


async def test_main_screen_keys_do_nothing_on_the_history_screens(seen, tmp_path, records):
    """On History and on a session's detail, s / e / p / g / t / b / o are not the main screen's; `s` sorts on History."""
    app = make_app(tmp_path)  # not attached: on the main screen, `s` is refused with a sentence
    async with app.run_test(size=(160, 48), message_hook=seen) as pilot:
        screen = await open_history(pilot)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, SessionDetailScreen))
        detail = app.screen
        assert "session: start" not in [c.title for c in app.get_system_commands(detail)]
        for key in "secpgtbrah":
            await pilot.press(key)
            await pilot.pause(0.1)
        assert app.screen is detail and app.last_export is None and seen.notes() == []
        assert app.runner.engine.phase.value == "idle" and not app.runner.records
        await pilot.press("escape")
        await _until(pilot, lambda: app.screen is screen)
        before = (table(screen, "sessions").sort_key, table(screen, "sessions").reverse)
        await pilot.press("s")  # History's own key
        await _until(pilot, lambda: (table(screen, "sessions").sort_key, table(screen, "sessions").reverse) != before)
        assert seen.notes() == []
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, HistoryScreen))
        await pilot.press("s")  # the main screen's start: refused, not attached
        await _until(pilot, lambda: any("Not attached" in note for note in seen.notes("warning")))


async def test_corrupt_lines_are_skipped_and_counted_and_new_sessions_appear(tmp_path, records):
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause(0.3)  # the app's own start-up reading of the history is done
        hist = tmp_path / "state" / "history.jsonl"
        with open(hist, "a", encoding="utf-8") as fh:
            fh.write("{not json\n")
            fh.write('{"outcome": "success", "endedAt": "yesterday"}\n')
            fh.write('{"outcome": "success", "endedAt": 17')  # being written
        screen = await open_history(pilot)
        assert len(table(screen, "sessions").items) == N
        head = str(screen.query_one("#history-head").render())
        assert "Skipped 2 corrupt lines and an unfinished last line in ~/state/history.jsonl." in head
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, HistoryScreen))
        extra = sample.generate(1, seed=5, start_ms=records[-1]["endedAt"] + 60_000)[0]
        with open(hist, "a", encoding="utf-8") as fh:
            fh.write("67000000000}\n" + json.dumps(extra) + "\n")  # the unfinished line, finished
        screen = await open_history(pilot)  # the same reader: only the new lines are parsed
        t = table(screen, "sessions")
        assert len(t.items) == N + 2
        assert t.shown[0].ended_at == extra["endedAt"]
        head = str(screen.query_one("#history-head").render())
        assert "Skipped 2 corrupt lines in " in head and "unfinished" not in head


async def test_palette_and_help_name_history(tmp_path, records):
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"history: open")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.loaded)
        assert len(table(app.screen, "sessions").items) == N
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, HistoryScreen))
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        assert any("every recorded session" in str(s.render()) for s in app.screen.query("Static"))
