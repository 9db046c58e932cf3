"""Snapshots of the main screen (idle, running, ended; dark and light) at fixed sizes.

The screen must not depend on timing here, so the link is scripted (ScriptedLink below)
and the runner's clock is a settable fake; the behaviour tests in test_ui.py use the
real BrowserLink against the sim in headless Chromium.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from browser_rig import wait_until
from grok_tui.browser.signals import AttachInfo, Attached, TabIdentity
from grok_tui.engine import Phase
from grok_tui.engine.events import AttemptProgress, ClickSent, VideoModerated, VideoSucceeded
from grok_tui.runner import SessionRunner
from grok_tui.settings import Settings
from grok_tui.store import StateStore
from grok_tui.ui.app import GrokApp, make_app

PROMPT = "a red fox running through snow, slow motion, cinematic"

# ---------------------------------------------------------------- a scripted link and a fake clock

POST_ID = "3f2a9c1e-7b4d-4e2a-9f10-5c6d7e8f9a0b"
T0 = 1_767_000_000.0  # a fixed epoch for the fake clock


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def advance(self, s: float) -> None:
        with self._lock:
            self.t += s


class ScriptedLink:
    """Tokens: "ok", "mod@N", "hold@N" (progress N, then nothing)."""

    script: list[str] = []

    def __init__(self, *, emit, **_link_kw) -> None:
        self.emit = emit
        self.script = list(type(self).script)
        self.titles: list[str] = []
        self.n = 0

    def identity(self) -> TabIdentity:
        return TabIdentity(
            url=f"https://grok.com/imagine/post/{POST_ID}", title="Grok Imagine", post_id=POST_ID, media_id=POST_ID
        )

    def attach(self) -> AttachInfo:
        info = AttachInfo(
            host="127.0.0.1", port=9222, browser="Chrome/156.0.8078.108", protocol="1.3", target_id="T1",
            identity=self.identity(), matched=1, pages=1, attach_ms=1.0,
        )
        self.emit(Attached(info))
        return info

    def execute_click(self, cmd) -> None:
        token = self.script.pop(0) if self.script else "ok"
        self.emit(ClickSent(cmd.attempt, "scripted"))
        kind, _, pct = token.partition("@")
        upto = float(pct or 100)
        for p in (10, 25, 40, 52, 75, 100):
            if p <= upto:
                self.emit(AttemptProgress(p, cmd.attempt))
        if kind == "ok":
            self.n += 1
            self.emit(VideoSucceeded(cmd.attempt, f"video{self.n:02d}-a77d", "network"))
        elif kind == "mod":
            self.emit(AttemptProgress(upto, cmd.attempt))
            self.emit(VideoModerated(cmd.attempt, upto, None, "network"))
        elif kind == "hold":
            self.emit(AttemptProgress(upto, cmd.attempt))

    def set_title(self, text: str) -> None:
        self.titles.append(text)

    def capture_prompt(self) -> str:
        return ""

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def fixed_tz(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def snapshot_app(tmp_path: Path, theme: str, script: list[str], goal: int, retries: int) -> GrokApp:
    settings = Settings(
        cdp_port=9222, tab="/imagine/post/", cooldown_s=0.3, next_video_delay_s=0.3,
        session_timeout_s=20, video_goal=goal, max_retries=retries, theme=theme,
    )
    link_cls = type("Link", (ScriptedLink,), {"script": script})
    return make_app(settings, store=StateStore(tmp_path / "state"), link_factory=link_cls, clock=FakeClock(), prompt=PROMPT)


async def _wait(pilot, cond):
    await wait_until(pilot, cond, 10.0, settle=0.1)


def _runner(pilot) -> SessionRunner:
    return pilot.app.runner


async def _attached(pilot):
    await _wait(pilot, lambda: _runner(pilot).attached and _runner(pilot).running)


async def _step_to(pilot, attempts: int, phase: Phase):
    """Move the fake clock past each deadline until `attempts` attempts ran and the phase is `phase`."""
    r = _runner(pilot)
    for _ in range(20):
        e = r.engine
        if e.attempt_no >= attempts and e.phase == phase:
            break
        before = (e.attempt_no, e.phase)
        r.clock.advance(9)
        r.wake()
        await _wait(pilot, lambda: (r.engine.attempt_no, r.engine.phase) != before or r.engine.phase == phase)
    await _wait(pilot, lambda: r.engine.attempt_no >= attempts and r.engine.phase == phase)
    await pilot.pause(0.3)  # the tick and the table catch up


async def idle(pilot):
    await _attached(pilot)
    await pilot.pause(0.3)


async def running(pilot):
    await _attached(pilot)
    await pilot.press("s")
    await _step_to(pilot, 3, Phase.DETECTING)
    await _wait(pilot, lambda: _runner(pilot).engine.current.max_progress == 52)
    await pilot.pause(0.3)


async def ended(pilot):
    await _attached(pilot)
    await pilot.press("s")
    await _step_to(pilot, 3, Phase.ENDED)
    await _wait(pilot, lambda: pilot.app.last_outcome == "success")
    await pilot.pause(0.3)


STATES = {
    "idle": (idle, ["ok"], 3, 5),
    "running": (running, ["ok", "mod@40", "hold@52"], 3, 5),
    "ended": (ended, ["ok", "mod@40", "ok"], 2, 3),
}


@pytest.mark.parametrize("theme", ["grok-dark", "grok-light"])
@pytest.mark.parametrize("state", list(STATES))
def test_main_screen(snap_compare, tmp_path, theme, state):
    run_before, script, goal, retries = STATES[state]
    app = snapshot_app(tmp_path, theme, script, goal, retries)
    assert snap_compare(app, terminal_size=(110, 34), run_before=run_before)


@pytest.mark.parametrize("state", list(STATES))
def test_main_screen_100x30(snap_compare, tmp_path, state):
    run_before, script, goal, retries = STATES[state]
    app = snapshot_app(tmp_path, "grok-dark", script, goal, retries)
    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
