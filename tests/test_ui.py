"""The Textual UI with real parts: the sim site, a headless Chromium, BrowserLink and the runner."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from grok_tui.engine import Phase
from grok_tui.settings import Settings
from grok_tui.store import StateStore
from grok_tui.ui.app import GrokApp
from grok_tui.ui.app import make_app as build_app
from grok_tui.ui.modals import HelpScreen, SettingsScreen, TabsScreen
from grok_tui.ui.widgets import AttemptsTable, LogPane

from browser_rig import wait_until

PROMPT = "a red fox running through snow, slow motion, cinematic"
SIZE = (110, 34)


@pytest.fixture
def env(tmp_path):
    """The test's folder: conftest points the state dir and the config file into it."""
    return tmp_path


def make_app(env: Path, chrome, **kw) -> GrokApp:
    app_kw = {k: kw.pop(k) for k in ("attach", "demo_autostart", "prompt") if k in kw}
    app_kw.setdefault("prompt", PROMPT)
    settings = Settings(
        cdp_port=chrome.port if chrome else 1,
        tab="/imagine/post/",
        cooldown_s=0.3,
        next_video_delay_s=0.3,
        session_timeout_s=20,
        export_dir=env / "exports",
        **kw,
    )
    return build_app(settings, store=StateStore(env / "state"), **app_kw)


async def shows(pilot, app, selector: str, needle: str) -> None:
    """Wait for the screen to show `needle` (repaints are coalesced: at most 10 a second, new log lines 4)."""
    await wait_until(pilot, lambda: needle in text_of(app, selector), what=f"{needle!r} in {selector}")


