"""Signals belong to their attempt and session (issue 10 items 9 and 10).

Real headless Chromium against the simulated site:
- a moderation toast that Grok's notification list re-renders (removed, and a new element
  without its identity added 0.8-1.5 s after it first showed) is not the next attempt's
  moderation, at cooldowns 0.5, 1 and 2 s: once with the sim's own knob, once timed by
  the page to land just after the retry's request left;
- a moderation shown before the retry's response began belongs to the attempt before;
- a genuine moderation of the next attempt still counts, from the page alone (its toast
  next to the re-rendered one, same text, neither with an identity) and from the stream;
- a late outcome of the previous session (stream, video element, store entry, video URL)
  does not end or feed the next session.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from browser_rig import make_rig, run_session
from grok_tui import notices
from grok_tui.browser.cdp import CdpError, CdpSession
from grok_tui.browser.endpoint import discover
from grok_tui.sim import MODERATED_TEXT

READY = """new Promise(done => { const f = () => {
    if (document.readyState === 'complete' && document.querySelector('section[aria-live="polite"] > ol')) done(true);
    else setTimeout(f, 20); }; f(); })"""


def page_eval(rig, expression: str):
    """Evaluate `expression` in the sim's post page (a separate CDP session, as a user script would)."""
    _, targets = discover(port=rig.chrome.port)
    page = CdpSession([t for t in targets if "/imagine/post/" in t.get("url", "")][0])
    try:
        for _ in range(50):
            try:
                page.call("Runtime.evaluate", expression=READY, awaitPromise=True, timeout=20)
                res = page.call("Runtime.evaluate", expression=expression, returnByValue=True, timeout=10)
                break
            except CdpError:  # the page is loading a new document: ask the new one
                time.sleep(0.1)
        assert "exceptionDetails" not in res, res
        return (res.get("result") or {}).get("value")
    finally:
        page.close()


def outcomes(lines: list[dict]) -> list[tuple[int, str]]:
    return [(o["attempt"], o["outcome"]) for o in lines if o["event"] == "outcome"]


def attempt_detail(store, n: int) -> dict:
    return store.history()[-1]["attemptsDetail"][n - 1]


# ------------------------------------------------------------------ a re-rendered toast (item 10)


@pytest.mark.parametrize("cooldown", [0.5, 1.0, 2.0])
async def test_the_sims_readded_toast_is_not_the_retrys_moderation(cooldown):
    # the repro: Grok's list removes the toast and adds a new element without its data-ts
    # 0.8-1.5 s after it showed; attempt 2 succeeds after ~2 s of progress
    rig = make_rig("mod@40,ok", step_ms=200, toast_ms=4000, toast_readd_ms=(800, 1500))
    try:
        rc, lines, store = await run_session(rig, "a fox", max_retries=5, cooldown_s=cooldown, session_timeout_s=30)
        requests = list(rig.site.requests)
    finally:
        rig.close()
    assert rc == 0
    assert outcomes(lines) == [(1, "moderated"), (2, "success")]
    s = lines[-1]
    assert (s["outcome"], s["creditsUsed"], s["retriesAttempted"], s["layer2Failures"]) == ("success", 2, 1, 1)
    assert len(requests) == 2  # no third request, which a real account would pay for


# The re-show waits for the retry's generation request and lands 40 ms after it (at least 0.8 s
# after the toast first showed: with a 0.5 or 1 s cooldown that is 0.8-1.2 s), or, `after_retry`
# false, 1.5 s after the toast first showed. The old element goes and a new one comes in the same
# change, at the same place, with the same text and no data-ts, as a list re-render does.
RESHOW_JS = r"""
(() => {
  if (window.__reshow) return true;
  const st = window.__reshow = {fetches: [], shownAt: null, reshownAt: null};
  const origFetch = window.fetch;
  window.fetch = function (input) {
    try {
      const u = String((input && input.url) || input);
      if (u.indexOf('/rest/app-chat/conversations/new') >= 0) st.fetches.push(performance.now());
    } catch (e) {}
    return origFetch.apply(this, arguments);
  };
  const list = document.querySelector('section[aria-live="polite"] > ol');
  new MutationObserver(() => {
    if (st.shownAt !== null) return;
    const li = list.querySelector('li.toast[data-ts]');
    if (!li || !/moderated/i.test(li.textContent)) return;
    st.shownAt = performance.now();
    const tick = () => {
      const since = performance.now() - st.shownAt;
      const second = st.fetches.length >= 2 ? st.fetches[1] - st.shownAt : Infinity;
      const at = %(after_retry)s ? Math.max(800, second + 40) : 1500;
      if (since < at) { setTimeout(tick, 2); return; }
      const old = list.querySelector('li.toast');
      const text = old ? old.textContent : 'Content Moderated. Try a different idea.';
      const n = document.createElement('li');
      n.className = 'toast';
      n.setAttribute('data-sonner-toast', '');
      n.setAttribute('data-visible', 'true');
      const d = document.createElement('div');
      d.textContent = text;
      n.appendChild(d);
      if (old) old.replaceWith(n); else list.appendChild(n);
      st.reshownAt = performance.now();
      setTimeout(() => n.remove(), 3000);
    };
    tick();
  }).observe(list, {childList: true, subtree: true});
  return true;
})()
"""


