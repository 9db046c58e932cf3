"""The headless run (`grok-tui run --no-ui`): one session, its notices printed as JSON Lines, an exit code."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import signal
import sys
from typing import TYPE_CHECKING, Any, Callable, TextIO

from . import notices as n
from .engine import Phase
from .exitcodes import EXIT_CANCELLED, EXIT_CANNOT_START, EXIT_FAILURE, EXIT_SUCCESS
from .sanitize import strip_url

if TYPE_CHECKING:  # the run's own parts load when a run starts: `grok-tui sim`, `--help`, ... stay light
    from .settings import Settings
    from .store import StateStore

OUTCOME_EXIT = {"success": EXIT_SUCCESS, "failure": EXIT_FAILURE, "cancelled": EXIT_CANCELLED}


class JsonPrinter:
    """The `run` contract: one JSON object per line on stdout, each with an "event" key."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.refused: list[str] = []
        self.refused_event = asyncio.Event()  # set on the first refusal (the run cannot start)
        self.done = False

    def emit(self, obj: dict) -> None:
        if self.done:  # the summary is the last line
            return
        self.done = obj.get("event") == "summary"
        try:
            self.stream.write(json.dumps(obj, ensure_ascii=False) + "\n")
            self.stream.flush()
        except (BrokenPipeError, ValueError):
            pass

    def __call__(self, notice: n.Notice) -> None:
        """The runner's listener."""
        match notice:
            case n.LogLine(level="DEBUG") | n.SetTitle():
                pass
            case n.LogLine(at=at, level=level, message=message):
                self.emit({"event": "log", "at": iso(at), "level": level, "message": message})
            case n.AttemptStarted(record=r, media_id=media_id):
                self.emit({"event": "attempt", "attempt": r["attempt"], "retry": r["isRetry"], "mediaId": media_id})
            case n.ProgressChanged(record=r):
                self.emit({"event": "progress", "attempt": r["attempt"], "percent": r["maxProgress"]})
            case n.AttemptResolved(record=r):
                self.emit({"event": "outcome", **r})
            case n.PhaseChanged(phase=Phase.RETRY_WAIT, next_action=(label, due)):
                self.emit({"event": "retry", "next": label, "at": iso(due)})
            case n.PhaseChanged():
                pass
            case n.AwaitingPermission() as waiting:
                self.emit({"event": "waiting", "message": waiting.message})
            case n.Attached(info=info):
                self.emit({"event": "attached", **attach_fields(info)})
            case n.TabChanged(identity=identity):
                self.emit({"event": "tab", **tab_fields(identity)})
            case n.TabLost(reason=reason):
                self.emit({"event": "disconnected", "reason": reason})
            case n.TabsChanged():
                pass  # the tab picker's; a headless run keeps its tab
            case n.ClickPaused():
                pass  # the link logged why (a "log" line)
            case n.SignalStats(received=received, accepted=accepted, dropped=dropped):
                self.emit({"event": "signals", "received": received, "accepted": accepted, "dropped": dropped})
            case n.OptionsSeen(attempt=attempt, options=options):
                self.emit({"event": "options", "attempt": attempt, "options": options})
            case n.OptionsDiffer(attempt=attempt, changes=changes, blocked=blocked):
                self.emit({"event": "optionsChanged", "attempt": attempt, "changes": changes, "blocked": blocked})
            case n.DownloadFinished(result=result):
                self.emit(result.to_event())
            case n.DownloadStarted() | n.DownloadRetrying():
                pass  # the saved (or failed) file is the line
            case n.Refused(message=message):
                self.refused.append(message)
                self.refused_event.set()
                self.emit({"event": "refused", "message": message})
            case n.SessionEnded(summary=summary):
                self.emit({"event": "summary", **summary.to_dict(), **summary_additions(summary)})
            case n.JobStarted() | n.JobPaused() | n.JobEnded() | n.BatchChanged() | n.BatchNote() | n.BatchEnded():
                pass  # a batch's: grok_tui.batch_headless prints them


def summary_additions(summary: n.SessionSummary) -> dict:
    """What the summary line carries after the seed's fields: the saved videos, and why it stopped when that matters."""
    extra = summary.extra or {}
    out = {"downloads": int(extra.get("downloads", 0)), "downloadFailures": int(extra.get("downloadFailures", 0))}
    if extra.get("reasonCode"):
        out["reason"] = extra["reasonCode"]
    return out


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat(timespec="milliseconds")


def tab_fields(identity: n.TabIdentity) -> dict:
    """The tab's address (no query string), title and Grok ids, as the JSON lines name them."""
    out: dict[str, Any] = {"url": strip_url(identity.url), "title": identity.title}
    if identity.post_id is not None:
        out["postId"] = identity.post_id
    if identity.media_id is not None:
        out["mediaId"] = identity.media_id
    return out


def attach_fields(info: n.AttachInfo) -> dict:
    """The attached event: the browser, the endpoint used (host:port and how it was found), the tab."""
    endpoint = {"endpoint": info.endpoint} if info.endpoint else {}
    return {"browser": info.browser, **endpoint, **tab_fields(info.identity), "matched": info.matched}


def browser_link() -> Callable[..., Any]:
    """The real browser link's class (imported only when a run needs it)."""
    from .browser.link import BrowserLink

    return BrowserLink


async def run_headless(
    settings: Settings,
    store: StateStore,
    prompt: str | None,
    printer: JsonPrinter | None = None,
    link_factory: Callable[..., Any] | None = None,
) -> int:
    """Attach, run one session to its summary, and return the exit code for its outcome."""
    from .browser.cdp import BrowserError
    from .engine.events import UserCancel
    from .redact import redact
    from .runner import SessionRunner
    from .tablock import TabBusy

    printer = printer or JsonPrinter()
    runner = SessionRunner(settings, store, link_factory or browser_link(), listener=printer, interactive=False)
    try:
        await runner.attach()
    except (BrowserError, TabBusy) as exc:
        print(f"grok-tui: {redact(str(exc))}", file=sys.stderr)
        await runner.close()
        return EXIT_CANNOT_START
    finally:
        if not gc.isenabled():  # `grok-tui run` started without the collector: what it built stays for the run
            gc.freeze()
            gc.enable()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            loop.add_signal_handler(sig, runner.submit, UserCancel(f"interrupted by {sig.name}"))
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    runner.start_loop()
    try:
        await runner.start_session(prompt)
        # The start is refused at once (empty prompt) or the session runs to its summary.
        ended = asyncio.create_task(runner.ended.wait())
        refused = asyncio.create_task(printer.refused_event.wait())
        await asyncio.wait({ended, refused}, return_when=asyncio.FIRST_COMPLETED)
        ended.cancel()
        refused.cancel()
        if not runner.ended.is_set():
            print(f"grok-tui: {printer.refused[0]}", file=sys.stderr)
            return EXIT_CANNOT_START
        return OUTCOME_EXIT[runner.records[-1].summary.outcome]
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await runner.close()


__all__ = ["EXIT_CANCELLED", "EXIT_CANNOT_START", "EXIT_FAILURE", "EXIT_SUCCESS", "JsonPrinter", "run_headless"]
