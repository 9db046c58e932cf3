"""The state store on real files: schema, corrupt files, history appends, symlinks, restore."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from grok_tui.engine import PersistentData
from grok_tui.engine.events import SessionSummary
from grok_tui.settings import load_settings
from grok_tui.store import StateStore

CUSTOM = PersistentData(
    max_retries=7,
    auto_retry_enabled=False,
    last_prompt_value="line one\n\nline 3 — é 🎬",
    video_goal=4,
    video_group=["post-b", "post-c"],
    original_media_id="img-42",
)
FIELDS = ["max_retries", "auto_retry_enabled", "last_prompt_value", "video_goal", "video_group", "original_media_id"]


def summary(outcome="success", n=1) -> SessionSummary:
    return SessionSummary(outcome, n, 1, 0, 3, n, 0, 0, 0, 1_700_000_000_000 + n)


def aside(directory: Path, name: str) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith(name + ".corrupt-"))


# ------------------------------------------------------------------ round trips (issue 10 item 2)


@pytest.mark.parametrize("name", FIELDS)
def test_each_persisted_field_round_trips_per_post(tmp_path, name):
    one = replace(PersistentData(), **{name: getattr(CUSTOM, name)})
    StateStore(tmp_path).save_persistent(one, "post-a")
    StateStore(tmp_path).save_persistent(PersistentData(), "post-z")  # the last used is another post's
    store = StateStore(tmp_path)
    assert store.warnings == []
    got = store.restore_for("post-a", load_settings())
    assert getattr(got, name) == getattr(CUSTOM, name)
    assert got == one
    # a post without a record gets the last used one
    assert store.restore_for("post-unknown", load_settings()) == PersistentData()
    assert store.restore_for(None, load_settings()) == PersistentData()


def test_flags_and_environment_win_over_stored_values(tmp_path, monkeypatch):
    StateStore(tmp_path).save_persistent(CUSTOM, "post-a")
    monkeypatch.setenv("GROK_TUI_VIDEO_GOAL", "2")
    got = StateStore(tmp_path).restore_for("post-a", load_settings(max_retries=9))
    assert (got.max_retries, got.video_goal) == (9, 2)  # flag, environment
    assert got.auto_retry_enabled is False and got.video_group == ["post-b", "post-c"]  # stored
    # the config file does not win over what was stored for the post
    Path(os.environ["GROK_TUI_CONFIG_FILE"]).write_text("max_retries = 5\n")
    monkeypatch.delenv("GROK_TUI_VIDEO_GOAL")
    got = StateStore(tmp_path).restore_for("post-a", load_settings())
    assert (got.max_retries, got.video_goal) == (7, 4)


# ------------------------------------------------------------------ wrong types (item 4)


@pytest.mark.parametrize(
    "field,value,default",
    [
        ("autoRetryEnabled", "false", True),
        ("autoRetryEnabled", 0, True),
        ("maxRetries", 3.9, 3),
        ("maxRetries", True, 3),
        ("maxRetries", "5", 3),
        ("maxRetries", 0, 3),
        ("videoGoal", 51, 1),
        ("videoGroup", "abc", []),
        ("videoGroup", ["a", 1], []),
        ("lastPromptValue", None, ""),
        ("lastPromptValue", 42, ""),
        ("originalMediaId", 5, None),
    ],
)
def test_a_wrong_type_is_rejected_field_by_field(tmp_path, field, value, default):
    good = CUSTOM.to_dict()
    (tmp_path / "state.json").write_text(json.dumps({"last": {**good, field: value}, "posts": {"p": {**good, field: value}}}))
    store = StateStore(tmp_path)
    [warning] = store.warnings
    assert f"last.{field} = {value!r}" in warning and f"default {default!r} used" in warning
    last = store.persistent_for(None).to_dict()
    assert last == {**good, field: default}  # only the bad field fell back
    assert store.persistent_for("p").to_dict() == {**good, field: default}
    assert last["lastPromptValue"] != "None"
    [kept] = aside(tmp_path, "state.json")
    assert json.loads(kept.read_text())["last"][field] == value
    # the next start is clean
    again = StateStore(tmp_path)
    assert again.warnings == [] and again.persistent_for(None).to_dict() == last


def test_null_prompt_is_never_sent_as_the_string_none(tmp_path):
    (tmp_path / "state.json").write_text('{"last": {"lastPromptValue": null, "maxRetries": 4}}')
    store = StateStore(tmp_path)
    got = store.restore_for(None, load_settings())
    assert got.last_prompt_value == "" and got.max_retries == 4


# ------------------------------------------------------------------ unreadable files (item 3)

BAD_STATE = {
    "deep": b"[" * 200_000,
    "deep object": b'{"last": ' * 100_000,
    "truncated": b'{"last": {"maxRetries": 5, "videoG',
    "binary": bytes(range(256)) * 4,
    "not an object": b"[1, 2, 3]",
    "null": b"null",
    "empty": b"",
}


@pytest.mark.parametrize("kind", list(BAD_STATE))
def test_unreadable_state_file_is_kept_aside(tmp_path, kind):
    (tmp_path / "state.json").write_bytes(BAD_STATE[kind])
    store = StateStore(tmp_path)
    [warning] = store.warnings
    assert "state file" in warning and "kept as state.json.corrupt-" in warning
    assert store.persistent_for(None) is None
    [kept] = aside(tmp_path, "state.json")
    assert kept.read_bytes() == BAD_STATE[kind]
    assert not (tmp_path / "state.json").exists()
    assert StateStore(tmp_path).warnings == []


def test_state_file_that_is_a_directory_is_kept_aside(tmp_path):
    (tmp_path / "state.json").mkdir()
    (tmp_path / "state.json" / "inside").write_text("x")
    store = StateStore(tmp_path)
    [warning] = store.warnings
    assert "kept as state.json.corrupt-" in warning
    [kept] = aside(tmp_path, "state.json")
    assert (kept / "inside").read_text() == "x"
    store.save_persistent(CUSTOM, "p")
    assert StateStore(tmp_path).persistent_for("p") == CUSTOM


def test_history_that_is_a_directory_is_kept_aside(tmp_path):
    (tmp_path / "history.jsonl").mkdir()
    store = StateStore(tmp_path)
    assert store.history() == []
    [warning] = store.warnings
    assert "history file" in warning and "kept as history.jsonl.corrupt-" in warning
    store.append_history(summary())
    assert [r["outcome"] for r in StateStore(tmp_path).history()] == ["success"]


def test_a_deep_or_binary_history_line_is_skipped_and_the_rest_kept(tmp_path):
    good = json.dumps({**summary().to_dict(), "n": 1})
    lines = [good.encode(), b"[" * 200_000, bytes(b for b in range(1, 256) if b != 10), b'{"outcome": "fail', good.replace('"n": 1', '"n": 2').encode()]
    (tmp_path / "history.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    store = StateStore(tmp_path)
    assert [r["n"] for r in store.history()] == [1, 2]
    [warning] = store.warnings
    assert "3 corrupt line(s)" in warning
    assert StateStore(tmp_path).history() == store.history()


# ------------------------------------------------------------------ history appends (full disk)

FULL_DISK = textwrap.dedent(
    """
    import json, os, resource, signal, sys
    from grok_tui.engine.events import SessionSummary
    from grok_tui.store import StateStore
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
    store = StateStore(sys.argv[1])
    s = SessionSummary("success", 1, 1, 0, 3, 1, 0, 0, 0, 1)
    store.append_history(s, n=1)
    size = os.path.getsize(store.history_path)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 40, resource.RLIM_INFINITY))  # a few bytes free
    try:
        store.append_history(s, n=2, pad="x" * 200)
        print("appended")
    except OSError as exc:
        print("failed", exc.errno)
    print(os.path.getsize(store.history_path) - size)
    """
)


def test_a_failed_append_leaves_no_half_line_and_the_next_record_is_not_lost(tmp_path):
    p = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    status, grown = p.stdout.split()[:2], p.stdout.split()[-1]
    assert status[0] == "failed" and grown == "0"  # cut back to the previous size
    store = StateStore(tmp_path)
    store.append_history(summary(), n=3)  # space is back
    assert [r["n"] for r in store.history()] == [1, 3]
    assert store.warnings == []


def test_a_broken_tail_does_not_swallow_the_next_record(tmp_path):
    # A file cut off mid-line by an older writer or a crash: the next record stays whole.
    (tmp_path / "history.jsonl").write_text(json.dumps({**summary().to_dict(), "n": 1}) + '\n{"outcome": "succ')
    store = StateStore(tmp_path)
    store.append_history(summary(), n=2)
    assert [r["n"] for r in store.history()] == [1, 2]
    assert "1 corrupt line(s)" in store.warnings[0]


# ------------------------------------------------------------------ symlinks


@pytest.mark.parametrize("name", ["history.jsonl", "state.json", "logs"])
def test_a_symlink_in_the_state_folder_is_refused(tmp_path, name):
    target = tmp_path / "elsewhere"
    target.mkdir() if name == "logs" else target.write_text("victim\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / name).symlink_to(target)
    from grok_tui.store import StateError

    with pytest.raises(StateError) as err:
        StateStore(state)
    assert "is a symbolic link" in str(err.value) and name in str(err.value)
    if name != "logs":
        assert target.read_text() == "victim\n"


def test_a_symlink_planted_after_start_is_not_followed(tmp_path):
    store = StateStore(tmp_path / "state")
    victim = tmp_path / "victim"
    victim.write_text("victim\n")
    store.history_path.symlink_to(victim)
    with pytest.raises(OSError) as err:
        store.append_history(summary())
    assert "symbolic link" in str(err.value)
    assert victim.read_text() == "victim\n"


# ------------------------------------------------------------------ unwritable folder


def test_a_state_folder_that_cannot_be_written_is_one_sentence(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    from grok_tui.store import StateError

    with pytest.raises(StateError) as err:
        StateStore(blocker / "state")
    assert str(err.value).startswith(f"The state folder {blocker / 'state'} is not writable")
