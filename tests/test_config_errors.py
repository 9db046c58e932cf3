"""Config and environment errors through the real CLI: one sentence and exit 3, never a
traceback or a hang. Also strict whole numbers for counts (issue 10 item 8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grok_tui.settings import SettingsError, load_settings
from test_bad_input import grok, one_sentence

RUN = ("run", "--no-ui", "--prompt", "x", "--cdp-port", "1")  # never reaches the browser


def config_path() -> Path:
    return Path(os.environ["GROK_TUI_CONFIG_FILE"])


CONFIGS = {
    "invalid utf-8": (b"max_retries = 3\ntab = \"\xff\xfe\"\n", "is not valid UTF-8 text"),
    "deep array": (b"a = " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nests arrays or tables too deeply"),
    "unknown key": (b"max_retry = 9\n", "unknown setting 'max_retry' (did you mean max_retries?)"),
    "cdp_port bool": (b"cdp_port = true\n", "cdp_port (flag --cdp-port, env GROK_TUI_CDP_PORT) must be a whole number"),
    "max_retries bool": (b"max_retries = true\n", "max_retries (flag --max-retries, env GROK_TUI_MAX_RETRIES) must be a whole number from 1 to 50, not True"),
    "max_retries float": (b"max_retries = 3.9\n", "must be a whole number from 1 to 50, not 3.9"),
    "huge": (b"# padding\n" * 110_000, "only config files under 1 MB are read"),
    "bad toml": (b"max_retries = = 3\n", "is not valid TOML"),
}


@pytest.mark.parametrize("kind", list(CONFIGS))
def test_bad_config_file_is_one_sentence_and_exit_3(kind):
    content, needle = CONFIGS[kind]
    config_path().write_bytes(content)
    args = RUN if kind != "cdp_port bool" else RUN[:-2]  # the flag would win over the file
    p = grok(*args, timeout=60)
    assert p.returncode == 3, p.stderr
    assert needle in one_sentence(p)


def test_fifo_as_config_does_not_hang():
    os.mkfifo(config_path())
    p = grok(*RUN, timeout=30)  # a blocking open of a FIFO would wait here forever
    assert p.returncode == 3
    assert "is not a regular file" in one_sentence(p)


def test_folder_as_config_is_one_sentence():
    config_path().mkdir()
    p = grok(*RUN, timeout=30)
    assert p.returncode == 3 and "is a folder, not a file" in one_sentence(p)


def test_bad_keymap_json_in_the_environment():
    p = grok(*RUN, env={"GROK_TUI_KEYMAP": "{bad"})
    assert p.returncode == 3
    assert one_sentence(p) == 'grok-tui: GROK_TUI_KEYMAP is not valid JSON; give an object such as {"start": "f5"}.'


def test_a_config_reached_through_a_symlink_is_read(tmp_path):
    real = tmp_path / "dotfiles-config.toml"
    real.write_text("max_retries = 6\n")
    config_path().symlink_to(real)
    assert load_settings().max_retries == 6


@pytest.mark.parametrize(
    "kw,needle",
    [
        ({"max_retries": True}, "max_retries (flag --max-retries, env GROK_TUI_MAX_RETRIES) must be a whole number from 1 to 50, not True."),
        ({"video_goal": False}, "video_goal (flag --goal, env GROK_TUI_VIDEO_GOAL) must be a whole number from 1 to 50, not False."),
        ({"cdp_port": True}, "cdp_port (flag --cdp-port, env GROK_TUI_CDP_PORT) must be a whole number from 1 to 65535, not True."),
        ({"max_retries": 2.0}, "must be a whole number from 1 to 50, not 2.0."),
        ({"cooldown_s": True}, "cooldown_s (flag --cooldown, env GROK_TUI_COOLDOWN_S) must be a number"),
    ],
)
def test_counts_are_strict_whole_numbers(kw, needle):
    with pytest.raises(SettingsError) as err:
        load_settings(**kw)
    assert needle in str(err.value)


def test_numbers_from_the_environment_still_parse(monkeypatch):
    monkeypatch.setenv("GROK_TUI_MAX_RETRIES", "7")
    monkeypatch.setenv("GROK_TUI_AUTO_RETRY", "false")
    s = load_settings()
    assert (s.max_retries, s.auto_retry) == (7, False)
    assert s.pinned() >= {"max_retries", "auto_retry"}
