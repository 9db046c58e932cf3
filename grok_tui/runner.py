"""Drives a session: browser signals -> engine -> commands -> browser actions, and notices out.

No Textual here. The runner lives on an asyncio loop; the browser link's
threads hand it events with `submit()`. Timers are deadlines: the loop sleeps
until the engine's next deadline or the next event, whichever comes first.
What happens is told to the one `listener` given at construction (the UI or the
headless printer) as notices (grok_tui.notices). The engine is changed only
through events it handles (Restore, SetTimings, Configure, ...).
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .browser.options import summary as options_summary
from .browser.signals import (
    AttachInfo,
    Attached,
    AwaitingPermission,
    ClickPaused,
    Handoff,
    LinkEvent,
    LinkLog,
    OptionsDiffer,
    OptionsSeen,
    PageNotice,
    SignalStats,
    TabChanged,
    TabLost,
    TabsChanged,
    VideoUrl,
)
from . import heap
from .engine import PersistentData, SessionEngine
from .engine.events import (
    AttemptProgress,
    BrowserLost,
    ClickFailed,
    ClickMakeVideo,
    Event,
    LogLine,
    OptionsBlocked,
    Refused,
    Restore,
    RouteChanged,
    SessionEnded,
    SetTimings,
    SetTitle,
    StartSession,
    UserCancel,
)
from .notices import AttemptResolved, AttemptStarted, Listener, PhaseChanged, ProgressChanged, ignore
from .redact import redact
from .saving import SessionSaves
from .settings import GROK_MIN_PACE_S, Settings, is_local_url
from .store import StateStore, open_append
from .tablock import TabBusy, TabLock, me

MAX_LOG_LINES = 200
MAX_PAGE_NOTICES = 20  # unique page notices logged per session; the rest are counted
MAX_BACKLOG = 500  # link events of lesser weight waiting for the loop; beyond it they are dropped and counted
PREPARE_MIN_S = 0.03  # a click due sooner than this is not prepared: it does everything itself at the deadline
# asyncio's timers wake ~1.4 ms late (epoll counts whole milliseconds). For a planned click the loop wakes
# this much early and waits out the rest in short sleeps, taking in events as they come.
PRECISE_S = 0.003
PRECISE_STEP_S = 0.0002
# The GIL switch interval while a runner's loop runs. An event passes three threads (the CDP receive
# thread, the event thread, this loop) and a click a fourth (its worker): at Python's default 5 ms, a
# thread woken while another runs Python can wait up to 5 ms for the GIL at each hop.
SWITCH_INTERVAL_S = 0.0005
# Latest wins: a newer one of these replaces the one still waiting (a page can emit them in a loop).
COALESCED: tuple[type, ...] = (TabChanged, RouteChanged, SignalStats)
# Dropped first when the loop falls behind; outcomes, clicks and disconnects never are.
DROPPABLE: tuple[type, ...] = (LinkLog, PageNotice, AttemptProgress)


@dataclass(frozen=True)
class _Latest:
    """Queue marker: process the newest waiting event of this kind."""

    kind: type


class CaptureError(Exception):
    """The page's editor could not give a prompt; the message is one sentence for the user."""


@dataclass
class LogBook:
    """The last 200 lines in memory; every line of the session in a file (for export)."""

    directory: Path | None = None
    lines: deque = field(default_factory=lambda: deque(maxlen=MAX_LOG_LINES))
    path: Path | None = None
    _fh: Any = None

    def new_session(self, started_at: float) -> None:
        self.close()
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started_at))
        self.path = self.directory / f"session-{stamp}-{int(started_at * 1000) % 1000:03d}.log"
        fd = open_append(self.path)  # never through a planted symlink
        self._fh = os.fdopen(fd, "a", encoding="utf-8", buffering=1)

    def add(self, line: LogLine) -> LogLine:
        line = LogLine(line.at, line.level, redact(line.message))
        self.lines.append(line)
        self.write(line)
        return line

    def write(self, line: LogLine) -> None:
        if self._fh is not None:
            try:
                self._fh.write(redact(line.format()) + "\n")
            except OSError:
                pass

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError:
                pass
            self._fh = None