def text_of(app, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def palette(app) -> list[str]:
    return [command.title for command in app.get_system_commands(app.screen)]


async def attached(pilot, app):
    await wait_until(pilot, lambda: app.runner.attached and app.runner.running, what="attach")


# ---------------------------------------------------------------- a whole session


async def test_session_fills_table_and_shows_summary(seen, env, site, chrome):
    site.set_script("ok,mod@40,ok")
    app = make_app(env, chrome, video_goal=2, max_retries=3)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        await shows(pilot, app, "#conn-line1", "● attached")
        assert "Chrome 156" in text_of(app, "#conn-line1")
        assert "IDLE" in text_of(app, "#status")
        await pilot.press("s")
        await wait_until(pilot, lambda: app.last_outcome is not None, what="the session's end")
        assert app.last_outcome == "success"
        summary = app.runner.records[-1].summary
        assert (summary.completedVideos, summary.retriesAttempted, summary.creditsUsed) == (2, 1, 3)
        assert (summary.layer1Failures, summary.layer2Failures, summary.layer3Failures) == (0, 1, 0)

        table = app.query_one(AttemptsTable)
        assert table.row_count == 3
        outcomes = [str(table.get_row_at(i)[2]) for i in range(3)]
        assert outcomes == ["✔ success", "✖ moderated", "✔ success"]
        assert str(table.get_row_at(1)[4]) == "2"  # layer

        status = text_of(app, "#status")
        assert "SUCCESS" in status and "video goal reached" in status
        counters = text_of(app, "#counters")
        assert "retries  1 / 3" in counters and "credits 3" in counters and "L2 1" in counters
        assert str(app.query_one("#videos-count").render()) == "2 / 2"
        assert "2/2" in str(app.query_one("#counts", Static).render())
        assert app.sub_title.startswith("✔ success")
        assert any("2/2 videos" in n and "credits 3" in n for n in seen.notes("information"))
        log_text = "\n".join(strip.text for strip in app.query_one(LogPane).lines)
        assert "session success" in log_text and "moderated at 40 %" in log_text
        # the prompt reached the page exactly
        reqs = site.requests
        assert len(reqs) == 3 and all(r["prompt"] == PROMPT for r in reqs)


async def test_cancel_mid_session(seen, env, site, chrome):
    site.set_script("ok/400")
    app = make_app(env, chrome, video_goal=1, max_retries=3)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        await pilot.press("s")
        await wait_until(
            pilot,
            lambda: app.runner.engine.current is not None and app.runner.engine.current.max_progress > 0,
            what="progress",
        )
        await shows(pilot, app, "#status", "RUNNING")
        await shows(pilot, app, "#next", "timeout in")
        names = palette(app)
        assert "session: cancel" in names and "session: start" not in names
        await pilot.press("c")
        await wait_until(pilot, lambda: app.last_outcome is not None, what="the cancel")
        assert app.last_outcome == "cancelled"
        assert "CANCELLED" in text_of(app, "#status")
        assert str(app.query_one(AttemptsTable).get_row_at(0)[2]) == "■ cancelled"
        assert any("Session cancelled" == n.title for n in seen.notifications())


async def test_reset_retries_and_refusals(seen, env, site, chrome):
    site.set_script("mod@10,ok/400")
    app = make_app(env, chrome, video_goal=1, max_retries=3)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        await pilot.press("c")  # idle: refused
        await wait_until(pilot, lambda: seen.notes("warning"), what="a warning")
        assert "No session is running." in seen.notes("warning")

        await pilot.press("s")
        await wait_until(pilot, lambda: app.runner.engine.session.retry_count == 1, what="the retry")
        await shows(pilot, app, "#counters", "retries  1 / 3")
        await pilot.press("s")  # running: refused
        await wait_until(pilot, lambda: any("already running" in n for n in seen.notes("warning")), what="refusal")
        await pilot.press("r")
        await wait_until(pilot, lambda: app.runner.engine.session.retry_count == 0, what="the reset")
        await pilot.pause(0.1)
        assert "retries  0 / 3" in text_of(app, "#counters")
        log_text = lambda: "\n".join(strip.text for strip in app.query_one(LogPane).lines)  # noqa: E731
        # new log lines are drawn at most twice a second: the line is there within a second
        await wait_until(pilot, lambda: "retry counter reset (1 -> 0)" in log_text(), timeout=1.0, what="the log line")
        await pilot.press("a")  # auto-retry off
        await wait_until(pilot, lambda: not app.runner.engine.persistent.auto_retry_enabled, what="auto-retry off")
        await pilot.pause(0.1)
        assert "auto-retry OFF" in text_of(app, "#counters")
        await pilot.press("c")
        await wait_until(pilot, lambda: app.last_outcome == "cancelled", what="the cancel")
        assert app.runner.engine.phase == Phase.ENDED


async def test_export_matches_session(seen, env, site, chrome):
    site.set_script("ok,mod@40,ok")
    app = make_app(env, chrome, video_goal=2, max_retries=3)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.last_outcome is not None, what="the session's end")
        await pilot.press("e")
        await wait_until(pilot, lambda: app.last_export is not None, what="the export")
        jpath, tpath = app.last_export
        assert any(str(jpath) in n for n in seen.notes())
    assert jpath.parent == env / "exports" and jpath.name.startswith("grok-tui-session-")
    assert jpath.stem == tpath.stem and tpath.suffix == ".txt"
    for p in (jpath, tpath):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    data = json.loads(jpath.read_text(encoding="utf-8"))
    summary = app.runner.records[-1].summary.to_dict()
    for key, value in summary.items():
        assert data["summary"][key] == value
    assert [a["outcome"] for a in data["attempts"]] == ["success", "moderated", "success"]
    assert data["attempts"][1]["layer"] == 2 and data["attempts"][1]["maxProgress"] == 40
    assert any("session success" in line for line in data["log"])
    assert any("attempt 2 moderated at 40 %" in line for line in data["log"])
    text = tpath.read_text(encoding="utf-8")
    assert "outcome      success" in text and "credits      3" in text
    assert "L1 0 · L2 1 · L3 0" in text and "✖ moderated" in text
    assert text.count("✔ success") == 2


