"""The engine's side of the generation-options guard (issue 13): pause for the user, or end cancelled."""

from __future__ import annotations

from grok_tui.engine import Phase
from grok_tui.engine.events import ClickSent, OptionsBlocked, Refused, RetryNow, SessionEnded, StartSession, VideoModerated

from test_engine import Driver


def moderated_then_blocked(pause: bool) -> Driver:
    d = Driver(goal=1, retries=3, cooldown_s=8)
    d.send(StartSession("a fox"))
    d.send(ClickSent(1), 0.1)
    d.send(VideoModerated(1, 40), 5)
    d.wait(8)
    assert [c.attempt for c in d.clicks()] == [1, 2]
    assert d.engine.session.retry_count == 1
    d.send(ClickSent(2), 0.1)
    d.send(OptionsBlocked(2, "video length 10 → 6", pause=pause), 0.01)
    return d


def test_blocked_retry_pauses_without_spending_a_retry_or_credit():
    d = moderated_then_blocked(pause=True)
    e = d.engine
    assert e.phase == Phase.MANUAL_WAIT
    assert e.current.outcome == "blocked"
    assert e.session.retry_count == 0 and e.session.credits_used == 1
    assert e.next_deadline() is None  # no timeout, no click: it waits for the user
    assert any("video length 10 → 6" in line.message and "press s" in line.message for line in e.session.logs)
    # the user sets the option back and presses s: the retry goes out (after the cooldown)
    d.send(RetryNow(), 20)
    assert [c.attempt for c in d.clicks()] == [1, 2, 3]
    assert d.clicks()[-1].is_retry and e.session.retry_count == 1
    assert not [c for c in d.commands if isinstance(c, SessionEnded)]


def test_blocked_in_a_headless_run_ends_cancelled_with_the_reason():
    d = moderated_then_blocked(pause=False)
    [ended] = [c for c in d.commands if isinstance(c, SessionEnded)]
    s = ended.summary
    assert s.outcome == "cancelled" and s.extra["reasonCode"] == "options_changed"
    assert "video length 10 → 6" in s.extra["reason"]
    assert (s.creditsUsed, s.retriesAttempted) == (1, 0)
    assert "reasonCode" not in s.to_dict()  # the seed's summary is unchanged


def test_a_stale_or_unknown_block_is_ignored():
    d = Driver()
    d.send(StartSession("a fox"))
    d.send(OptionsBlocked(7, "mode normal → fun"))
    assert d.engine.phase == Phase.CLICKING
    d.send(RetryNow())
    assert isinstance(d.commands[-1], Refused)


# ---------------------------------------------------------------- the prompt net (issue 15's check sent ahead)


def test_a_request_without_the_prompt_ends_the_session_cancelled_with_no_retry_or_credit_spent():
    from grok_tui.engine.events import PromptBlocked

    d = Driver(goal=1, retries=3, cooldown_s=8)
    d.send(StartSession("a fox"))
    d.send(ClickSent(1), 0.1)
    d.send(VideoModerated(1, 40), 5)
    d.wait(8)
    d.send(ClickSent(2), 0.1)
    d.send(PromptBlocked(2, "the request's message (5 chars) does not contain the prompt (5 chars)"), 0.01)
    [ended] = [c for c in d.commands if isinstance(c, SessionEnded)]
    s = ended.summary
    assert (s.outcome, s.extra["reasonCode"], s.creditsUsed, s.retriesAttempted) == ("cancelled", "prompt_changed", 1, 0)
    assert d.engine.current.outcome == "blocked" and d.engine.next_deadline() is None
    lines = [line.message for line in d.engine.session.logs if "did not carry the session's prompt" in line.message]
    assert len(lines) == 1 and lines[0].startswith("session cancelled: attempt 2 not sent")


def test_a_stale_prompt_block_is_ignored():
    from grok_tui.engine.events import PromptBlocked

    d = Driver()
    d.send(StartSession("a fox"))
    d.send(ClickSent(1), 0.1)
    d.send(PromptBlocked(7, "x"))  # not the attempt in flight
    d.send(PromptBlocked(1, "x", session=d.engine.session_no + 5))  # another session's
    assert d.engine.phase.active and not [c for c in d.commands if isinstance(c, SessionEnded)]


def test_the_guard_fails_only_a_message_that_does_not_contain_the_prompt():
    from grok_tui.browser.guard import prompt_missing

    prompt = "a red fox,\nslow motion — 日本 🎬"
    assert prompt_missing({"message": prompt}, prompt) is None
    assert prompt_missing({"message": prompt + "\n"}, prompt) is None
    assert prompt_missing({"message": prompt.replace("\n", "\r\n")}, prompt) is None
    assert prompt_missing({"message": f"[mode: normal] {prompt} --ar 16:9"}, prompt) is None  # more than the prompt
    assert prompt_missing({"message": prompt.strip()}, f"  {prompt}  ") is None
    assert prompt_missing({"message": "e\u0301"}, "\u00e9") is None  # the same text, composed otherwise
    # nothing to compare: no field, not a string, not an object, no prompt known
    for doc in ({}, {"message": None}, {"message": ["x"]}, ["x"], None, "x"):
        assert prompt_missing(doc, prompt) is None, doc
    assert prompt_missing({"message": "x"}, None) is None
    why = prompt_missing({"message": "something the user typed"}, prompt)
    assert why is not None and "user typed" not in why  # says how, not what the page held
    assert prompt_missing({"message": prompt[:-3]}, prompt) is not None
