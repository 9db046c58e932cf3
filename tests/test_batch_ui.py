"""The Queue screen with real parts: the sim, a headless Chromium, the runner and the Textual app."""

from __future__ import annotations

import os

import pytest
from textual.widgets import DataTable

from grok_tui.browser.launcher import launch_chrome
from grok_tui.settings import Settings
from grok_tui.sim import SimSite
from grok_tui.store import StateStore
from grok_tui.ui.app import GrokApp
from grok_tui.ui.app import make_app as build_app
from grok_tui.ui.queue import QueueScreen
from test_ui import wait_until

SIZE = (100, 30)


@pytest.fixture
def notify_log(tmp_path, monkeypatch):
    """A notify-send on PATH that writes what it was asked to show (one line per call)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "notified.txt"
    script = bin_dir / "notify-send"
    script.write_text(f'#!/bin/sh\nprintf "%s|" "$@" >> {log}\necho >> {log}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def make_app(tmp_path, port: int, **kw) -> GrokApp:
    settings = Settings(cdp_port=port, tab="/imagine/post/", cooldown_s=0.3, next_video_delay_s=0.3,
                        session_timeout_s=20, **kw)
    return build_app(settings, store=StateStore(tmp_path / "state"), prompt="first prompt")


def rows(app) -> list[list[str]]:
    table = app.screen.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_queue_screen_runs_jobs_and_says_when_done(tmp_path, notify_log):
    site = SimSite(script="ok,mod@50,ok", step_ms=20).start()
    chrome = launch_chrome(site.post_url())
    try:
        app = make_app(tmp_path, chrome.port)
        rings = []
        app.bell = lambda: rings.append(1)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.runner.attached and app.tab_identity is not None, what="attached")
            await pilot.press("b")
            assert isinstance(app.screen, QueueScreen)
            await pilot.press("a")
            app.set_prompt("second prompt")
            await pilot.press("a")
            assert [r[1:4] for r in rows(app)] == [
                ["· pending", site.post_id[:8] + "…", "first prompt"],
                ["· pending", site.post_id[:8] + "…", "second prompt"],
            ]
            await pilot.press("J")  # move job 1 down: "second prompt" runs first
            assert [r[3] for r in rows(app)] == ["second prompt", "first prompt"]
            await pilot.press("s")
            await wait_until(pilot, lambda: not app.queue.running and rings, timeout=90, what="the queue to finish")
            assert [(r[1], r[4], r[5], r[6]) for r in rows(app)] == [
                ("✔ success", "1/1", "0/3", "1"), ("✔ success", "1/1", "1/3", "2")
            ], [(j.status, j.reason) for j in app.queue.manifest.jobs]
            assert [r["prompt"] for r in site.requests] == ["second prompt", "first prompt", "first prompt"]
            assert rings == [1]
            await wait_until(pilot, lambda: notify_log.exists() and notify_log.read_text().strip(), what="notify-send")
            [call] = notify_log.read_text().splitlines()
            assert call.startswith("--app-name=grok-tui|--|grok-tui batch|batch: 2/2 jobs succeeded, 0 failed")
            # the history knows each session's job
            assert [h.get("job") for h in app.store.history()] == [1, 2]
            await pilot.press("escape")
            assert not isinstance(app.screen, QueueScreen)
    finally:
        chrome.close()
        site.stop()


async def test_bell_and_notification_can_be_switched_off(tmp_path, notify_log):
    app = make_app(tmp_path, 1, batch_bell=False, batch_notify=False)
    app.attach_on_mount = False
    rings = []
    app.bell = lambda: rings.append(1)
    async with app.run_test(size=SIZE) as pilot:
        app._batch_over({"event": "batch", "jobs": 1, "success": 1, "failure": 0, "cancelled": 0, "pending": 0,
                         "completedVideos": 1, "creditsUsed": 1, "stoppedBy": None})
        await pilot.pause(0.3)
    assert rings == [] and not notify_log.exists()
