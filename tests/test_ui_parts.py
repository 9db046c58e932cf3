"""UI parts without a browser: themes, the export functions, the command palette's commands."""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
from textual.theme import Theme

from grok_tui.runner import SessionRunner
from grok_tui.settings import Settings
from grok_tui.store import StateStore
from grok_tui.ui import themes as th
from grok_tui.export import ExportError, SessionExport, export_dir, gather_from_runner, write_export

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- themes


@pytest.mark.parametrize("name", ["grok-dark", "grok-light"])
def test_shipped_themes_are_valid(name):
    path = REPO / "themes" / f"{name}.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    model = th.ThemeFile.model_validate(raw)
    theme = th.load_theme_file(path)
    assert isinstance(theme, Theme) and theme.name == name == model.name
    assert theme.dark is (name == "grok-dark")
    theme.to_color_system()  # Textual can build every colour from it
    found, ours = th.resolve_theme(name)
    assert found.name == name and {"grok-dark", "grok-light"} <= set(ours)


def test_builtin_dir_is_the_repo_themes_in_a_checkout():
    assert th.builtin_theme_dir() == REPO / "themes"
    assert {"grok-dark", "grok-light"} <= set(th.available_themes())
    assert "textual-dark" in th.available_themes()


def test_unknown_theme_lists_valid_names():
    with pytest.raises(th.ThemeError) as err:
        th.resolve_theme("no-such-theme")
    msg = str(err.value)
    assert "no-such-theme" in msg and "grok-dark" in msg and "grok-light" in msg and "textual-dark" in msg


def test_user_themes_load_and_invalid_ones_fail(tmp_path):
    user = tmp_path / "themes"
    user.mkdir()
    (user / "mine.toml").write_text('name = "mine"\ndark = true\nprimary = "#ff8800"\n', encoding="utf-8")
    assert "mine" in th.available_themes(user)
    assert th.resolve_theme("mine", user)[0].primary == "#ff8800"
    (user / "bad.toml").write_text('name = "bad"\ndark = true\nprimary = "not-a-colour"\n', encoding="utf-8")
    with pytest.raises(th.ThemeError) as err:
        th.load_themes(user)
    assert "bad.toml" in str(err.value) and "primary" in str(err.value) and "grok-dark" in str(err.value)
    (user / "bad.toml").write_text('name = "bad"\ndark = true\nprimary = "#fff"\ncolour = "x"\n', encoding="utf-8")
    with pytest.raises(th.ThemeError, match="colour"):
        th.load_themes(user)
    (user / "bad.toml").write_text("name = [", encoding="utf-8")
    with pytest.raises(th.ThemeError, match="not valid TOML"):
        th.load_themes(user)


def test_user_theme_dir_follows_the_config_file(tmp_path, monkeypatch):
    monkeypatch.setenv("GROK_TUI_CONFIG_FILE", str(tmp_path / "cfg" / "config.toml"))
    assert th.user_theme_dir() == tmp_path / "cfg" / "themes"


def test_app_refuses_an_unknown_theme(tmp_path):
    from grok_tui.ui.app import make_app

    settings = Settings(theme="nope")
    with pytest.raises(th.ThemeError, match="Valid themes: grok-dark, grok-light"):
        make_app(settings, store=StateStore(tmp_path / "state"), attach=False)


# ---------------------------------------------------------------- export


def test_export_redacts_and_is_private(tmp_path):
    secret = "Authorization: Bearer abcdefghijklmnop1234"
    data = SessionExport(
        summary={"outcome": "failure", "completedVideos": 0, "videoGoal": 1, "retriesAttempted": 2,
                 "maxRetries": 2, "creditsUsed": 3, "layer1Failures": 3, "layer2Failures": 0,
                 "layer3Failures": 0, "endedAt": 1_767_000_000_000, "reason": "max retries reached"},
        attempts=[{"attempt": 1, "startedAt": 1_767_000_000_000, "outcome": "moderated", "maxProgress": 10,
                   "layer": 1, "durationS": 4.0, "videoId": None}],
        log_lines=[f"12:00:00 INFO  sent {secret}", "12:00:01 INFO  cookie=sso=abc123def; path=/"],
        prompt="a fox",
    )
    out = tmp_path / "deep" / "exports"
    jpath, tpath = write_export(data, out, now=1_767_000_000.0)
    jpath2, _ = write_export(data, out, now=1_767_000_000.0)  # same second: a new pair, not overwritten
    assert jpath2 != jpath and jpath2.exists() and jpath.exists()
    for p in (jpath, tpath):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
        body = p.read_text(encoding="utf-8")
        assert "abcdefghijklmnop1234" not in body and "abc123def" not in body and "[redacted]" in body
    data_json = json.loads(jpath.read_text(encoding="utf-8"))
    assert data_json["summary"]["outcome"] == "failure" and data_json["attempts"][0]["layer"] == 1
    text = tpath.read_text(encoding="utf-8")
    assert "outcome      failure (max retries reached)" in text and "✖ moderated" in text


def test_export_with_no_session_says_so(tmp_path):
    settings = Settings()
    store = StateStore(tmp_path / "state")
    runner = SessionRunner(settings, store, lambda **kw: None)
    with pytest.raises(ExportError, match="no session"):
        gather_from_runner(runner)


def test_export_falls_back_to_the_last_recorded_session(tmp_path):
    from grok_tui.engine.events import SessionSummary

    store = StateStore(tmp_path / "state")
    log = tmp_path / "s.log"
    log.write_text("10:00:00 INFO  session started\n10:00:09 INFO  session success\n", encoding="utf-8")
    summary = SessionSummary("success", 1, 1, 0, 3, 1, 0, 0, 0, 1_767_000_000_000, extra={"reason": "video goal reached"})
    store.append_history(summary, logPath=str(log), attemptsDetail=[{"attempt": 1, "outcome": "success", "videoId": "v1"}])
    runner = SessionRunner(Settings(), store, lambda **kw: None)
    jpath, tpath = write_export(gather_from_runner(runner), export_dir(tmp_path / "exports"))
    data = json.loads(jpath.read_text(encoding="utf-8"))
    assert data["summary"]["outcome"] == "success" and data["attempts"][0]["videoId"] == "v1"
    assert data["log"] == ["10:00:00 INFO  session started", "10:00:09 INFO  session success"]
