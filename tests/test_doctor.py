"""`grok-tui doctor` (issue 16) end to end: real headless Chromium against the simulated site, the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
import urllib.request

import pytest

from browser_rig import run_session
from grok_tui.doctor import toml_lines, toml_string
from grok_tui.settings import state_dir
from grok_tui.store import StateStore
from grok_tui.tablock import TabLock
from test_sim import Page

DRAFT = 'my draft: "quoted" — é 日本 🎬\n  second line, trailing spaces  '
ROW_KEYS = ["editor", "button", "progress", "toasts", "image", "video", "store", "observer", "endpoint"]


def grok(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grok_tui", *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ))


def doctor(rig, *extra: str) -> subprocess.CompletedProcess:
    return grok("doctor", "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/", *extra)


def editor_state(page: Page) -> dict:
    return page.js(
        """(() => { const el = document.getElementById('prompt-editor');
             return { value: el.tagName === 'TEXTAREA' ? el.value : null, html: el.innerHTML, state: window.__sim.promptState,
                      sel: el.tagName === 'TEXTAREA' ? [el.selectionStart, el.selectionEnd] : null,
                      focused: document.activeElement === el }; })()"""
    )


@pytest.mark.parametrize("editor", ["textarea", "prosemirror"])
async def test_normal_page_every_row_found_and_the_draft_is_untouched(rigs, editor):
    rig = rigs("ok", editor=editor)
    rc, _lines, _store = await run_session(rig, "a fox", video_goal=1, max_retries=1)  # the post now has a video
    assert rc == 0
    page = Page(rig.chrome)
    page.wait("document.readyState === 'complete' && !!document.querySelector('article video[src]')")
    page.type_prompt("#prompt-editor", DRAFT)
    page.js("document.getElementById('prompt-editor').blur(), true")
    before = editor_state(page)
    assert before["state"] == DRAFT
    requests, clicks = len(rig.site.requests), len(rig.site.page_events)

    p = doctor(rig, "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    rep = json.loads(p.stdout)
    assert [r["key"] for r in rep["rows"]] == ROW_KEYS
    assert {r["key"]: r["status"] for r in rep["rows"]} == {k: "found" for k in ROW_KEYS}
    rows = {r["key"]: r for r in rep["rows"]}
    assert "writable" in rows["editor"]["how"] and f"your {len(DRAFT)} chars put back exactly" in rows["editor"]["how"]
    assert "label 'Redo'" in rows["button"]["how"] and "enabled" in rows["button"]["how"]
    assert "nothing covers its centre" in rows["button"]["how"]
    assert rig.site.media_id in rows["image"]["how"]
    assert "used by this page before the check" in rows["endpoint"]["how"]
    assert rep["selectors"] == {} and rep["toml"] == "" and rep["ok"] is True

    # byte-identical: the DOM, the page's own (React-like) state, the selection and focus
    assert editor_state(page) == before
    # nothing was sent and nothing clicked
    assert len(rig.site.requests) == requests and len(rig.site.page_events) == clicks
    # the page's state really is the draft: a click now sends exactly it
    page.click("#generate")
    deadline = time.monotonic() + 10
    while len(rig.site.requests) == requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r["prompt"] for r in rig.site.requests[requests:]] == [DRAFT]
    # that generation ends first (on a loaded machine it still ran during the next check: a row then
    # said the button was busy, not found)
    page.wait("!window.__sim.generating && !!document.querySelector('article video[src]')")

    # the table form: one row each, the verdict, no [selectors] block
    p = doctor(rig)
    assert p.returncode == 0
    assert "Every essential signal is there" in p.stdout and "[selectors]" not in p.stdout
    assert sum(line.startswith("✔ ") for line in p.stdout.splitlines()) == 9, p.stdout


def selectors_block(text: str) -> str:
    lines = text.splitlines()
    start = lines.index("[selectors]")
    return "\n".join(lines[start:]) + "\n"


def test_changed_page_missing_candidates_and_the_printed_lines_make_a_session_succeed(rigs, tmp_path):
    rig = rigs("mod@0,ok", markup="changed", toast_ms=800)
    p = doctor(rig)
    assert p.returncode == 1, p.stdout + p.stderr
    out = p.stdout
    lines = {line[2:27].rstrip(): line for line in out.splitlines() if line[:2] in ("✔ ", "✖ ", "· ")}
    assert "MISSING" in lines["prompt editor"] and "MISSING" in lines["generate button"]
    assert "MISSING" in lines["notifications section"]
    assert "found" in lines["source image id"]
    assert "Missing what a session needs: prompt editor, generate button." in out
    # candidates listed under each missing row
    assert 'textarea[aria-label="Describe your video"]' in out and 'placeholder "What should happen?"' in out
    assert 'button[aria-label="Generate video"]' in out
    assert 'div[aria-label="Alerts"]' in out
    block = selectors_block(out)
    assert tomllib.loads(block)["selectors"] == {
        "prompt": ['textarea[aria-label="Describe your video"]'],
        "generate": ['button[aria-label="Generate video"]'],
        "toastContainer": ['div[aria-label="Alerts"]'],
        "toastItem": ["li"],
    }
    # the same in --json
    rep = json.loads(doctor(rig, "--json").stdout)
    assert rep["exit"] == 1 and rep["toml"] + "\n" == block
    assert rep["rows"][0]["candidates"][0]["selector"] == 'textarea[aria-label="Describe your video"]'

    # written into the config file, the page checks out...
    config = tmp_path / "config.toml"  # GROK_TUI_CONFIG_FILE (conftest)
    config.write_text("max_retries = 2\n\n" + block, encoding="utf-8")
    p = doctor(rig)
    assert p.returncode == 0, p.stdout
    assert "[selectors]" not in p.stdout
    # ...and a whole session succeeds on the changed page, toasts read from the new container
    p = grok("run", "--no-ui", "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/", "--prompt", "a fox",
             "--cooldown", "0.5", "--next-video-delay", "0.5", "--timeout", "20")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    summary = json.loads(p.stdout.splitlines()[-1])
    assert (summary["outcome"], summary["completedVideos"], summary["retriesAttempted"], summary["layer1Failures"]) == (
        "success", 1, 1, 1)
    assert [r["prompt"] for r in rig.site.requests] == ["a fox", "a fox"]
    [rec] = StateStore(state_dir()).history()
    assert "dom" in rec["attemptsDetail"][0]["sources"]  # the moderation toast, through toastContainer / toastItem

    # now the post has a video and its button reads "Regenerate": the doctor keeps the user's own entry beside it
    p = doctor(rig)
    assert p.returncode == 1 and "MISSING" in p.stdout
    new = tomllib.loads(selectors_block(p.stdout))["selectors"]
    assert new == {"generate": ['button[aria-label="Regenerate"]', 'button[aria-label="Generate video"]']}
    merged = {**tomllib.loads(block)["selectors"], **new}  # the printed line replaces the same key
    config.write_text("\n".join(toml_lines(merged)) + "\n", encoding="utf-8")
    p = grok("run", "--no-ui", "--cdp-port", str(rig.chrome.port), "--tab", "/imagine/post/", "--prompt", "a fox",
             "--goal", "2", "--cooldown", "0.5", "--next-video-delay", "0.5", "--timeout", "20")
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr
    assert json.loads(p.stdout.splitlines()[-1])["completedVideos"] == 2


def test_cannot_attach_is_one_sentence_and_exit_3(rigs, tmp_path):
    p = grok("doctor", "--cdp-port", "1")
    assert p.returncode == 3 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("grok-tui: ") and "Traceback" not in p.stderr
    p = grok("doctor", "--cdp-port", "1", "--json")
    assert p.returncode == 3 and json.loads(p.stdout)["exit"] == 3
    # another grok-tui controls the tab: the doctor writes nothing into it
    rig = rigs("ok")
    listed = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{rig.chrome.port}/json/list").read())
    [tab] = [t for t in listed if t["type"] == "page"]
    lock = TabLock.acquire(state_dir() / "locks", tab["id"], {"pid": 4242, "command": "grok-tui run"})
    try:
        p = doctor(rig)
    finally:
        lock.release()
    assert p.returncode == 3 and "Another grok-tui controls this tab: pid 4242" in p.stderr


def test_toml_lines_read_back_exactly():
    nasty = ["a[b=\"c\"]", "it's", "back\\slash", "new\nline", "日本 🎬", 'both \' and "']
    assert all(tomllib.loads(f"v = {toml_string(s)}")["v"] == s for s in nasty)
    parsed = tomllib.loads("\n".join(toml_lines({"prompt": nasty, "storeKey": "it's"})))
    assert parsed == {"selectors": {"prompt": nasty, "storeKey": "it's"}}
    assert toml_lines({}) == []
