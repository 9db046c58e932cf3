"""The generation-options guard: each generation request is held for one round trip and checked.

`Fetch.enable` with one pattern, the generation URL only: nothing else the tab
loads is paused. On `Fetch.requestPaused` the request body's options are read
(grok_tui.browser.options). A session's first attempt records them; a later
attempt whose options differ is failed before it leaves the browser
(`Fetch.failRequest`: no credit spent), unless changes are allowed, then it only
warns. A request whose body is JSON with a string `message` that does not contain the running
attempt's prompt (normalised as the click compares the editor's text) is failed too, and the session
stops (PromptBlocked): the click's last check of the editor comes a few ms before its press, and
this is the wire-level net behind that gap. Containment, not equality: Grok's `message` may carry
more than the prompt; a body without one passes. Every other request is continued unchanged (`Fetch.continueRequest` with
no overrides: the body is never rewritten). Whatever happens in between, a
paused request is always continued or failed: never left hanging.
"""

from __future__ import annotations

import json

from ..engine.events import PromptBlocked
from .attempts import AttemptBoard
from .cdp import BrowserError, CdpSession, log
from .network import is_generation
from .observer import GENERATION_PATH
from .options import describe, diff, options_of, summary
from .page import Page, norm_text
from .signals import OptionsDiffer, OptionsSeen

PATTERN = {"urlPattern": f"*{GENERATION_PATH}*", "requestStage": "Request"}


class OptionsGuard:
    def __init__(self, page: Page, board: AttemptBoard, *, allow_change: bool = False):
        self.page, self.board = page, board
        self.allow_change = allow_change
        self.first: dict | None = None  # the session's first attempt's options
        self.first_attempt_seen = False
        self.paused = 0  # requests paused since attach (for tests and the bench)

    def register(self, s: CdpSession) -> None:
        # Judged and answered on the receive thread as the pause arrives: not behind the events queued
        # for the event thread, and that thread is not held while Chrome takes the answer in.
        s.on_arrival("Fetch.requestPaused", lambda p: self._on_paused(s, p))

    def setup(self, s: CdpSession, timeout: float) -> None:
        s.call("Fetch.enable", timeout=timeout, patterns=[PATTERN])

    def teardown(self, s: CdpSession) -> None:
        try:
            s.call("Fetch.disable", timeout=1.0)
        except BrowserError as exc:
            log.debug("Fetch.disable failed: %s", exc)

    # ------------------------------------------------------------------ the paused request

    def _on_paused(self, s: CdpSession, p: dict) -> None:
        rid = p.get("requestId")
        if not isinstance(rid, str):
            return
        self.paused += 1
        verdict = "continue"
        try:
            verdict = self._judge(p)
        except Exception:  # a bug here must never strand the request
            log.error("options guard failed; the request goes on unchanged", exc_info=True)
            verdict = "continue"
        finally:
            self._answer(s, rid, verdict)

    def _answer(self, s: CdpSession, rid: str, verdict: str) -> None:
        try:
            # Not behind the click's own call: its mouse events are answered only once the page's click
            # handler (which made this request) has run, and this request waits for us meanwhile. Its
            # answer is not waited for (an error one is a DEBUG line): this is the receive thread.
            if verdict == "fail":
                s.send_now("Fetch.failRequest", requestId=rid, errorReason="BlockedByClient")
            else:
                s.send_now("Fetch.continueRequest", requestId=rid)
        except BrowserError as exc:
            # Gone with the connection: Chrome lets the request go when the client detaches.
            log.debug("answering paused request %s failed: %s", rid, exc)

    def _judge(self, p: dict) -> str:
        req = p.get("request") or {}
        if not isinstance(req, dict) or req.get("method") != "POST" or not is_generation(str(req.get("url", ""))):
            return "continue"
        body = req.get("postData")
        if body is None and isinstance(req.get("postDataEntries"), list):
            import base64

            parts = [e.get("bytes") for e in req["postDataEntries"] if isinstance(e, dict)]
            try:
                body = b"".join(base64.b64decode(x) for x in parts if isinstance(x, str))
            except (ValueError, TypeError):
                body = None
        try:
            doc = json.loads(body) if body is not None else None
        except (ValueError, UnicodeDecodeError):
            doc = None
        options = options_of(doc) if doc is not None else None
        with self.board.lock:
            attempt, prompt = self.board.attempt, self.board.prompt
        if attempt is None:
            return "continue"  # not one of our clicks
        missing = prompt_missing(doc, prompt)
        if missing is not None:
            log.warning("generation request of attempt %s failed before it left the browser: %s", attempt, missing)
            self.board.emit_attempt(PromptBlocked(attempt, missing))
            return "fail"
        if attempt == 1 or not self.first_attempt_seen:
            self.first, self.first_attempt_seen = options, True
            self.board.emit_attempt(OptionsSeen(attempt, dict(options) if options else None))
            log.debug("session options: %s", summary(options))
            return "continue"
        if self.first is None:
            return "continue"  # the first request carried no options: nothing to keep
        changes = diff(self.first, options)
        if not changes:
            return "continue"
        text = describe(changes)
        blocked = not self.allow_change
        self.board.emit_attempt(OptionsDiffer(attempt, text, blocked, dict(options) if options else None))
        return "fail" if blocked else "continue"


def prompt_missing(doc: object, prompt: str | None) -> str | None:
    """Why a generation request body (`doc`, parsed JSON) does not carry `prompt`, in words; None when its
    `message` contains it (after norm_text, the prompt's ends trimmed), or there is nothing to compare (no
    prompt known, no JSON object, no string `message`). Text of the page is never put in the answer."""
    if prompt is None or not isinstance(doc, dict):
        return None
    message = doc.get("message")
    if not isinstance(message, str):
        return None
    want, got = norm_text(prompt).strip(), norm_text(message)
    if want in got:
        return None
    import unicodedata  # only here: a start-up without a mismatch never loads it

    if unicodedata.normalize("NFC", want) in unicodedata.normalize("NFC", got):
        return None
    return f"the request's message ({len(got)} chars) does not contain the prompt ({len(want)} chars)"
