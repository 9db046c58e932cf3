"""A simulated Grok site plus a real headless Chromium on it, for end-to-end tests."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from grok_tui.browser.launcher import ChromeProcess, launch_chrome
from grok_tui.settings import load_settings
from grok_tui.sim import SimSite


@dataclass
class Rig:
    site: SimSite
    chrome: ChromeProcess

    def settings(self, **kw):
        base = dict(
            cdp_port=self.chrome.port,
            tab="/imagine/post/",
            cooldown_s=0.3,
            next_video_delay_s=0.3,
            session_timeout_s=20,
            tab_wait_s=1,
        )
        base.update(kw)
        return load_settings(**base)

    def close(self) -> None:
        self.chrome.close()
        self.site.stop()


def make_rig(script: str = "", *, editor: str = "textarea", step_ms: int = 20, **site_kw) -> Rig:
    site = SimSite(script=script, editor=editor, step_ms=step_ms, **site_kw).start()
    try:
        chrome = launch_chrome(site.post_url())
    except BaseException:
        site.stop()
        raise
    return Rig(site, chrome)


async def run_session(rig: Rig, prompt: str | None, **settings_kw) -> tuple[int, list[dict], object]:
    """`grok-tui run --no-ui` in-process: exit code, the JSON Lines, the store."""
    from grok_tui.cli import JsonPrinter, run_headless
    from grok_tui.settings import state_dir
    from grok_tui.store import StateStore

    out = io.StringIO()
    store = StateStore(state_dir())
    rc = await run_headless(rig.settings(**settings_kw), store, prompt, JsonPrinter(out))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    return rc, lines, store
