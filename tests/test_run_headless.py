"""`grok-tui run --no-ui` end to end: real headless Chromium against the simulated site."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from browser_rig import run_session

PROMPT = 'a "quoted" prompt — é 日本 🎬'
SEED_KEYS = [
    "outcome", "completedVideos", "videoGoal", "retriesAttempted", "maxRetries",
    "creditsUsed", "layer1Failures", "layer2Failures", "layer3Failures", "endedAt",
]


def summary_of(lines):
    assert lines[-1]["event"] == "summary", lines[-3:]
    s = dict(lines[-1])
    s.pop("event")
    # the seed's fields exactly, in its order; then what grok-tui adds (issue 13), never in between
    assert list(s)[: len(SEED_KEYS)] == SEED_KEYS
    assert list(s)[len(SEED_KEYS) :] in (["downloads", "downloadFailures"], ["downloads", "downloadFailures", "reason"])
    return {k: s[k] for k in SEED_KEYS}


async def test_seed_example_session(rigs):
    rig = rigs("ok,mod@40,ok,ok")
    rc, lines, store = await run_session(rig, PROMPT, video_goal=3, max_retries=5)
    s = summary_of(lines)
    assert rc == 0
    assert {k: v for k, v in s.items() if k != "endedAt"} == {
        "outcome": "success", "completedVideos": 3, "videoGoal": 3, "retriesAttempted": 1, "maxRetries": 5,
        "creditsUsed": 4, "layer1Failures": 0, "layer2Failures": 1, "layer3Failures": 0,
    }
    assert abs(s["endedAt"] / 1000 - time.time()) < 30
    reqs = rig.site.requests
    assert [r["outcome"] for r in reqs] == ["ok", "mod@40", "ok", "ok"]
    # exactly the user's prompt, every time, from a real (trusted) click
    assert all(r["prompt"] == PROMPT for r in reqs)
    assert all(r["trusted"] for r in reqs)
    # the source image id stays the session's original across the route changes after successes
    assert {r["parentPostId"] for r in reqs} == {rig.site.media_id}
    tabs = [l for l in lines if l["event"] == "tab"]
    assert any(t.get("postId") not in (None, rig.site.post_id) for t in tabs)
    attempts = [l for l in lines if l["event"] == "attempt"]
    assert [a["retry"] for a in attempts] == [False, False, True, False]
    outcomes = [l for l in lines if l["event"] == "outcome"]
    assert [(o["attempt"], o["outcome"], o["layer"]) for o in outcomes] == [
        (1, "success", None), (2, "moderated", 2), (3, "success", None), (4, "success", None)
    ]
    assert outcomes[1]["maxProgress"] == 40
    # the history holds the same summary
    [rec] = store.history()
    assert {k: rec[k] for k in SEED_KEYS} == s


async def test_retry_exhaustion_ends_failure(rigs):
    rig = rigs("mod@50,mod@50,mod@50,mod@50,mod@50")
    rc, lines, _ = await run_session(rig, "a fox", video_goal=1, max_retries=2)
    s = summary_of(lines)
    assert rc == 1
    assert (s["outcome"], s["retriesAttempted"], s["creditsUsed"], s["layer2Failures"]) == ("failure", 2, 3, 3)
    assert len(rig.site.requests) == 3


async def test_layer_boundaries_in_one_session(rigs):
    rig = rigs("mod@0,mod@24,mod@25,mod@87,mod@88,mod@100,ok")
    rc, lines, _ = await run_session(rig, "a fox", video_goal=1, max_retries=6)
    s = summary_of(lines)
    assert rc == 0
    layers = [o["layer"] for o in lines if o["event"] == "outcome" and o["outcome"] == "moderated"]
    assert layers == [1, 1, 2, 2, 3, 3]
    assert (s["layer1Failures"], s["layer2Failures"], s["layer3Failures"]) == (2, 2, 2)
    assert (s["creditsUsed"], s["retriesAttempted"], s["completedVideos"]) == (7, 6, 1)


async def test_rate_limit_cancels_at_once(rigs):
    rig = rigs("ok,rate,ok,ok")
    rc, lines, _ = await run_session(rig, "a fox", video_goal=3, max_retries=5)
    s = summary_of(lines)
    assert rc == 2
    assert (s["outcome"], s["completedVideos"], s["creditsUsed"]) == ("cancelled", 1, 1)
    time.sleep(1.0)
    assert [r["outcome"] for r in rig.site.requests] == ["ok", "rate"]  # never retried around it


async def test_timeout_cancels(rigs):
    rig = rigs("silent")
    t0 = time.time()
    rc, lines, _ = await run_session(rig, "a fox", session_timeout_s=2)
    s = summary_of(lines)
    # the generation request was sent and seen: a paid generation even though no outcome came
    assert rc == 2 and s["outcome"] == "cancelled" and s["creditsUsed"] == 1
    assert 1.9 <= time.time() - t0 < 15
    assert [o["outcome"] for o in lines if o["event"] == "outcome"] == ["timeout"]


async def test_prosemirror_editor_prompt_arrives_intact(rigs):
    rig = rigs("ok,ok", editor="prosemirror")
    rc, lines, _ = await run_session(rig, PROMPT, video_goal=2)
    assert rc == 0 and summary_of(lines)["completedVideos"] == 2
    assert [r["prompt"] for r in rig.site.requests] == [PROMPT, PROMPT]
    assert {r["parentPostId"] for r in rig.site.requests} == {rig.site.media_id}


async def test_prompt_captured_from_page_when_not_given(rigs):
    from grok_tui.browser.cdp import CdpError, CdpSession
    from grok_tui.browser.endpoint import discover

    rig = rigs("ok")
    _, targets = discover(port=rig.chrome.port)
    page = CdpSession([t for t in targets if "/imagine/post/" in t["url"]][0])
    try:
        ready = """new Promise(done => { const f = () => { const t = document.querySelector('textarea');
            if (t) { t.focus(); done(true); } else setTimeout(f, 20); }; f(); })"""
        for _ in range(50):  # the first navigation may still be replacing the context
            try:
                page.call("Runtime.evaluate", expression=ready, awaitPromise=True, timeout=10)
                break
            except CdpError:
                time.sleep(0.1)
        page.call("Input.insertText", text="typed by the user on the page")
        typed = page.call("Runtime.evaluate", expression="document.querySelector('textarea').value", returnByValue=True)
        assert typed["result"]["value"] == "typed by the user on the page"
    finally:
        page.close()
    rc, lines, _ = await run_session(rig, None)
    assert rc == 0, lines[-3:]
    assert [r["prompt"] for r in rig.site.requests] == ["typed by the user on the page"]


async def test_moderation_in_stream_and_toast_counted_once(rigs):
    # the toast stays 2.5 s and is re-rendered once: the stream, the toast and the
    # media store all report attempt 1's moderation
    rig = rigs("mod@40,ok", toast_ms=2500, step_ms=40)
    rc, lines, store = await run_session(rig, "a fox", video_goal=1, max_retries=3, cooldown_s=1.5)
    s = summary_of(lines)
    assert rc == 0
    assert (s["creditsUsed"], s["layer2Failures"], s["retriesAttempted"]) == (2, 1, 1)
    [rec] = store.history()
    first = rec["attemptsDetail"][0]
    assert first["outcome"] == "moderated"
    assert "network" in first["sources"] and "dom" in first["sources"]
    assert len(rig.site.requests) == 2


async def test_retry_pacing_within_300ms_of_cooldown(rigs):
    rig = rigs("mod@30,mod@30,mod@30,ok")
    cooldown = 1.0
    rc, _, _ = await run_session(rig, "a fox", max_retries=5, cooldown_s=cooldown)
    assert rc == 0
    moderated = [e["t"] for e in rig.site.emitted if e["kind"] == "moderated"]
    clicks = [r["t"] for r in rig.site.requests]
    assert len(moderated) == 3 and len(clicks) == 4
    gaps = [c - m for m, c in zip(moderated, clicks[1:])]
    for gap in gaps:
        assert cooldown <= gap <= cooldown + 0.3, gaps


def test_cli_contract_exit_codes_and_last_line(rigs, tmp_path):
    rig = rigs("ok,rate")
    env = dict(os.environ, GROK_TUI_COOLDOWN_S="0.3", GROK_TUI_NEXT_VIDEO_DELAY_S="0.3")
    cmd = [sys.executable, "-m", "grok_tui", "run", "--no-ui", "--cdp-port", str(rig.chrome.port),
           "--tab", "/imagine/post/", "--prompt", "a fox", "--goal", "2", "--max-retries", "3"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert all("event" in line for line in lines)
    assert lines[0]["event"] == "attached"
    s = summary_of(lines)
    assert (s["outcome"], s["completedVideos"]) == ("cancelled", 1)
    assert "Traceback" not in p.stderr


async def test_selectors_from_settings_override_the_defaults(rigs):
    rig = rigs("ok")
    # the generate button named explicitly: the session works
    rc, lines, _ = await run_session(rig, "a fox", selectors={"generate": ['button[aria-label="Make video"]']})
    assert rc == 0
    # a prompt selector that matches nothing: the override is used, the attempt cannot start
    rc, lines, store = await run_session(rig, "a fox", selectors={"prompt": ["textarea#no-such-editor"]})
    assert rc == 2
    assert "no prompt editor" in store.history()[-1]["reason"]
    assert len(rig.site.requests) == 1


def test_unknown_selector_name_is_one_sentence():
    from grok_tui.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as err:
        load_settings(selectors={"makeButton": "button"})
    assert "unknown selector name(s) makeButton" in str(err.value) and "generate" in str(err.value)