class SessionRunner:
    """One tab, one engine. Create, `await attach()`, `start_loop()`, then `submit()` events."""

    def __init__(
        self,
        settings: Settings,
        store: StateStore,
        link_factory: Callable[..., Any],
        *,
        listener: Listener = ignore,
        clock: Callable[[], float] = time.time,
        interactive: bool = True,
        on_busy: str = "fail",
    ) -> None:
        self.settings = settings
        # Another grok-tui holds the tab: "fail" raises TabBusy (headless), "watch" attaches read-only (UI).
        self.on_busy = on_busy
        self.read_only: str | None = None  # why this runner only watches, when it does
        self._tab_lock: TabLock | None = None
        self._page_url: str | None = None
        self._last_click_at: float | None = None
        self._last_resolved_at: float | None = None
        self._notices: set[str] = set()
        self._notices_dropped = 0
        self._inbox = threading.Lock()
        self._latest: dict[type, Handoff] = {}
        self._backlog = 0
        self.coalesced = 0  # events replaced by a newer one of their kind before the loop saw them
        self.dropped = 0  # events dropped because the loop was MAX_BACKLOG behind
        self.store = store
        self.link_factory = link_factory
        self.listener = listener  # told once, at construction: never swapped
        self.clock = clock
        self.link: Any = None
        self.info: AttachInfo | None = None
        self.engine = SessionEngine(
            PersistentData(
                max_retries=settings.max_retries,
                video_goal=settings.video_goal,
                auto_retry_enabled=settings.auto_retry,
            ),
            settings.timings(),
        )
        self.logbook = LogBook(store.directory / "logs")
        self.attached = False
        self.closed = False
        self.records: list[SessionEnded] = []
        self.record_extra: dict = {}  # more keys for the history record (a batch's "batch" and "job")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Handoff | _Latest | None] | None = None
        self._task: asyncio.Task | None = None
        self._reconnect_task: asyncio.Task | None = None
        self._tab_back = asyncio.Event()  # a matching tab showed up while the link was lost
        self._phase = self.engine.phase
        self._prepared_due: float | None = None  # the planned click the link was asked to get ready
        self._ahead_for: tuple[int | None, int] | None = None  # (session, attempt) whose check went ahead
        self._click_inflight: asyncio.Task | None = None  # the last click's task (a title waits for it)
        self._next_action = None
        self._last_progress: dict[int, int] = {}
        self._clicks: set[asyncio.Task] = set()
        self._announced: int | None = None
        self.ended = asyncio.Event()
        self.interactive = interactive  # a blocked request pauses for the user (else it ends the session)
        self.session_options: dict | None = None  # the first attempt's generation options
        self.saves = SessionSaves(settings, self._fetch_video, emit=listener, log=self._log, clock=clock)
        self._finishing: asyncio.Task | None = None
        self._restored_for: str | None = None
        self._restore(None)  # the last used settings until a post is attached

    def _restore(self, post_id: str | None) -> None:
        """Load the stored settings for `post_id` (else the last used) through the engine."""
        self._restored_for = post_id
        stored = self.store.restore_for(post_id, self.settings)
        if stored is not None:
            self._execute(self.engine.handle(Restore(stored), self.clock()))

    # ------------------------------------------------------------ wiring

    def _emit_from_link(self, item: Handoff) -> None:
        """The link's `emit`, called on its threads."""
        if isinstance(item, AwaitingPermission) and self._loop is not None:
            # Said while attach() still waits for Chrome, before the loop runs: straight to the listener.
            self._loop.call_soon_threadsafe(self.listener, item)
            return
        self.submit(item)

    def submit(self, item: Handoff) -> None:
        """Thread-safe: hand an engine event (the user's, the link's) or a link event to the loop.

        Bounded: route/tab/stats events are coalesced (latest wins) and at most MAX_BACKLOG
        lesser events (logs, notices, progress) wait; the excess is dropped and counted.
        """
        queued: Handoff | _Latest = item
        with self._inbox:
            if isinstance(item, COALESCED):
                kind = type(item)
                waiting = kind in self._latest
                self._latest[kind] = item
                if waiting:
                    self.coalesced += 1
                    return
                queued = _Latest(kind)
            elif isinstance(item, DROPPABLE):
                if self._backlog >= MAX_BACKLOG:
                    self.dropped += 1
                    return
                self._backlog += 1
        self._put(queued)

    def wake(self) -> None:
        """Thread-safe: re-check the engine's deadlines now (after a test's fake clock moved)."""
        self._put(None)

    def _put(self, item: Handoff | _Latest | None) -> None:
        loop, queue = self._loop, self._queue
        if loop is None or queue is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:
            pass  # loop closing

    async def switch_tab(self, target_id: str) -> AttachInfo | None:
        """Attach to another matching tab; only between sessions (a session keeps its tab)."""
        if self.engine.phase.active:
            self.listener(Refused("A session is running on this tab; cancel it before switching tabs."))
            return None
        return await self.attach(target_id)

    async def list_tabs(self) -> list[dict]:
        if self.link is None:
            return []
        return await asyncio.to_thread(self.link.list_tabs)

    async def attach(self, target_id: str | None = None) -> AttachInfo:
        """Attach to the tab (blocking CDP work in a thread). Raises the link's BrowserError."""
        self._loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
        # A re-attach reuses the link: it keeps the attempt in flight and what it has already seen.
        extra = {"selectors": self.settings.selectors} if self.settings.selectors else {}
        if self.settings.allow_option_change:
            extra["allow_option_change"] = True
        wait = getattr(self.settings, "permission_wait_s", None)
        if wait is not None:
            extra["permission_wait_s"] = wait
        link = self.link or self.link_factory(
            host=self.settings.cdp_host,
            port=self.settings.cdp_port,
            endpoint=self.settings.endpoint_spec(),
            tab_match=self.settings.tab,
            emit=self._emit_from_link,
            tab_wait_s=self.settings.tab_wait_s,
            owner=me(),
            **extra,
        )
        self.link = link
        target_id = target_id or (self._tab_lock.target_id if self._tab_lock else None)
        begin, end = getattr(link, "begin_attach", None), getattr(link, "end_attach", None)
        if begin is not None:
            begin()  # one deadline for the tab list, the lock and the attach
        try:
            target_id, several = await self._claim(link, target_id)
            try:
                try:
                    info = await self._attach_link(link, target_id)
                except TabBusy as busy:  # another grok-tui, maybe on another machine, marked the page as its own
                    if self.on_busy != "watch":
                        raise
                    self._release_lock()
                    self.read_only = str(busy).split(";")[0] + "; watching read-only."
                    info = await self._attach_link(link, target_id)
            except BaseException:
                if self._tab_lock is not None and self._tab_lock.target_id == target_id and not self.attached:
                    self._release_lock()
                raise
        finally:
            if end is not None:
                end()
        self.link, self.info, self.attached = link, info, True
        self._apply_pace(info.identity.url)
        post_id, _ = self.identity()
        if post_id and post_id != self._restored_for and not self.engine.phase.active:
            self._restore(post_id)
        self.listener(Attached(info))
        if several > 1:
            self._log("WARN", f"{several} tabs match {self.settings.tab!r}; using the first: {info.identity.url}")
        return info

    async def _attach_link(self, link: Any, target_id: str | None) -> Any:
        if self.read_only:
            return await asyncio.to_thread(functools.partial(link.attach, target_id, watch_only=True))
        return await (asyncio.to_thread(link.attach, target_id) if target_id else asyncio.to_thread(link.attach))

    async def _claim(self, link: Any, target_id: str | None) -> tuple[str | None, int]:
        """Lock the tab before anything is installed on it: one controller per tab.

        Returns the target to attach to and, when it was picked here, how many tabs matched."""
        several = 0
        if target_id is None:
            if not hasattr(link, "list_tabs"):
                return None, 0
            tabs = await asyncio.to_thread(link.list_tabs)
            if not tabs:
                return None, 0  # attach() says there is no matching tab, in its own words
            target_id, several = str(tabs[0]["id"]), len(tabs)
        if self._tab_lock is not None and self._tab_lock.target_id == target_id:
            return target_id, several
        try:
            lock = TabLock.acquire(self.store.directory / "locks", target_id)
        except TabBusy as busy:
            if self.on_busy != "watch":
                raise
            self._release_lock()
            self.read_only = str(busy).split(";")[0] + "; watching read-only."
            return target_id, several
        except OSError as exc:
            raise TabBusy(target_id, {"pid": "?", "command": f"lock folder unusable: {exc.strerror or exc}"}) from None
        self._release_lock()
        self._tab_lock, self.read_only = lock, None
        return target_id, several

    def _release_lock(self) -> None:
        lock, self._tab_lock = self._tab_lock, None
        if lock is not None:
            lock.release()

    def _apply_pace(self, url: str | None) -> None:
        """The pacing floor follows the page: computed on every attach and route change (and at each click)."""
        if not url:
            return
        self._page_url = url
        before, timings = self.engine.timings, self.settings.timings(url)
        note = ""
        if timings.cooldown_s > before.cooldown_s and timings.cooldown_s > self.settings.cooldown_s:
            note = f"the page is not local: cooldown and next-video delay raised to {timings.cooldown_s:g} s"
        self._execute(self.engine.handle(SetTimings(timings, note), self.clock()))

    def _floor_applies(self) -> bool:
        """The 8 s floor can hold a click: the page is not local and the engine's own timings are below it."""
        if not self._page_url or is_local_url(self._page_url):
            return False
        t = self.engine.timings
        # at or above the floor, the engine already paces this page at it (from its clock)
        return not (t.cooldown_s >= GROK_MIN_PACE_S and t.next_video_delay_s >= GROK_MIN_PACE_S)

    def _click_floor_wait(self) -> float:
        """Seconds this click must still wait: against a non-local page, never within 8 s of the last click or outcome."""
        if not self._floor_applies():
            return 0.0
        marks = [t for t in (self._last_click_at, self._last_resolved_at) if t is not None]
        return max(0.0, max(marks) + GROK_MIN_PACE_S - self.clock()) if marks else 0.0

    def start_loop(self) -> asyncio.Task:
        self._loop = asyncio.get_running_loop()
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)  # the process's, for good: never raised again
        if self._queue is None:
            self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="grok-tui-runner")
        return self._task

    async def close(self, reason: str = "grok-tui was closed") -> None:
        """Stop. A session still running is ended `cancelled` and recorded first: nothing is lost."""
        if self.engine.phase.active and not self.closed:
            self._execute(self.engine.handle(UserCancel(reason), self.clock()))
        self.closed = True
        if self._reconnect_task:
            self._reconnect_task.cancel()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        link, self.link = self.link, None
        if self._finishing is not None:  # the session's last saves, then its record
            try:
                await asyncio.wait_for(asyncio.shield(self._finishing), 30.0)
            except (asyncio.TimeoutError, TimeoutError, asyncio.CancelledError, Exception):
                pass
        if link is not None:
            try:
                await asyncio.to_thread(link.close)
            except Exception:  # the browser may already be gone; closing is best effort
                pass
        self._release_lock()
        self.logbook.close()

    # ------------------------------------------------------------ user intents

    async def capture_prompt(self) -> str:
        """The page editor's text as it is ("" when not attached)."""
        if self.link is None:
            return ""
        return await asyncio.to_thread(self.link.capture_prompt)

    async def page_prompt(self) -> str:
        """The page editor's text, to use as the prompt. Raises CaptureError (one sentence) when there is none."""
        if self.link is None:
            raise CaptureError("Not attached to Chrome: nothing to capture.")
        try:
            text = await self.capture_prompt()
        except Exception as exc:  # the link's BrowserError
            raise CaptureError(f"Could not read the page: {exc}") from None
        if not (text or "").strip():
            raise CaptureError("The page's editor is empty.")
        return text

    def identity(self) -> tuple[str | None, str | None]:
        """(post id, source image id) of the attached tab, as last known."""
        if self.info is None:
            return None, None
        return self.info.identity.post_id, self.info.identity.media_id

    @property
    def running(self) -> bool:
        """The session loop runs (between start_loop() and close())."""
        return self._task is not None and not self._task.done()

    async def start_session(self, prompt: str | None = None, **kw: Any) -> None:
        """Start with `prompt`, else the page's editor text, else the stored last prompt."""
        if self.read_only:
            self.listener(Refused(self.read_only.replace("watching read-only.", "this window only watches.")))
            return
        if self.engine.phase.active:  # the engine says no at once; no need to ask the page first
            self.submit(StartSession(prompt or "", **kw))
            return
        if not self.attached:
            self.listener(Refused("Not attached to Chrome: a session needs the Grok tab."))
            return
        if prompt is None:
            try:
                prompt = await self.capture_prompt()
            except Exception:
                prompt = ""
            if not (prompt or "").strip():
                prompt = self.engine.persistent.last_prompt_value
        post_id, media_id = self.identity()
        url = getattr(getattr(self.info, "identity", self.info), "url", None)
        if self.link is not None:
            try:  # the page as it is once loaded: the session binds to its site and source image
                read = getattr(self.link, "session_identity", None) or self.link.identity
                ident = await asyncio.to_thread(read)
                post_id = getattr(ident, "post_id", None) or post_id
                media_id = getattr(ident, "media_id", None) or media_id
                url = getattr(ident, "url", None) or url
            except Exception:
                pass
            if hasattr(self.link, "bind_session") and not self.engine.phase.active:
                # the session's page: every prompt write and click checks the tab still shows it
                self.link.bind_session(url, media_id)
        self.submit(StartSession(prompt or "", post_id=post_id, media_id=media_id, **kw))

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        spun_for: float | None = None
        while not self.closed:
            deadline = self.engine.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - self.clock())
            precise = timeout is not None and deadline == self.engine.planned_click and deadline != spun_for
            lead = self._check_lead() if precise else 0.0
            try:
                if timeout is None:
                    item = await queue.get()
                else:
                    item = await asyncio.wait_for(queue.get(), max(0.0, timeout - PRECISE_S - lead) if precise else timeout)
            except (asyncio.TimeoutError, TimeoutError):
                item = None
                if precise:
                    item = await self._until(deadline, lead)
                    if item is None:
                        spun_for = deadline  # once per deadline (a test's clock may stop just short of it)
            try:
                self._process(item)
                # drain whatever else is already waiting, without sleeping
                while not queue.empty():
                    self._process(queue.get_nowait())
            except Exception as exc:  # never let one bad event kill the session loop
                self._log("ERROR", f"internal error while handling {type(item).__name__}: {exc!r}")

    async def _until(self, deadline: float, lead: float = 0.0) -> Handoff | _Latest | None:
        """Wait for a planned click's `deadline` (at most PRECISE_S + `lead` more, in real time) in short sleeps,
        the loop taking in what arrives meanwhile: the first event waiting, else None once it is due.

        `lead` before it, the link sends the prepared click's check ahead (its answer is in by the deadline);
        the click itself still waits for the engine, at the deadline."""
        assert self._queue is not None
        queue = self._queue
        give_up = time.monotonic() + PRECISE_S + lead + 0.001  # a test's clock that does not move holds nothing up
        while queue.empty():
            left = deadline - self.clock()
            if left <= lead and lead > 0:
                self._check_ahead(self.engine.session_no, self.engine.attempt_no + 1)
            if left <= 0 or time.monotonic() >= give_up:
                return None
            time.sleep(min(left - lead if left > lead else left, PRECISE_STEP_S))  # the GIL is free meanwhile
            await asyncio.sleep(0)  # events handed over from other threads land in the queue
        return queue.get_nowait()

    def _check_lead(self) -> float:
        """How long before a planned click's deadline the link wants its check sent (0: none goes ahead: the
        click checks at the deadline, as it does when a pacing floor may hold it)."""
        lead = getattr(self.link, "check_lead", None)
        if lead is None or not self.attached or self.read_only or self._floor_applies():
            return 0.0
        try:
            return max(0.0, float(lead()))
        except Exception:
            return 0.0

    def _check_ahead(self, session: int | None, attempt: int) -> None:
        """Once per click no pacing floor holds: let the link send the prepared click's check now (non-blocking).
        Only the check: the click goes when the engine says."""
        key = (session, attempt)
        if self._ahead_for == key:
            return
        self._ahead_for = key
        ahead = getattr(self.link, "check_ahead", None)
        if ahead is None or not self.attached or self.read_only:
            return
        try:
            ahead(session, attempt)
        except Exception as exc:
            self._log("DEBUG", f"check ahead failed: {exc}")

    def _process(self, queued: Handoff | _Latest | None) -> None:
        now = self.clock()
        item: Handoff | None
        with self._inbox:
            if isinstance(queued, _Latest):
                item = self._latest.pop(queued.kind, None)
            else:
                item = queued
                if isinstance(item, DROPPABLE):
                    self._backlog -= 1
        match item:
            case None:  # a deadline came due (or a wake-up)
                commands = self.engine.advance(now)
            case (
                Attached() | LinkLog() | PageNotice() | ClickPaused() | TabChanged() | TabLost() | SignalStats()
                | AwaitingPermission() | TabsChanged() | VideoUrl() | OptionsSeen() | OptionsDiffer()
            ):
                self._on_link_event(item)
                commands = self.engine.advance(now)
            case _:
                before = self._snapshot_current()
                if isinstance(item, StartSession):
                    self._last_progress.clear()
                    self._announced = None  # attempt numbers start again at 1 in every session
                    self._notices.clear()
                    self._notices_dropped = 0
                commands = self.engine.handle(item, now)
                self._after_event(item, before)
        self._execute(commands)
        self._check_phase()

    def _snapshot_current(self) -> tuple[int | None, str | None]:
        a = self.engine.current
        return (a.number, a.outcome) if a else (None, None)

    def _after_event(self, event: Event, before: tuple[int | None, str | None]) -> None:
        a = self.engine.current
        if a is None:
            return
        if isinstance(event, AttemptProgress) and not a.resolved and a.number == before[0]:
            pct = int(a.max_progress)
            if self._last_progress.get(a.number) != pct:
                self._last_progress = {a.number: pct}  # only the attempt in flight matters
                self.listener(ProgressChanged(a.to_dict()))

    def _execute(self, commands: list) -> None:
        ended: list[SessionEnded] = []
        # Clicks first: one that no pacing floor holds goes to its thread now (_spawn_click decides), so the
        # log lines and notices of this step (written to a file, drawn by the app) are no part of its time.
        for cmd in commands:
            if isinstance(cmd, ClickMakeVideo):
                self._spawn_click(cmd)
        for cmd in commands:
            match cmd:
                case LogLine():
                    self.listener(self.logbook.add(cmd))
                case ClickMakeVideo():
                    if cmd.attempt == 1:
                        self._open_session_log()
                        self._new_saves()
                    self.listener(AttemptStarted(self.engine.current.to_dict(), cmd.media_id))
                case SetTitle():
                    self.listener(cmd)
                    if self.link is not None and self.attached:  # after a click in flight: never in its way
                        self._spawn(self.link.set_title, cmd.text, after=self._click_inflight)
                case SessionEnded():
                    ended.append(cmd)
                case Refused():
                    self.listener(cmd)
        # an attempt that resolved in this step is announced before the session's end
        a = self.engine.current
        if a is not None and a.resolved and self._announced != a.number:
            self._announced = a.number
            self._last_resolved_at = self.clock()
            self.listener(AttemptResolved(a.to_dict()))
            if a.outcome == "success":
                self.saves.on_success(a.number, a.video_id, self.engine.session.retry_count)
            # The attempt's CDP traffic left free C-heap memory that glibc keeps (one arena per thread): give it
            # back, off the loop (grok_tui/heap.py). Without this a 1,000-attempt session's RSS grew ~3 MB more.
            self._spawn(heap.trim)
        if ended and self.link is not None and hasattr(self.link, "session_ended"):
            self.link.session_ended()  # a click still waiting for its page or for a cover never happens now
        for cmd in ended:
            self._record(cmd)

    def _open_session_log(self) -> None:
        """Every line of this session goes to its own file (the full log for export)."""
        try:
            self.logbook.new_session(self.engine.started_at or self.clock())
        except OSError as exc:  # the session goes on; only its log file is missing
            self.logbook.path = None
            self._log("ERROR", f"could not open the session log file: {exc.strerror or exc}")
            return
        for line in self.engine.session.logs:
            self.logbook.write(line)

    def _check_phase(self) -> None:
        phase, nxt = self.engine.phase, self.engine.next_action
        if phase != self._phase or nxt != self._next_action:
            self._phase, self._next_action = phase, nxt
            self.listener(PhaseChanged(phase, nxt))
        self._prepare_next_click()

    def _prepare_next_click(self) -> None:
        """A click waits for its cooldown: let the link get it ready (prompt written, button found) meanwhile.

        The engine still decides when the click happens; at the deadline only a check and the mouse events are left.
        """
        due = self.engine.planned_click
        if due is None or due == self._prepared_due:
            return
        self._prepared_due = due
        link = self.link
        prepare = getattr(link, "prepare_click", None)
        if prepare is None or not self.attached or self.read_only or due - self.clock() < PREPARE_MIN_S:
            return
        e = self.engine
        self._spawn(prepare, e.prompt, e.session_no, e.attempt_no + 1, getattr(link, "click_epoch", None))

    def _new_saves(self) -> None:
        self.session_options = None
        e = self.engine
        self.saves.new_session(
            prompt=e.prompt,
            post_id=e.post_id,
            media_id=e.persistent.original_media_id,
            started_at=e.started_at or self.clock(),
            can_fetch=callable(getattr(self.link, "fetch_video", None)),
        )

    def _fetch_video(self, url: str):
        """Read a video through the browser's own session (the link's fetcher)."""
        from .downloads import DownloadError

        fetch = getattr(self.link, "fetch_video", None)
        if fetch is None or not self.attached:
            raise DownloadError("the browser is not attached")
        return fetch(url)

    def _record(self, ended: SessionEnded) -> None:
        """Record the ended session; its videos still being saved are waited for first (the summary counts them)."""
        if self.saves.pending:
            self._finishing = asyncio.get_running_loop().create_task(self._finish_and_record(ended))
            return
        self._record_now(ended)

    async def _finish_and_record(self, ended: SessionEnded) -> None:
        try:
            await self.saves.finish()
        finally:
            self._record_now(ended)

    def _record_now(self, ended: SessionEnded) -> None:
        summary = ended.summary
        summary.extra["downloads"] = self.saves.saved
        summary.extra["downloadFailures"] = self.saves.failed
        if self.session_options is not None:
            summary.extra["options"] = self.session_options
        post_id, _ = self.identity()
        if self._notices_dropped:
            self._log("INFO", f"{self._notices_dropped} more page notices were not logged (at most {MAX_PAGE_NOTICES} per session)")
        try:
            self.store.append_history(
                summary,
                prompt=self.engine.prompt,  # exactly as sent (the History screen groups by it)
                postId=post_id,
                logPath=str(self.logbook.path) if self.logbook.path else None,
                attemptsDetail=[a.to_dict() for a in self.engine.session.attempt_progress],
                **self.record_extra,
            )
        except OSError as exc:
            self._log("ERROR", f"could not write the session history: {exc.strerror or exc}")
        try:
            self.store.save_persistent(self.engine.persistent, post_id)
        except OSError as exc:
            self._log("ERROR", f"could not save the settings: {exc.strerror or exc}")
        self.logbook.close()  # the session's file is complete; its path stays for export
        self.records.append(ended)
        self.listener(ended)
        self.ended.set()

    def _spawn_click(self, cmd: ClickMakeVideo) -> None:
        link = self.link
        if link is None or not self.attached:
            self.submit(ClickFailed(cmd.attempt, "the browser is not attached", session=cmd.session))
            return

        # a link.session_ended() after this means this click is never made
        epoch = getattr(link, "click_epoch", None)
        args = (cmd,) if epoch is None else (cmd, epoch)
        started = None
        if not self._floor_applies():
            # No floor to wait for: the click's thread starts now, not once this step is done (its check,
            # unless it went ahead of the deadline already, goes first from here: one thread hop less).
            self._check_ahead(cmd.session, cmd.attempt)
            self._last_click_at = self.clock()
            started = asyncio.get_running_loop().run_in_executor(None, link.execute_click, *args)

        async def run() -> None:
            try:
                if started is not None:
                    await started
                    return
                # Against a non-local page: the floor is looked at once this step is done (an outcome
                # judged in the same step as the click counts).
                wait = self._click_floor_wait()
                if wait > 0:
                    self._log("INFO", f"attempt {cmd.attempt}: the page is not local; click held {wait:.1f} s (the {GROK_MIN_PACE_S:g} s floor)")
                    await asyncio.sleep(wait)
                self._last_click_at = self.clock()
                await asyncio.to_thread(link.execute_click, *args)
            except Exception as exc:
                self.submit(ClickFailed(cmd.attempt, str(exc) or type(exc).__name__, session=cmd.session))

        task = asyncio.create_task(run())
        self._track(task)
        self._click_inflight = task

    def _spawn(self, fn: Callable, *args: Any, after: asyncio.Task | None = None) -> None:
        """A best-effort browser call off the loop (the tab's title, a click's preparation): a failure is a
        DEBUG line. `after`: a task (the click in flight) it waits for first."""

        async def run() -> None:
            try:
                if after is not None and not after.done():
                    await asyncio.wait({after})
                await asyncio.to_thread(fn, *args)
            except Exception as exc:
                self._log("DEBUG", f"{getattr(fn, '__name__', 'browser call')} failed: {exc}")

        self._track(asyncio.create_task(run()))

    def _track(self, task: asyncio.Task) -> None:
        self._clicks.add(task)
        task.add_done_callback(self._clicks.discard)

    def _log(self, level: str, message: str) -> None:
        line = LogLine(self.clock(), level, message)  # type: ignore[arg-type]
        self.listener(self.logbook.add(line))

    # ------------------------------------------------------------ link events

    def _on_link_event(self, ev: LinkEvent) -> None:
        match ev:
            case LinkLog(level=level, message=message):
                self._log(level, message)
            case PageNotice(text=text):
                self._page_notice(text)
            case Attached():
                pass  # attach() tells the listener itself, once the engine has the page's pacing
            case TabChanged(identity=identity):
                self._apply_pace(identity.url)
                self.listener(ev)
            case TabLost(reason=reason):
                if not self.attached:
                    return
                self.attached = False
                self.listener(ev)
                self._log("WARN", f"browser link lost: {reason}")
                if not self.closed and (self._reconnect_task is None or self._reconnect_task.done()):
                    self._reconnect_task = asyncio.create_task(self._reconnect(reason))
            case TabsChanged(tabs=tabs):
                if tabs:
                    self._tab_back.set()
                self.listener(ev)  # the tab picker follows them
            case VideoUrl(session=session) if session is not None and session != self.engine.session_no:
                self._log("DEBUG", f"video URL of attempt {ev.attempt} of session {session} ignored "
                                   f"(this is session {self.engine.session_no})")
            case VideoUrl():
                self.saves.on_url(ev)
            case OptionsSeen(options=options):
                self.session_options = options
                self.saves.set_options(options)
                self._log("INFO", f"generation options of this session: {options_summary(options)}" if options else "the first request carries no generation options: none to keep")
                self.listener(ev)
            case OptionsDiffer():
                if ev.blocked:
                    self.submit(OptionsBlocked(ev.attempt, ev.changes, pause=self.interactive))
                else:
                    self._log("WARN", f"attempt {ev.attempt}: generation options changed ({ev.changes}); sent anyway (allow_option_change)")
                self.listener(ev)
            case SignalStats() | AwaitingPermission() | ClickPaused():
                self.listener(ev)

    def _page_notice(self, text: str) -> None:
        """A toast that is neither a moderation nor a rate limit: logged once each, at most 20 per session."""
        if text in self._notices:
            return
        if len(self._notices) >= MAX_PAGE_NOTICES:
            if not self._notices_dropped:
                self._log("WARN", f"more than {MAX_PAGE_NOTICES} different page notices this session; the rest are counted, not logged")
            self._notices_dropped += 1
            return
        self._notices.add(text)
        self._log("INFO", f"page notice: {text}")

    async def _reconnect(self, reason: str) -> None:
        """Wait up to tab_wait_s for the tab to come back, then end the session.

        While the browser connection lives, the link announces matching tabs (TabsChanged) and
        only that wakes a re-attach; without a connection there is nobody to announce anything,
        so re-connecting is tried with backoff.
        """
        wait_s = self.settings.tab_wait_s
        start = self.clock()
        delay = 0.25
        first = True  # one look right away: the tab may be back before this task started
        while not self.closed and self.clock() - start < wait_s:
            left = max(0.0, wait_s - (self.clock() - start))
            announced = getattr(self.link, "browser_connected", False) and not first
            woke = False
            try:
                await asyncio.wait_for(self._tab_back.wait(), min(4.0 if announced else delay, left))
                woke = True
            except (asyncio.TimeoutError, TimeoutError):
                pass
            self._tab_back.clear()
            first = False
            if announced and not woke:
                continue  # nothing new: keep waiting for the link to announce a tab
            delay = min(delay * 2, 4.0)
            try:
                await self.attach(await self._reattach_target())
                self._log("INFO", "browser link re-attached")
                return
            except Exception as exc:
                self._log("DEBUG", f"re-attach failed: {exc}")
        self.submit(BrowserLost(reason))

    async def _reattach_target(self) -> str | None:
        """The tab a re-attach may take (None: the link picks, as at the first attach).

        During a session only the session's own tab, or, when it is gone, another matching tab
        that shows the session's image (read with one evaluate, nothing installed on it)."""
        link, media = self.link, self.engine.persistent.original_media_id
        if not self.engine.phase.active or link is None or not media or not hasattr(link, "peek"):
            return None
        tabs = await asyncio.to_thread(link.list_tabs)
        mine = getattr(self.info, "target_id", None)
        if mine is not None and any(t["id"] == mine for t in tabs):
            return mine  # the tab is still there: re-attach to it, not to another
        for t in tabs:
            ident = await asyncio.to_thread(link.peek, t["id"])
            if ident is not None and ident.media_id == media.lower():
                self._log("INFO", f"the session's tab is gone; {ident.url} shows the session's image")
                return t["id"]
            self._log("INFO", f"tab {t['url']} is not taken: it does not show the session's image")
        raise LookupError(f"no matching tab shows the session's image {media[:8]}…")


__all__ = ["CaptureError", "LogBook", "SessionRunner"]
