"""`grok-tui chrome` starts a debuggable Chromium on a dedicated profile and says what to do next."""

from __future__ import annotations

import subprocess
import sys


def test_chrome_command_starts_a_debuggable_browser(tmp_path):
    from grok_tui.browser.launcher import free_port

    port = free_port()
    profile = tmp_path / "profile"
    p = subprocess.run(
        [sys.executable, "-m", "grok_tui", "chrome", "--headless", "--port", str(port), "--profile", str(profile),
         "--url", "about:blank"],
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 0, p.stderr
    assert f"remote debugging on 127.0.0.1:{port}" in p.stdout
    assert str(profile) in p.stdout and "Chrome 136+" in p.stdout
    assert f"grok-tui --cdp-port {port}" in p.stdout
    assert profile.is_dir() and any(profile.iterdir())  # a dedicated, persistent profile