@pytest.mark.parametrize("cooldown", [0.5, 1.0, 2.0])
async def test_a_toast_reshown_just_after_the_retry_is_not_the_retrys_moderation(cooldown):
    rig = make_rig("mod@40,ok", step_ms=200, toast_ms=4000)
    try:
        after_retry = "true" if cooldown < 1.5 else "false"
        assert page_eval(rig, RESHOW_JS % {"after_retry": after_retry}) is True
        rc, lines, store = await run_session(rig, "a fox", max_retries=5, cooldown_s=cooldown, session_timeout_s=30)
        st = page_eval(rig, "window.__reshow")
        requests = list(rig.site.requests)
    finally:
        rig.close()
    # the page did re-show the toast, in the window under test
    assert st["reshownAt"] is not None
    assert 790 <= st["reshownAt"] - st["shownAt"] <= 1600, st
    if cooldown < 1.5:
        assert 0 < st["reshownAt"] - st["fetches"][1] < 1000, st  # after the retry's request left
    else:
        assert st["reshownAt"] < st["fetches"][1], st  # before the retry
    # it was not counted: attempt 2 ran to its success, and no third (paid) request went out
    assert rc == 0
    assert outcomes(lines) == [(1, "moderated"), (2, "success")]
    s = lines[-1]
    assert (s["outcome"], s["creditsUsed"], s["retriesAttempted"], s["layer2Failures"]) == ("success", 2, 1, 1)
    assert len(requests) == 2


async def test_a_moderation_shown_before_the_retrys_response_belongs_to_the_attempt_before():
    # The server takes 0.7 s to answer; a moderation toast (a new one, with its own identity) shows
    # while the retry's request waits for its answer: Grok cannot have moderated attempt 2 yet.
    rig = make_rig("mod@40,ok", step_ms=100, toast_ms=3000, response_delay_ms=700)
    shown: dict = {}

    async def show_during_the_wait():
        while len(rig.site.requests) < 2:
            await asyncio.sleep(0.01)
        assert await asyncio.to_thread(rig.site.show_toast, MODERATED_TEXT, 2000) == 1
        shown["at"] = time.time()

    try:
        helper = asyncio.create_task(show_during_the_wait())
        rc, lines, store = await run_session(rig, "a fox", max_retries=5, cooldown_s=0.5, session_timeout_s=30)
        await asyncio.wait_for(helper, 5)
        requests = list(rig.site.requests)
        log = open(store.history()[-1]["logPath"], encoding="utf-8").read()
    finally:
        rig.close()
    assert shown["at"] - requests[1]["t"] < 0.6  # shown before the server answered
    assert rc == 0 and outcomes(lines) == [(1, "moderated"), (2, "success")]
    assert len(requests) == 2
    assert "a moderation toast shown before the response to attempt 2's request began: it belongs to the attempt before" in log


async def test_a_genuine_page_only_moderation_of_the_next_attempt_counts():
    # Attempt 2's stream ends without an outcome; the page alone says it was moderated, with a toast
    # of the same text as attempt 1's, which the list re-rendered (no data-ts) and still shows.
    rig = make_rig("mod@40,silent,ok", step_ms=100, toast_ms=4000, toast_readd_ms=(700, 800))
    injected: dict = {}
    add_toast = r"""(() => {
      const list = document.querySelector('section[aria-live="polite"] > ol');
      const n = document.createElement('li');
      n.className = 'toast'; n.setAttribute('data-sonner-toast', ''); n.setAttribute('data-visible', 'true');
      const d = document.createElement('div'); d.textContent = %r; n.appendChild(d);
      list.prepend(n);  // newest first
      setTimeout(() => n.remove(), 3000);
      return Array.from(list.querySelectorAll('li.toast')).map(li => [li.textContent, li.hasAttribute('data-ts')]);
    })()""" % MODERATED_TEXT

    async def moderate_attempt_2():
        while len(rig.site.requests) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.4)  # its response has begun (progress is streaming)
        while not await asyncio.to_thread(page_eval, rig, "!!document.querySelector('li.toast:not([data-ts])')"):
            await asyncio.sleep(0.02)  # attempt 1's toast, re-rendered without its identity
        injected["at"] = time.time()
        injected["toasts"] = await asyncio.to_thread(page_eval, rig, add_toast)

    try:
        helper = asyncio.create_task(moderate_attempt_2())
        rc, lines, store = await run_session(rig, "a fox", max_retries=5, cooldown_s=0.5, session_timeout_s=30)
        await asyncio.wait_for(helper, 5)
        requests = list(rig.site.requests)
    finally:
        rig.close()
    # two toasts with the same text, neither with an identity, showing at once
    assert injected["toasts"] == [[MODERATED_TEXT, False], [MODERATED_TEXT, False]]
    assert rc == 0 and outcomes(lines) == [(1, "moderated"), (2, "moderated"), (3, "success")]
    second = attempt_detail(store, 2)
    assert second["sources"] == ["dom"] and second["endedAt"] >= int(injected["at"] * 1000) - 50
    assert len(requests) == 3


