"""Prepare, then fire (issue 15): the click found ready during the cooldown (read only: nothing is
written then), checked in one evaluate at the deadline, prepared again (written and checked on the
spot) when the page changed meanwhile. Real headless Chromium, the sim.
"""

from __future__ import annotations

import asyncio
import time

from grok_tui.browser.cdp import CdpSession
from grok_tui.browser.endpoint import discover
from grok_tui.browser.link import BrowserLink
from grok_tui.browser.signals import LinkLog
from grok_tui.engine.events import ClickMakeVideo, ClickSent
from grok_tui.runner import SessionRunner
from grok_tui.store import StateStore
from test_browser_link import wait_requests

PROMPT = "a red fox running through snow,\nslow motion — 日本 🎬"
PREPARED = "already in the editor"  # in a prepared click's ClickSent detail
EDITOR_TEXT = "(function(){var e=document.getElementById('prompt-editor'); return e.value !== undefined ? e.value : e.innerText;})()"


class Events(list):
    def __call__(self, event):
        self.append(event)

    def sent(self, attempt):
        return [e for e in self if isinstance(e, ClickSent) and e.attempt == attempt]

    def logs(self, needle):
        return [e.message for e in self if isinstance(e, LinkLog) and needle in e.message]


def attached(rig):
    events = Events()
    link = BrowserLink(port=rig.chrome.port, tab_match="/imagine/post/", emit=events)
    link.attach()
    return link, events


def other_session(rig) -> CdpSession:
    """A second DevTools session on the tab: what a person at the keyboard does to the page."""
    _, targets = discover(port=rig.chrome.port)
    return CdpSession([t for t in targets if "/imagine/post/" in t.get("url", "")][0])


def type_into_editor(rig, text: str) -> None:
    s = other_session(rig)
    try:
        s.call("Runtime.evaluate", expression=(
            "(function(){var e=document.getElementById('prompt-editor');"
            "e.focus(); var r=document.createRange(); r.selectNodeContents(e); var sel=getSelection();"
            "sel.removeAllRanges(); sel.addRange(r); if (e.select) e.select();})()"))
        s.call("Input.insertText", text=text)
    finally:
        s.close()


def page_eval(rig, expression: str):
    s = other_session(rig)
    try:
        return (s.call("Runtime.evaluate", expression=expression, returnByValue=True).get("result") or {}).get("value")
    finally:
        s.close()


def click(link, site, attempt, prompt=PROMPT, session=1):
    link.execute_click(ClickMakeVideo(attempt=attempt, prompt=prompt, media_id=site.media_id, session=session))


# ---------------------------------------------------------------- the link


def test_a_preparation_writes_nothing_and_a_prompt_not_in_the_editor_is_written_at_the_deadline(rigs):
    rig = rigs("ok", editor="textarea")
    link, events = attached(rig)
    try:
        type_into_editor(rig, "my own draft")
        page_eval(rig, "window.__seen = []; ['input', 'beforeinput', 'keydown', 'mousemove', 'mousedown', 'focusin']"
                       ".forEach(function (t) { document.addEventListener(t, function () { __seen.push(t); }, true); })")
        assert link.prepare_click(PROMPT, 1, 1) is False  # the editor does not hold the prompt: nothing kept
        time.sleep(0.2)
        assert page_eval(rig, EDITOR_TEXT) == "my own draft"
        assert page_eval(rig, "__seen") == []  # nothing typed, focused or moved on the page
        assert events.sent(1) == []
        click(link, rig.site, 1)  # the deadline path writes it, checks the page first
        [sent] = events.sent(1)
        assert PREPARED not in sent.detail and "typed and verified" in sent.detail
        assert [r["prompt"] for r in wait_requests(rig.site, 1)] == [PROMPT]
    finally:
        link.close()


def test_a_prepared_click_sends_the_prompt_with_one_check(rigs):
    rig = rigs("ok", editor="prosemirror")
    link, events = attached(rig)
    try:
        type_into_editor(rig, PROMPT)  # as an earlier attempt of the session leaves it
        assert link.prepare_click(PROMPT, 1, 1)
        click(link, rig.site, 1)
        [sent] = events.sent(1)
        assert PREPARED in sent.detail
        reqs = wait_requests(rig.site, 1)
        assert [r["prompt"] for r in reqs] == [PROMPT] and reqs[0]["trusted"] is True  # one real click
    finally:
        link.close()


