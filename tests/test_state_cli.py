"""State that cannot hurt the user, through the real CLI and the runner (real Chromium, real files)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from browser_rig import make_rig, run_session
from grok_tui.engine import PersistentData
from grok_tui.settings import state_dir
from grok_tui.store import StateStore

SEED_FLAGS = ("--tab", "/imagine/post/", "--cooldown", "0.3", "--next-video-delay", "0.3", "--timeout", "20")


@pytest.fixture(scope="module")
def rig():
    r = make_rig("")  # every attempt succeeds
    yield r
    r.close()


def run_cli(rig, *extra: str, env: dict | None = None, wrap: list[str] | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "grok_tui", "run", "--no-ui", "--cdp-port", str(rig.chrome.port), *SEED_FLAGS, *extra]
    # wrapped in a new mount namespace, run from "/" (the caller's folder may not resolve there)
    cwd = "/" if wrap else None
    return subprocess.run(
        [*(wrap or []), *cmd], env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120, cwd=cwd
    )


def run_main(rig, capsys, *extra: str) -> subprocess.CompletedProcess:
    """The same command through `grok_tui.cli.main` in this process (no interpreter start-up); the
    process boundary itself (exit status, nothing but one sentence on stderr) has its own subprocess tests."""
    from grok_tui.cli import main

    capsys.readouterr()
    args = ["run", "--no-ui", "--cdp-port", str(rig.chrome.port), *SEED_FLAGS, *extra]
    rc = main(args)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, rc, out.out, out.err)


def summary_of(p: subprocess.CompletedProcess) -> dict:
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert lines[-1]["event"] == "summary", p.stdout[-500:]
    return lines[-1]


# ------------------------------------------------------------------ the corrupt-state suite (must show)

GOOD = PersistentData(max_retries=4, video_goal=1, last_prompt_value="kept").to_dict()
CORRUPT = {
    "deep nesting": b"[" * 200_000,
    "directory": None,
    "wrong types": json.dumps({"last": {**GOOD, "maxRetries": 3.9, "autoRetryEnabled": "false"}}).encode(),
    "nulls": json.dumps({"last": {**GOOD, "lastPromptValue": None, "videoGroup": None}}).encode(),
    "truncated": json.dumps({"last": GOOD, "posts": {}}).encode()[:37],
    "binary junk": bytes(range(256)) * 64,
}


def plant(kind: str) -> Path:
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    bad = CORRUPT[kind]
    if bad is None:
        (state / "state.json").mkdir()
    else:
        (state / "state.json").write_bytes(bad)
    return state


def test_corrupt_state_through_the_real_process(rig):
    """One kind through a real `python -m grok_tui` (exit status, stderr as a user sees it); the rest in-process below."""
    state = plant("binary junk")
    p = run_cli(rig, "--prompt", "a fox")
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"grok-tui: warning: The state file {state / 'state.json'} "), p.stderr
    assert summary_of(p)["outcome"] == "success"
    again = run_cli(rig, "--prompt", "a fox")
    assert again.returncode == 0 and again.stderr.strip() == "", again.stderr


@pytest.mark.parametrize("kind", list(CORRUPT))
def test_corrupt_state_through_the_cli(rig, kind, capsys):
    state = plant(kind)
    bad = CORRUPT[kind]

    p = run_main(rig, capsys, "--prompt", "a fox")
    # the session runs as usual (exit code by its outcome: 0 success), with one warning line
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith(f"grok-tui: warning: The state file {state / 'state.json'} ")
    assert summary_of(p)["outcome"] == "success"
    # the bad file is kept aside, as it was
    [kept] = [x for x in state.iterdir() if x.name.startswith("state.json.corrupt-")]
    assert kept.name in lines[0]
    if bad is None:
        assert kept.is_dir()
    else:
        assert kept.read_bytes() == bad
    # a bad field fell back to its default, never to the string "None"
    last = json.loads((state / "state.json").read_text())["last"]
    assert last["lastPromptValue"] == "a fox"
    if kind == "wrong types":
        assert (last["maxRetries"], last["autoRetryEnabled"]) == (3, True)
    if kind == "nulls":
        # a list again: the post of the one video this session made (not where the tab went meanwhile:
        # the last session's video post is reached ~0.3 s after it ended, maybe during this one)
        assert last["videoGroup"] == [rig.site.posts[-1]["postId"]] and last["maxRetries"] == 4

    # the next start is clean
    again = run_main(rig, capsys, "--prompt", "a fox")
    assert again.returncode == 0 and again.stderr.strip() == "", again.stderr
    assert len([x for x in state.iterdir() if ".corrupt-" in x.name]) == 1


async def test_the_video_group_does_not_depend_on_timing(rig, monkeypatch):
    """The persisted video group is the posts of the session's own videos, in order, however late the
    click's confirmation comes (a loaded machine) and wherever the tab goes meanwhile: the last
    session's video post is reached ~0.3 s after that session ended, here during this session's
    first attempt."""
    from grok_tui.browser import network

    wait_request = network.GenerationWatch.wait_request

    def late(self, before, timeout):
        seen = wait_request(self, before, timeout)
        if seen:
            time.sleep(0.8)  # the attempt takes ~0.2 s, and the sim moves the tab 0.3 s after a success
        return seen

    rc, _, _ = await run_session(rig, "a fox", video_goal=1)  # the session before
    assert rc == 0
    monkeypatch.setattr(network.GenerationWatch, "wait_request", late)
    before = len(rig.site.posts)
    rc, lines, store = await run_session(rig, "a fox", video_goal=2)
    assert rc == 0 and lines[-1]["outcome"] == "success"
    last = json.loads((state_dir() / "state.json").read_text())["last"]
    assert last["videoGroup"] == [p["postId"] for p in rig.site.posts[before:]]
    assert len(last["videoGroup"]) == 2


# ------------------------------------------------------------------ unwritable state folder

UNSHARE = shutil.which("unshare")


def read_only_mount(path: Path) -> list[str]:
    """Run the command in a private mount namespace where `path` is a read-only tmpfs."""
    return [UNSHARE, "-rm", "sh", "-c", f'mount -t tmpfs -o ro tmpfs "{path}" && exec "$@"', "sh"]


def test_read_only_state_folder_is_refused_at_start(rig):
    assert UNSHARE, "unshare (util-linux) is needed to mount a read-only folder without root"
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    p = run_cli(rig, "--prompt", "a fox", wrap=read_only_mount(state))
    assert p.returncode == 3, p.stderr
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert lines == [
        f"grok-tui: The state folder {state} is not writable (Read-only file system); "
        "fix its permissions or set GROK_TUI_STATE_DIR to a folder you can write."
    ]
    assert p.stdout == ""
    assert rig.site.requests == [] or all(r["prompt"] != "never" for r in rig.site.requests)


def test_state_folder_that_is_a_file_is_one_sentence(rig, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    before = len(rig.site.requests)
    p = run_cli(rig, "--prompt", "never", env={"GROK_TUI_STATE_DIR": str(blocker / "state")})
    assert p.returncode == 3
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"grok-tui: The state folder {blocker / 'state'} is not writable")
    assert len(rig.site.requests) == before  # no click


async def test_writes_that_fail_later_are_one_error_line_each_and_the_session_goes_on(rig):
    from grok_tui.headless import JsonPrinter, run_headless

    store = StateStore(state_dir())
    # after the start-up check, every place a session writes to breaks
    (state_dir() / "history.jsonl").mkdir()
    (state_dir() / "state.json").mkdir()
    (state_dir() / "logs").write_text("not a folder")
    out = io.StringIO()
    before = len(rig.site.requests)
    rc = await run_headless(rig.settings(), store, "a fox", JsonPrinter(out))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rc == 0 and lines[-1]["event"] == "summary" and lines[-1]["outcome"] == "success"
    assert len(rig.site.requests) == before + 1  # it clicked
    errors = [line["message"] for line in lines if line["event"] == "log" and line["level"] == "ERROR"]
    assert len(errors) == 3, errors
    assert errors[0].startswith("could not open the session log file")
    assert errors[1].startswith("could not write the session history")
    assert errors[2].startswith("could not save the settings")


def test_a_symlink_planted_at_the_session_log_is_not_followed(tmp_path):
    from grok_tui.runner import LogBook
    from grok_tui.store import UnsafePath

    book = LogBook(tmp_path / "logs")
    book.new_session(1_700_000_000.25)
    planted, book.path = book.path, None
    book.close()
    planted.unlink()
    victim = tmp_path / "victim"
    victim.write_text("victim\n")
    planted.symlink_to(victim)
    with pytest.raises(UnsafePath):
        LogBook(tmp_path / "logs").new_session(1_700_000_000.25)
    assert victim.read_text() == "victim\n"


def test_a_symlinked_history_is_refused_by_the_cli(rig, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("victim\n")
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    (state / "history.jsonl").symlink_to(victim)
    p = run_cli(rig, "--prompt", "never")
    assert p.returncode == 3
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "is a symbolic link" in lines[0] and "history.jsonl" in lines[0]
    assert victim.read_text() == "victim\n"


# ------------------------------------------------------------------ restore (issue 10 item 2)


def shown_post(rig) -> str:
    """The post the tab shows now (a success moves the tab to the new video's post)."""
    from grok_tui.browser.endpoint import discover
    from grok_tui.browser.link import post_id_from_url

    _, targets = discover(port=rig.chrome.port)
    [url] = [t["url"] for t in targets if "/imagine/post/" in t.get("url", "")]
    return post_id_from_url(url)


async def test_attaching_restores_the_posts_record_and_flags_win(rig):
    from grok_tui.browser.link import BrowserLink
    from grok_tui.runner import SessionRunner

    mine = PersistentData(
        max_retries=7, auto_retry_enabled=False, last_prompt_value="first line\nsecond line", video_goal=2,
        video_group=["older-post"], original_media_id="img-stored",
    )
    other = PersistentData(max_retries=5, video_goal=3, last_prompt_value="the other post's")
    seed = StateStore(state_dir())
    seed.save_persistent(mine, shown_post(rig))
    seed.save_persistent(other, "another-post")  # the last used record is another post's

    runner = SessionRunner(rig.settings(), StateStore(state_dir()), BrowserLink)
    assert runner.engine.persistent == other  # before attaching: the last used
    await runner.attach()
    try:
        assert runner.engine.persistent == mine  # the attached post's own record, every field
        assert any("stored settings loaded" in ln.message for ln in runner.engine.session.logs)
    finally:
        await runner.close()

    runner = SessionRunner(rig.settings(max_retries=9, auto_retry=True), StateStore(state_dir()), BrowserLink)
    await runner.attach()
    try:
        assert runner.engine.persistent == replace(mine, max_retries=9, auto_retry_enabled=True)
    finally:
        await runner.close()


def fresh_page(rig) -> None:
    """Load the sim's post page anew: an empty editor (earlier tests typed into it)."""
    import time

    from grok_tui.browser.cdp import CdpSession
    from grok_tui.browser.endpoint import discover

    _, targets = discover(port=rig.chrome.port)
    page = CdpSession([t for t in targets if "/imagine/post/" in t.get("url", "")][0])
    try:
        page.call("Page.navigate", url=rig.site.post_url())
        for _ in range(100):
            ready = page.call("Runtime.evaluate", expression="!!document.querySelector('textarea') && document.readyState === 'complete'", returnByValue=True)
            if ready.get("result", {}).get("value") is True:
                return
            time.sleep(0.05)
        raise AssertionError("the sim page did not load")
    finally:
        page.close()


async def test_a_session_without_flags_uses_the_stored_goal_retries_and_prompt(rig):
    fresh_page(rig)
    StateStore(state_dir()).save_persistent(
        PersistentData(max_retries=6, video_goal=2, last_prompt_value="the stored prompt"), shown_post(rig)
    )
    before = len(rig.site.requests)
    rc, lines, store = await run_session(rig, None)
    s = lines[-1]
    assert rc == 0 and (s["videoGoal"], s["maxRetries"], s["completedVideos"]) == (2, 6, 2)
    assert [r["prompt"] for r in rig.site.requests[before:]] == ["the stored prompt"] * 2