async def test_a_genuine_moderation_of_the_next_attempt_counts_among_rerendered_toasts():
    # each moderation toast is re-rendered 0.8-1.5 s after it showed; attempt 2 is moderated for
    # real (the stream says so, and its own toast shows): it counts, and attempt 3 succeeds
    rig = make_rig("mod@40,mod@30,ok", step_ms=100, toast_ms=4000, toast_readd_ms=(800, 1500))
    try:
        rc, lines, store = await run_session(rig, "a fox", max_retries=5, cooldown_s=0.5, session_timeout_s=30)
        requests = list(rig.site.requests)
    finally:
        rig.close()
    assert rc == 0 and outcomes(lines) == [(1, "moderated"), (2, "moderated"), (3, "success")]
    assert "network" in attempt_detail(store, 2)["sources"]
    s = lines[-1]
    assert (s["creditsUsed"], s["retriesAttempted"], s["layer2Failures"]) == (3, 2, 2)
    assert len(requests) == 3


# ------------------------------------------------------------------ the previous session (item 9)


async def until(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def test_a_late_outcome_of_the_previous_session_does_not_end_the_next():
    """Session 1's attempt is cancelled while it generates; session 2 starts at once. The page lets a
    second generation start (busy_clicks), so session 1's video finishes during session 2's attempt 1:
    its stream, video element, store entry and video URL all say "attempt 1". Session 2 goes on to
    its own video, which is the one saved."""
    from grok_tui.browser.link import BrowserLink
    from grok_tui.engine.events import UserCancel
    from grok_tui.runner import SessionRunner
    from grok_tui.settings import state_dir
    from grok_tui.store import StateStore

    rig = make_rig("ok/300,ok/600", busy_clicks=True)  # 10 steps: session 1's video in 3 s, session 2's in 6 s
    seen: list = []
    runner = SessionRunner(rig.settings(cooldown_s=0.3, session_timeout_s=30), StateStore(state_dir()), BrowserLink,
                           listener=seen.append, interactive=False)
    try:
        await runner.attach()
        runner.start_loop()
        await runner.start_session("a fox")
        await until(lambda: runner.engine.current is not None and runner.engine.current.clicked_at is not None, 10,
                    "session 1's click")
        runner.submit(UserCancel("the user cancels"))
        await until(lambda: len(runner.records) == 1, 10, "session 1 recorded")
        await runner.start_session("a fox")
        await until(lambda: len(runner.records) == 2, 30, "session 2 recorded")
        logs = [n.message for n in seen if isinstance(n, notices.LogLine)]
        attempts = [a.to_dict() for a in runner.engine.session.attempt_progress]
        await until(lambda: len(rig.site.posts) == 2, 10, "both videos made")
    finally:
        await runner.close()
        rig.close()
    first, second = rig.site.requests[:2]
    video1, video2 = rig.site.posts[0], rig.site.posts[1]  # in the order they finished
    done1 = next(e["t"] for e in rig.site.emitted if e["kind"] == "completed" and e["videoId"] == video1["videoId"])
    # session 1's video finished after session 2 had clicked, while its attempt 1 ran
    assert second["t"] < done1 < attempts[0]["endedAt"] / 1000
    assert runner.records[0].summary.outcome == "cancelled"
    s = runner.records[1].summary
    assert (s.outcome, s.completedVideos, s.creditsUsed, s.retriesAttempted) == ("success", 1, 1, 0)
    assert attempts == [attempts[0]] and attempts[0]["outcome"] == "success"
    assert attempts[0]["videoId"] == video2["videoId"] != video1["videoId"]
    # each late signal was told apart by its session tag, at DEBUG
    stale = [m for m in logs if "for attempt 1 of session 1 ignored (this is session 2)" in m]
    assert {m.split(" via ")[1].split(" ")[0] for m in stale if m.startswith("success via")} >= {"network", "dom", "store"}
    assert any(m.startswith("video URL of attempt 1 of session 1 ignored") for m in logs)
    # the video saved for session 2 is session 2's own
    saved = [n.result for n in seen if isinstance(n, notices.DownloadFinished) and n.result.ok]
    assert s.extra["downloads"] == 1 and len(saved) == 1
    assert open(saved[0].path, "rb").read() == rig.site.video_file(video2["videoId"])
    # and the video group is session 2's one video's post
    assert runner.engine.persistent.video_group == [video2["postId"]]