def test_editor_changed_between_prepare_and_fire_is_prepared_again(rigs):
    rig = rigs("ok,ok", editor="prosemirror")
    link, events = attached(rig)
    try:
        type_into_editor(rig, PROMPT)
        assert link.prepare_click(PROMPT, 1, 1)
        type_into_editor(rig, "something the user typed meanwhile")
        assert "something the user typed" in page_eval(rig, EDITOR_TEXT)
        click(link, rig.site, 1)
        [sent] = events.sent(1)
        assert PREPARED not in sent.detail  # written again, then clicked
        assert events.logs("the prepared click does not hold (the editor does not hold exactly the prompt)")
        reqs = wait_requests(rig.site, 1)
        assert [r["prompt"] for r in reqs] == [PROMPT]  # exactly the user's prompt, not what was typed
    finally:
        link.close()


def test_a_button_that_moved_or_got_covered_is_prepared_again(rigs):
    rig = rigs("ok,ok,ok", editor="textarea")
    link, events = attached(rig)
    try:
        type_into_editor(rig, PROMPT)
        assert link.prepare_click(PROMPT, 1, 1)
        page_eval(rig, "document.querySelector('#generate').style.transform = 'translate(-40px, 0)'")
        click(link, rig.site, 1)
        assert events.logs("the prepared click does not hold (the generate button moved)")
        assert PREPARED not in events.sent(1)[0].detail
        wait_requests(rig.site, 1)
        time.sleep(1.0)  # the generation runs out
        assert link.prepare_click(PROMPT, 1, 2)
        page_eval(rig, """(function(){var b=document.querySelector('#generate').getBoundingClientRect();
            var d=document.createElement('div'); d.id='cover'; d.style.cssText='position:fixed;z-index:9;background:#000;'
            +'left:'+(b.left-2)+'px;top:'+(b.top-2)+'px;width:'+(b.width+4)+'px;height:'+(b.height+4)+'px';
            document.body.appendChild(d); setTimeout(function(){d.remove();}, 400);})()""")
        click(link, rig.site, 2)  # the full path waits for the cover to clear, then clicks
        assert any("covered" in m for m in events.logs("the prepared click does not hold"))
        reqs = wait_requests(rig.site, 2)
        assert [r["prompt"] for r in reqs] == [PROMPT, PROMPT]
    finally:
        link.close()


SEEN_POINTER = ("window.__seen = []; ['mousemove', 'mousedown', 'mouseup', 'click']"
                ".forEach(function (t) { document.addEventListener(t, function (e) {"
                " if (e.isTrusted) __seen.push(t); }, true); })")


def test_a_retry_where_the_last_click_left_the_pointer_sends_no_move(rigs):
    # A move goes to the page with its next frame and the press waits behind it; a retry's button is
    # where the last click left the pointer, so only press and release go. Elsewhere the move goes too.
    rig = rigs("ok,ok,ok", editor="textarea")
    link, events = attached(rig)
    try:
        type_into_editor(rig, PROMPT)
        page_eval(rig, SEEN_POINTER)
        for attempt, moved in ((1, True), (2, False), (3, True)):
            if attempt == 3:  # the button is somewhere else now: prepared there, the pointer goes there
                page_eval(rig, "document.querySelector('#generate').style.transform = 'translate(-40px, 0)'")
            assert link.prepare_click(PROMPT, 1, attempt)
            page_eval(rig, "__seen.length = 0")
            click(link, rig.site, attempt)
            assert PREPARED in events.sent(attempt)[0].detail
            want = ["mousedown", "mouseup", "click"]
            assert page_eval(rig, "__seen") == (["mousemove"] + want if moved else want), attempt
            wait_requests(rig.site, attempt)
            time.sleep(1.0)  # the generation runs out
        assert [r["prompt"] for r in rig.site.requests] == [PROMPT] * 3
        assert all(r["trusted"] is True for r in rig.site.requests)
    finally:
        link.close()


def test_a_paused_generation_request_is_answered_while_another_call_waits(rigs):
    # The options guard holds each generation request until it answers. That answer does not queue
    # behind a call of another thread on the same session (the click's mouse events are answered
    # only after the page's click handler, which made the request, has run).
    import threading

    rig = rigs("ok", editor="textarea")
    link, _ = attached(rig)
    try:
        slow = threading.Thread(target=link.page.call, args=("Runtime.evaluate",), kwargs=dict(
            timeout=5.0, expression="new Promise(function (r) { setTimeout(r, 1500); })", awaitPromise=True))
        slow.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        page_eval(rig, "document.getElementById('generate').click()")  # the page's own request
        assert len(wait_requests(rig.site, 1, timeout=3.0)) == 1
        assert time.monotonic() - t0 < 1.0 and slow.is_alive()  # not held until the slow call ended
        assert link.guard.paused == 1
        slow.join(5)
    finally:
        link.close()


