"""The Doctor screen (palette "page: check") in the real app: sim site, headless Chromium, BrowserLink, run_test()."""

from __future__ import annotations

import tomllib

import pytest
from textual.widgets import DataTable, Static

from grok_tui.browser.launcher import launch_chrome
from grok_tui.engine import Phase
from grok_tui.sim import SimSite
from grok_tui.ui.doctor import DoctorScreen, open_doctor
from test_sim import Page
from test_ui import attached, make_app, palette, wait_until

SIZE = (130, 40)
DRAFT = "a draft\nwith two lines ✓ "


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("GROK_TUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GROK_TUI_CONFIG_FILE", str(tmp_path / "config.toml"))
    return tmp_path


def open_rig(**site_kw):
    site = SimSite(step_ms=30, **site_kw).start()
    try:
        return site, launch_chrome(site.post_url())
    except BaseException:
        site.stop()
        raise


async def checked(pilot, app) -> DoctorScreen:
    await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen) and app.screen.report is not None,
                     what="the page check")
    await pilot.pause(0.1)
    return app.screen


def states(screen: DoctorScreen) -> dict[str, str]:
    table = screen.query_one(DataTable)
    return {str(row.key.value): str(table.get_row(row.key)[2]) for row in table.ordered_rows}


async def test_doctor_screen_on_a_changed_page_lists_candidates_and_copies_the_lines(env):
    site, chrome = open_rig(markup="changed")
    try:
        app = make_app(env, chrome)
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, app)
            assert "page: check" in palette(app)
            await pilot.press("ctrl+p")
            await pilot.pause(0.2)
            await pilot.press(*"page: check")
            await pilot.pause(0.4)
            await pilot.press("enter")
            screen = await checked(pilot, app)
            got = states(screen)
            assert list(got) == ["editor", "button", "progress", "toasts", "image", "video", "store", "observer", "endpoint"]
            assert (got["editor"], got["button"], got["toasts"], got["image"]) == ("missing", "missing", "missing", "found")
            head = str(screen.query_one("#doctor-head", Static).render())
            assert "Missing what a session needs: prompt editor, generate button." in head
            text = str(screen.query_one("#doctor-text", Static).render())
            assert "prompt editor: candidates on the page" in text
            assert """prompt = ['textarea[aria-label="Describe your video"]']""" in text
            await pilot.press("y")
            await pilot.pause(0.1)
            assert tomllib.loads(app.clipboard)["selectors"]["generate"] == ['button[aria-label="Generate video"]']
            await pilot.press("r")  # check again: the same answer
            await pilot.pause(0.5)
            assert states(app.screen) == got
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, DoctorScreen), what="back")
    finally:
        chrome.close()
        site.stop()


async def test_doctor_screen_writes_nothing_during_a_session_and_restores_a_draft_between(env):
    site, chrome = open_rig(script="silent")  # the session's attempt has no outcome (until the timeout)
    try:
        page = Page(chrome)
        page.wait("document.readyState === 'complete' && !!window.__sim")
        page.type_prompt("#prompt-editor", DRAFT)
        app = make_app(env, chrome)  # 20 s without an outcome: far more than this test needs
        async with app.run_test(size=SIZE) as pilot:
            await attached(pilot, app)
            open_doctor(app)
            screen = await checked(pilot, app)
            assert states(screen)["editor"] == "found"
            assert f"your {len(DRAFT)} chars put back exactly" in screen.report.row("editor").how
            assert page.js("document.getElementById('prompt-editor').value") == DRAFT
            assert page.js("window.__sim.promptState") == DRAFT
            await pilot.press("escape")
            await pilot.pause(0.2)
            # during a session the editor holds the session's prompt: the check does not touch it
            await pilot.press("s")
            await wait_until(pilot, lambda: app.runner.engine.phase == Phase.DETECTING, what="the session's click")
            open_doctor(app)
            screen = await checked(pilot, app)
            assert "writable: not tested (a session is running)" in screen.report.row("editor").how
            assert "seen since attach (1 request(s))" in screen.report.row("endpoint").how
            assert len(site.requests) == 1
    finally:
        chrome.close()
        site.stop()