async def test_settings_modal_validates(seen, env, site, chrome):
    app = make_app(env, chrome, video_goal=1, max_retries=3)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        await pilot.press("g")
        await wait_until(pilot, lambda: isinstance(app.screen, SettingsScreen), what="the settings modal")
        goal = app.screen.query_one("#goal-input", Input)
        goal.value = "99"
        await pilot.pause(0.1)
        await pilot.click("#settings-save")
        await pilot.pause(0.1)
        assert "from 1 to 50" in str(app.screen.query_one("#goal-error").render())
        assert isinstance(app.screen, SettingsScreen)
        goal.value = "4"
        app.screen.query_one("#retries-input", Input).value = "7"
        await pilot.pause(0.1)
        await pilot.click("#settings-save")
        await wait_until(pilot, lambda: app.runner.engine.persistent.video_goal == 4, what="Configure")
        assert app.runner.engine.persistent.max_retries == 7
        await pilot.pause(0.1)
        assert str(app.query_one("#videos-count").render()) == "0 / 4"
        assert "0/4" in str(app.query_one("#counts", Static).render())


async def test_not_attached_is_a_notification(seen, env):
    app = make_app(env, None)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await wait_until(pilot, lambda: seen.notes("error"), what="the error")
        assert any("Nothing is listening" in n for n in seen.notes("error"))
        assert "not attached" in text_of(app, "#conn-line1")
        await pilot.press("s")
        await wait_until(pilot, lambda: any("Not attached" in n for n in seen.notes("warning")), what="refusal")
        assert app.runner.engine.phase == Phase.IDLE


async def test_keymap_and_capture_prompt(seen, env, site, chrome):
    site.set_script("ok")
    app = make_app(env, chrome, video_goal=1, max_retries=1, keymap={"start": "f5"})
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        names = palette(app)
        assert {"session: start", "logs: export", "prompt: edit", "prompt: capture from page"} <= set(names)
        assert "settings: goal and retries" in names and "theme: grok-light" in names
        assert "session: cancel" not in names
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TabsScreen), what="the tab picker")
        await pilot.pause(0.2)
        assert "/imagine/post/" in str(app.screen.query_one("#tabs-list").get_option_at_index(0).prompt)
        await pilot.press("escape")
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, HelpScreen), what="help closed")
        await pilot.press("s")  # remapped away: nothing starts
        await pilot.pause(0.5)
        assert app.runner.engine.phase == Phase.IDLE and not app.runner.records
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.last_outcome == "success", what="a session started by f5")
        # the page's editor now holds the prompt: capture it from the command path
        app.theme = "grok-light"
        app.prompt_override = None
        app.action_capture_prompt()
        await wait_until(pilot, lambda: app.prompt_override == PROMPT, what="the captured prompt")
        assert PROMPT[:20] in str(app.query_one("#prompt", Static).render())


async def test_demo_autostart_runs_a_session(seen, env, site, chrome):
    site.set_script("mod@20,ok")
    app = make_app(env, chrome, video_goal=1, max_retries=2, demo_autostart=True)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await wait_until(pilot, lambda: app.last_outcome is not None, what="the demo session")
        assert app.last_outcome == "success"
        s = app.runner.records[-1].summary
        assert (s.completedVideos, s.retriesAttempted, s.layer1Failures, s.creditsUsed) == (1, 1, 1, 2)
        assert app.query_one(AttemptsTable).row_count == 2


async def test_prompt_modal_keeps_q_and_saves(seen, env):
    from textual.widgets import TextArea

    from grok_tui.ui.modals import PromptScreen

    app = make_app(env, None, attach=False, prompt=None)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptScreen), what="the prompt editor")
        area = app.screen.query_one(TextArea)
        area.focus()
        await pilot.press("q", "u", "i", "e", "t")  # "q" types, it does not quit
        await pilot.pause(0.1)
        assert area.text == "quiet"
        await pilot.click("#prompt-save")
        await wait_until(pilot, lambda: not isinstance(app.screen, PromptScreen), what="save")
        assert app.prompt_override == "quiet"
        await wait_until(pilot, lambda: app.runner.engine.persistent.last_prompt_value == "quiet", what="Configure")
        assert "quiet" in text_of(app, "#prompt")
        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code == 0