def test_a_paused_generation_request_is_answered_while_the_event_thread_is_held(rigs):
    # The guard judges and answers a paused request on the receive thread, as it arrives: not behind
    # an event handler still running on the event thread (a handler that makes a call, like the
    # network watch's streamResourceContent), and without holding any thread for Chrome's answer.
    import threading

    rig = rigs("ok", editor="textarea")
    link, _ = attached(rig)
    held, let_go, done = threading.Event(), threading.Event(), threading.Event()

    def hold(p):
        if any(a.get("value") == "grok-tui-test-hold" for a in p.get("args") or []):
            held.set()
            let_go.wait(10)
            done.set()

    try:
        link.page.session.on("Runtime.consoleAPICalled", hold)
        page_eval(rig, "console.log('grok-tui-test-hold'); document.getElementById('generate').click()")
        assert held.wait(5)
        reqs = wait_requests(rig.site, 1, timeout=5.0)
        assert len(reqs) == 1 and not done.is_set()  # reached the sim while the event thread was still held
        assert link.guard.paused == 1
    finally:
        let_go.set()
        link.close()


def test_a_preparation_that_comes_after_its_click_began_does_nothing(rigs):
    rig = rigs("ok", editor="textarea")
    link, events = attached(rig)
    try:
        click(link, rig.site, 1)
        wait_requests(rig.site, 1)
        assert page_eval(rig, EDITOR_TEXT) == PROMPT  # the page keeps the prompt after its generation
        assert link.prepare_click(PROMPT, 1, 1) is False  # attempt 1's click already began
        assert link.prepare_click(PROMPT, 2, 1) is True  # a new session's attempt 1 is another click
    finally:
        link.close()


# ---------------------------------------------------------------- a session


async def run_session(runner) -> None:
    await runner.attach()
    runner.start_loop()
    await runner.start_session(PROMPT)
    await asyncio.wait_for(runner.ended.wait(), 60)
    await runner.close()


def test_a_session_prepares_every_retry_and_sends_exactly_the_prompt(rigs, tmp_path):
    rig = rigs("mod@0,mod@30,mod@0,ok", editor="prosemirror")
    settings = rig.settings(video_goal=1, max_retries=5, cooldown_s=0.4, next_video_delay_s=0.4)
    events = Events()
    runner = SessionRunner(settings, StateStore(tmp_path / "state"), BrowserLink, listener=events)
    asyncio.run(run_session(runner))
    summary = runner.records[-1].summary
    assert (summary.outcome, summary.retriesAttempted) == ("success", 3)
    assert [r["prompt"] for r in rig.site.requests] == [PROMPT] * 4
    clicked = [line.message for line in runner.engine.session.logs if " clicked (" in line.message]
    assert len(clicked) == 4 and PREPARED not in clicked[0]  # the first click has no cooldown before it
    assert all(PREPARED in m for m in clicked[1:]), clicked


def test_a_retry_is_issued_on_its_deadline_never_before(rigs, tmp_path):
    # asyncio's timers wake ~1.4 ms late (epoll counts whole ms): the runner wakes early for a planned
    # click and waits out the rest itself. The engine still decides: never before the due time.
    import sys

    rig = rigs("mod@0,mod@0,mod@0,mod@0,mod@0,ok", editor="textarea")
    settings = rig.settings(video_goal=1, max_retries=8, cooldown_s=0.3, next_video_delay_s=0.3)

    class Timed(SessionRunner):
        issued: list = []

        def _spawn_click(self, cmd):
            if cmd.attempt > 1:
                self.issued.append((time.time(), self._prepared_due))
            super()._spawn_click(cmd)

    runner = Timed(settings, StateStore(tmp_path / "state"), BrowserLink)
    asyncio.run(run_session(runner))
    assert runner.records[-1].summary.outcome == "success"
    late = [(t - due) * 1000.0 for t, due in Timed.issued]
    # Never early. How late is bench/pacing.py's figure (a timed bound here would fail under load).
    assert len(late) == 5 and all(ms >= 0 for ms in late), late
    assert sys.getswitchinterval() <= 0.0005  # set when the runner's loop started


def test_a_click_goes_to_its_thread_before_the_steps_notices_are_handled(rigs, tmp_path):
    # At the deadline the click's thread starts first; the step's log lines and notices (a file write,
    # the app's drawing) come after, beside it. Here the notice of the attempt waits for the click to
    # have begun: it would wait in vain (the click starting only once the step is done) otherwise.
    import threading

    from grok_tui.notices import AttemptStarted

    rig = rigs("ok", editor="textarea")
    settings = rig.settings(video_goal=1, max_retries=2)
    began = threading.Event()

    class Link(BrowserLink):
        def execute_click(self, cmd, epoch=None):
            began.set()
            super().execute_click(cmd, epoch)

    seen = []

    def listener(notice):
        if isinstance(notice, AttemptStarted):
            seen.append(began.wait(5))

    runner = SessionRunner(settings, StateStore(tmp_path / "state"), Link, listener=listener)
    asyncio.run(run_session(runner))
    assert runner.records[-1].summary.outcome == "success"
    assert seen == [True]
    assert [r["prompt"] for r in rig.site.requests] == [PROMPT]


