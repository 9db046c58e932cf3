"""Shared fixtures. A skipped test counts as a failure: CI installs Chromium, so every test runs."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """No test reads or writes the user's real config or state."""
    monkeypatch.setenv("GROK_TUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("GROK_TUI_CONFIG_FILE", str(tmp_path / "config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(tmp_path / "downloads"))
    for name in list(__import__("os").environ):
        if name.startswith("GROK_TUI_") and name not in ("GROK_TUI_STATE_DIR", "GROK_TUI_CONFIG_FILE"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def seen():
    """The app's messages (run_test's message_hook): its notifications and the runner's notices among them."""
    from browser_rig import Seen

    return Seen()


def pytest_sessionfinish(session, exitstatus):
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and session.exitstatus == 0:
        reporter.write_line("FAILED: tests were skipped; a skipped test did not pass.", red=True)
        session.exitstatus = 1


@pytest.fixture(scope="module")
def shared_chrome():
    """One headless Chromium for a test module's rigs (`browser_rig.SharedChrome`)."""
    from browser_rig import SharedChrome

    shared = SharedChrome()
    yield shared
    shared.close()


@pytest.fixture
def rigs(shared_chrome):
    """A factory of simulated sites (`browser_rig.make_rig`), each shown in the module's one headless
    Chromium, in a fresh page of its own; the sites are stopped after the test."""
    from browser_rig import make_rig

    made = []

    def factory(*a, **kw):
        rig = make_rig(*a, shared=shared_chrome, **kw)
        made.append(rig)
        return rig

    yield factory
    for rig in made:
        rig.close()


@pytest.fixture
def ui_rig(rigs):
    """The rig behind a UI test's `site` and `chrome`; a module overrides it for other site knobs."""
    return rigs("", step_ms=30)


@pytest.fixture
def site(ui_rig):
    return ui_rig.site


@pytest.fixture
def chrome(ui_rig):
    return ui_rig.chrome