async def test_tab_picker_attaches_to_the_chosen_tab(seen, env, site, chrome):
    import urllib.request

    other = site.post_url("0f0f0f0f-1111-2222-3333-444455556666")
    urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:{chrome.port}/json/new?{other}", method="PUT"), timeout=5
    ).read()
    site.set_script("ok")
    app = make_app(env, chrome, video_goal=1, max_retries=1)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        first = app.runner.info.target_id
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TabsScreen), what="the tab picker")
        listing = app.screen.query_one("#tabs-list")
        await wait_until(pilot, lambda: listing.option_count == 2, what="two matching tabs")
        chosen = next(i for i, tid in enumerate(app.screen.target_ids) if tid != first)
        chosen_id = app.screen.target_ids[chosen]
        listing.highlighted = chosen
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.runner.info.target_id == chosen_id, what="the switch")
        await pilot.press("s")
        await wait_until(pilot, lambda: app.last_outcome == "success", what="a session on the chosen tab")
        assert [r["prompt"] for r in site.requests] == [PROMPT]


async def test_chrome_killed_app_stays_up_and_says_so(seen, env, site, chrome):
    site.set_script("ok/200,ok")  # 200 ms progress steps: the kill lands inside the first attempt
    app = make_app(env, chrome, video_goal=2, max_retries=1, tab_wait_s=1)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        await pilot.press("s")
        await wait_until(pilot, lambda: len(site.requests) == 1, what="the first click")
        chrome.kill()
        await wait_until(pilot, lambda: app.last_outcome == "cancelled", timeout=30, what="the session to end")
        assert app.is_running
        assert not app.runner.attached
        assert "not attached" in text_of(app, "#conn-line1") or "lost" in text_of(app, "#conn-line1")
        assert any("Session cancelled" in n.title for n in seen.notifications())
        [rec] = StateStore(env / "state").history()
        assert rec["outcome"] == "cancelled" and rec["reason"].startswith("browser lost")
        # the app still answers keys: starting now is refused with a notice, not a crash
        await pilot.press("s")
        await wait_until(pilot, lambda: len(seen.notes("warning")) >= 1, what="a refusal")
        await pilot.press("q")


async def test_tab_picker_follows_tabs_opening_and_closing(env, site, chrome):
    """The open picker re-lists from the browser's Target events: no reopening, no polling."""
    import urllib.request

    app = make_app(env, chrome, video_goal=1, max_retries=1)
    async with app.run_test(size=SIZE) as pilot:
        await attached(pilot, app)
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TabsScreen), what="the tab picker")
        listing = app.screen.query_one("#tabs-list")
        await wait_until(pilot, lambda: listing.option_count == 1, what="the one matching tab")
        other = site.post_url("0f0f0f0f-1111-2222-3333-444455556666")
        with urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{chrome.port}/json/new?{other}", method="PUT"), timeout=5
        ) as r:
            new_id = json.loads(r.read())["id"]
        await wait_until(pilot, lambda: listing.option_count == 2, what="the new tab in the open picker")
        assert new_id in app.screen.target_ids
        assert "0f0f0f0f" in str(listing.get_option_at_index(app.screen.target_ids.index(new_id)).prompt)
        urllib.request.urlopen(f"http://127.0.0.1:{chrome.port}/json/close/{new_id}", timeout=5).read()
        await wait_until(pilot, lambda: listing.option_count == 1, what="the closed tab gone from the picker")
        assert app.screen.target_ids == [app.runner.info.target_id]