# ---------------------------------------------------------------- the check sent ahead of the deadline


def hooked_link(rig, clock, stamps, before_press=None):
    """A BrowserLink class whose check_ahead and mouse events leave (what, attempt, clock()) in `stamps`;
    `before_press(attempt)` runs right before the mouse events go out."""

    class Link(BrowserLink):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            actions = self.actions
            actions.ahead_fresh_s = 60.0  # this test is about order, not about how fresh the answer is
            ahead, press = actions.check_ahead, actions._press

            def check_ahead(session, attempt):
                stamps.append(("ahead", attempt, clock()))
                return ahead(session, attempt)

            def hooked_press(attempt, *args, **kw):
                if before_press is not None:
                    before_press(attempt)
                stamps.append(("press", attempt, clock(), actions.ahead_used))
                return press(attempt, *args, **kw)

            actions.check_ahead, actions._press = check_ahead, hooked_press

    return Link


def test_the_check_goes_ahead_and_the_press_never_before_the_deadline(rigs, tmp_path):
    # The prepared click's check is sent just before its deadline (or at it, from the loop), so only the
    # mouse events are left at the deadline. The engine still decides: the press comes at or after the
    # due time on the engine's own clock, after the check that went ahead, and the click uses that check.
    rig = rigs("mod@0,mod@0,mod@0,ok", editor="textarea")
    settings = rig.settings(video_goal=1, max_retries=5, cooldown_s=0.3, next_video_delay_s=0.3)
    clock, stamps, due = time.time, [], {}

    class Timed(SessionRunner):
        def _spawn_click(self, cmd):
            due[cmd.attempt] = self._prepared_due
            super()._spawn_click(cmd)

    runner = Timed(settings, StateStore(tmp_path / "state"), hooked_link(rig, clock, stamps), clock=clock)
    asyncio.run(run_session(runner))
    assert runner.records[-1].summary.outcome == "success"
    assert [r["prompt"] for r in rig.site.requests] == [PROMPT] * 4
    for attempt in (2, 3, 4):
        [(_, _, sent)] = [s for s in stamps if s[0] == "ahead" and s[1] == attempt]
        [(_, _, pressed, used)] = [s for s in stamps if s[0] == "press" and s[1] == attempt]
        assert sent <= pressed and pressed >= due[attempt], (attempt, stamps, due)
        assert used == attempt - 1  # this click went on the check that went ahead (one per retry)
    assert [s[1] for s in stamps if s[0] == "press"] == [1, 2, 3, 4]


def test_editor_changed_after_the_early_check_gets_the_request_failed_and_the_session_stopped(rigs, tmp_path):
    # The check went ahead and passed; then, before the press, something types into the editor. The click
    # goes (its check had passed), but the options guard reads the paused request: its message is not the
    # prompt, so the request is failed before it leaves the browser and the session stops, saying why.
    rig = rigs("mod@0,ok", editor="textarea")
    settings = rig.settings(video_goal=1, max_retries=3, cooldown_s=0.4, next_video_delay_s=0.4)
    changed = "something the user typed meanwhile"
    stamps: list = []

    def meddle(attempt):
        if attempt == 2:
            type_into_editor(rig, changed)
            assert page_eval(rig, EDITOR_TEXT) == changed

    runner = SessionRunner(settings, StateStore(tmp_path / "state"), hooked_link(rig, time.time, stamps, meddle))
    asyncio.run(run_session(runner))
    [press2] = [s for s in stamps if s[0] == "press" and s[1] == 2]
    assert press2[3] == 1  # the retry's click went on the check sent ahead of its deadline
    assert [r["prompt"] for r in rig.site.requests] == [PROMPT]  # the changed text never reached the server
    s = runner.records[-1].summary
    assert (s.outcome, s.extra["reasonCode"], s.completedVideos) == ("cancelled", "prompt_changed", 0)
    assert "attempt 2 not sent: its request did not carry the session's prompt" in s.extra["reason"]
    ended = [line.message for line in runner.engine.session.logs if "not sent: its request" in line.message]
    assert len(ended) == 1 and ended[0].startswith("session cancelled")
    assert changed not in " ".join(line.message for line in runner.engine.session.logs)  # page text is not logged
