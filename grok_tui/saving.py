"""Saving a session's videos while it runs (the runner's side of grok_tui.downloads).

No Textual. Lives on the runner's asyncio loop: it pairs each successful attempt
with the first video URL any signal reported for it (stream `videoUrl`, post list
`videoUrl`, `article video[src]`, the store's `mediaUrl`), then saves the file in a
worker thread so detection is never held up. What happens is told to `emit` as the
notices below and to `log` as log lines. The bytes come from `fetch` (the browser
link reads them through the browser's own session; no cookie passes through here).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from .browser.signals import VideoUrl
from .downloads import Downloader, DownloadResult, Fetcher, VideoJob, strip_query

ID_WAIT_S = 2.0  # a URL seen without a video id (the DOM's video[src]) waits this long for the id
URL_WAIT_S = 10.0  # at the session's end: how long a success may still wait for its URL
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


# ---------------------------------------------------------------- notices


@dataclass(frozen=True)
class DownloadStarted:
    attempt: int
    number: int
    video_id: str
    url: str  # without query string


@dataclass(frozen=True)
class DownloadRetrying:
    attempt: int
    video_id: str
    tries: int  # tries failed so far
    reason: str


@dataclass(frozen=True)
class DownloadFinished:
    attempt: int
    result: DownloadResult


DownloadNotice = Union[DownloadStarted, DownloadRetrying, DownloadFinished]


# ---------------------------------------------------------------- the driver


@dataclass
class _Entry:
    attempt: int
    url: str | None = None
    source: str | None = None
    video_id: str | None = None
    video_post_id: str | None = None
    succeeded: bool = False
    retries_used: int = 0
    number: int = 0
    task: asyncio.Task | None = None
    id_known: asyncio.Event = field(default_factory=asyncio.Event)
    url_known: asyncio.Event = field(default_factory=asyncio.Event)


class SessionSaves:
    """Pairs successes with URLs and saves each video once. Create on the runner's loop."""

    def __init__(
        self,
        settings: Any,
        fetch: Fetcher | None,
        *,
        emit: Callable[[DownloadNotice], None],
        log: Callable[[str, str], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.wanted = bool(getattr(settings, "download", False)) and fetch is not None
        self.enabled = False  # per session: wanted, and the browser link can read files
        self.emit = emit
        self.log = log
        self.clock = clock
        self.downloader: Downloader | None = None
        if self.wanted:
            self.downloader = Downloader(
                settings.downloads_path(), fetch, template=settings.download_name, on_retry=self._on_retry, clock=clock
            )
        self.results: list[DownloadResult] = []
        self.options: dict | None = None
        self._entries: dict[int, _Entry] = {}
        self._session: dict = {}
        self._successes = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def folder(self):
        return self.downloader.folder if self.downloader else None

    @property
    def saved(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if not r.ok)

    @property
    def pending(self) -> bool:
        """A success of this session is not saved or failed yet."""
        if not self.enabled:
            return False
        done = {r.job.attempt for r in self.results}
        return any(e.succeeded and e.attempt not in done for e in self._entries.values())

    def by_attempt(self, attempt: int) -> DownloadResult | None:
        for r in self.results:
            if r.job.attempt == attempt:
                return r
        return None

    # -- session

    def new_session(
        self, *, prompt: str, post_id: str | None, media_id: str | None, started_at: float, can_fetch: bool = True
    ) -> None:
        self.enabled = self.wanted and can_fetch
        for e in self._entries.values():
            if e.task is not None and not e.task.done():
                e.task.cancel()
        self._entries.clear()
        self.results = []
        self.options = None
        self._successes = 0
        self._session = {"prompt": prompt, "post_id": post_id, "media_id": media_id, "started_at": started_at}

    def set_options(self, options: dict | None) -> None:
        self.options = dict(options) if options else None

    # -- signals

    def _entry(self, attempt: int) -> _Entry:
        e = self._entries.get(attempt)
        if e is None:
            e = self._entries[attempt] = _Entry(attempt)
        return e

    def on_url(self, ev: VideoUrl) -> None:
        if not self.enabled or ev.attempt is None or not self._session or not ev.url:
            return
        e = self._entry(ev.attempt)
        if e.url is None:
            e.url, e.source = ev.url, ev.source
            e.url_known.set()
        if ev.video_id and not e.video_id:
            e.video_id = ev.video_id
            e.id_known.set()
        e.video_post_id = e.video_post_id or ev.video_post_id
        self._maybe_start(e)

    def on_success(self, attempt: int, video_id: str | None, retries_used: int) -> None:
        if not self.enabled or not self._session:
            return
        e = self._entry(attempt)
        if e.succeeded:
            return
        self._successes += 1
        e.succeeded, e.number, e.retries_used = True, self._successes, retries_used
        if video_id and not e.video_id:
            e.video_id = video_id
            e.id_known.set()
        self._maybe_start(e)

    def _maybe_start(self, e: _Entry) -> None:
        if e.succeeded and e.url and e.task is None:
            e.task = asyncio.get_running_loop().create_task(self._save(e))

    # -- work

    async def _save(self, e: _Entry) -> None:
        self._loop = asyncio.get_running_loop()
        if not e.video_id:
            try:
                await asyncio.wait_for(e.id_known.wait(), ID_WAIT_S)
            except (asyncio.TimeoutError, TimeoutError):
                pass
        video_id = e.video_id or _id_from_url(e.url or "") or f"attempt{e.attempt}"
        s = self._session
        job = VideoJob(
            video_id=video_id,
            url=e.url or "",
            number=e.number,
            attempt=e.attempt,
            prompt=s["prompt"],
            retries_used=e.retries_used,
            source_post_id=s["post_id"],
            media_id=s["media_id"],
            video_post_id=e.video_post_id,
            options=self.options,
            session_started=s["started_at"],
            url_source=e.source,
        )
        self.emit(DownloadStarted(e.attempt, e.number, video_id, strip_query(job.url)))
        assert self.downloader is not None
        result = await asyncio.to_thread(self.downloader.download, job)
        self._done(e, result)

    def _done(self, e: _Entry, result: DownloadResult) -> None:
        self.results.append(result)
        if result.ok:
            mb = result.bytes / 1e6
            self.log("INFO", f"video {e.number} saved: {result.path} ({mb:.2f} MB, sha256 {result.sha256[:12]}…)")
        else:
            self.log("ERROR", f"video {e.number} (attempt {e.attempt}) not saved after {result.tries} tr{'y' if result.tries == 1 else 'ies'}: {result.reason}")
        self.emit(DownloadFinished(e.attempt, result))

    def _on_retry(self, job: VideoJob, tries: int, reason: str) -> None:
        """From the download thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def tell() -> None:
            self.log("WARN", f"video {job.number}: download try {tries} failed ({reason}); retrying")
            self.emit(DownloadRetrying(job.attempt, job.video_id, tries, reason))

        try:
            loop.call_soon_threadsafe(tell)
        except RuntimeError:
            pass

    async def finish(self, url_wait_s: float = URL_WAIT_S) -> tuple[int, int]:
        """Wait for this session's saves (a success still without a URL waits up to url_wait_s).

        Returns (saved, failed). A success whose URL never came is recorded failed.
        """
        if not self.enabled:
            return 0, 0
        waiting = [e for e in self._entries.values() if e.succeeded and e.url is None]
        if waiting:
            try:
                await asyncio.wait_for(asyncio.gather(*(e.url_known.wait() for e in waiting)), url_wait_s)
            except (asyncio.TimeoutError, TimeoutError):
                pass
        for e in sorted(self._entries.values(), key=lambda x: x.attempt):
            if e.succeeded and e.url is None:
                job = VideoJob(
                    video_id=e.video_id or f"attempt{e.attempt}", url="", number=e.number, attempt=e.attempt,
                    prompt=self._session.get("prompt", ""),
                )
                self._done(e, DownloadResult(job, False, reason=f"no video URL was seen within {url_wait_s:g} s"))
        tasks = [e.task for e in self._entries.values() if e.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return self.saved, self.failed


def _id_from_url(url: str) -> str | None:
    ids = _UUID.findall(strip_query(url))
    return ids[-1].lower() if ids else None


__all__ = ["DownloadFinished", "DownloadRetrying", "DownloadStarted", "SessionSaves", "VideoUrl"]
