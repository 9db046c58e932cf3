"""Issue 13 in the terminal UI (real Textual run_test, real Chromium, the sim): saved files in the
attempts table, the folder key, and the options guard's pause and resume."""

from __future__ import annotations

import json
import os
import stat

import pytest

from grok_tui.browser.cdp import CdpSession
from grok_tui.browser.endpoint import discover
from grok_tui.ui.app import GrokApp
from grok_tui.ui.widgets import AttemptsTable

from test_ui import SIZE, attached, shows, text_of, wait_until
from test_ui import make_app as ui_app


@pytest.fixture
def ui_rig(rigs):
    """conftest's `site` and `chrome` come from this rig: MP4s of 80 kB, a 10 s video length on the page."""
    return rigs("", step_ms=30, video_size=80_000, video_options={"videoLength": 10})


def make_app(tmp_path, chrome, **kw) -> GrokApp:
    return ui_app(tmp_path, chrome, downloads_dir=tmp_path / "videos", **kw)


def cell(app, row: int, col: int) -> str:
    return str(app.query_one(AttemptsTable).get_row_at(row)[col])


async def test_saved_files_in_the_table_and_the_folder_key(seen, tmp_path, site, chrome, monkeypatch):
    site.set_script("ok,mod@30,ok")
    app = make_app(tmp_path, chrome, video_goal=2, max_retries=3)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        await pilot.press("s")
        await wait_until(pilot, lambda: app.last_outcome is not None, what="the session's end")
        await wait_until(pilot, lambda: cell(app, 2, 6).startswith("💾"), what="the second file in the table")
        assert cell(app, 0, 6).startswith("💾") and cell(app, 1, 6) != cell(app, 0, 6)  # the moderated row has none
        files = sorted(p.name for p in (tmp_path / "videos").glob("*.mp4"))
        assert len(files) == 2 and cell(app, 0, 6)[2:].lstrip("…") in files[0]
        await shows(pilot, app, "#counters", "saved    2 video(s)")
        assert "video length 10" in text_of(app, "#counters")
        # the export carries the options and the saved files, and never the browser's cookie
        await pilot.press("e")
        await wait_until(pilot, lambda: app.last_export is not None, what="the export")
        jpath, tpath = app.last_export
        exported = json.loads(jpath.read_text())
        assert exported["counters"]["options"]["videoLength"] == 10
        assert [d["path"].rsplit("/", 1)[1] for d in exported["counters"]["downloads"]] == files
        assert "Generation options (first attempt)" in tpath.read_text()
        for f in (jpath, tpath, *(tmp_path / "videos").iterdir(), *(tmp_path / "state").rglob("*.*")):
            assert site.session_cookie.encode() not in f.read_bytes(), f
        # no opener on PATH: the key copies the folder's path and says so
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        await pilot.press("o")
        await wait_until(pilot, lambda: any(str(tmp_path / "videos") in n for n in seen.notes()), what="the path")
        assert app.clipboard == str(tmp_path / "videos")
        # an opener: it is started with the folder
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        opener = bin_dir / "xdg-open"
        opener.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path / 'opened'}\n")
        opener.chmod(opener.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
        await pilot.press("o")
        await wait_until(pilot, lambda: (tmp_path / "opened").exists(), what="the opener to run")
        assert (tmp_path / "opened").read_text().strip() == str(tmp_path / "videos")


async def test_options_changed_pauses_then_s_resumes(seen, tmp_path, site, chrome):
    site.set_script("ok,ok")
    site.set_knobs(redo_resets={"videoLength": 6})
    app = make_app(tmp_path, chrome, video_goal=2, max_retries=3)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await attached(pilot, app)
        await pilot.press("s")
        await shows(pilot, app, "#status", "PAUSED")
        assert "set them back on the page" in text_of(app, "#status")
        assert any("video length 10 → 6" in n for n in seen.notes("warning"))
        assert len(site.requests) == 1 and app.runner.engine.phase.active
        # the user turns the bug off and sets the option back on the page, then presses s
        site.set_knobs(redo_resets=None)
        _, targets = discover(port=chrome.port)
        page = CdpSession([t for t in targets if "/imagine/post/" in t["url"]][0])
        try:
            page.call("Runtime.evaluate", timeout=20, expression=(
                "document.querySelector('button[aria-label=\"Video Options\"]').click();"
                "document.querySelector('button[role=menuitemradio][data-option=videoLength][data-value=\"10\"]').click()"))
        finally:
            page.close()
        await pilot.press("s")
        await wait_until(pilot, lambda: app.last_outcome is not None, what="the session's end")
        assert app.last_outcome == "success"
        assert [r["options"]["videoLength"] for r in site.requests] == [10, 10]
        assert cell(app, 1, 2) != "✔ success"  # the held attempt
