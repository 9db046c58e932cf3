"""Runs a batch: one session per job on the chosen tab, the manifest written after every attempt.

No Textual here. A BatchRunner sits on top of a SessionRunner: whoever listens to the
session runner (the UI, the JSON printer) hands each notice to `observe()` as well, so the
session panes and the printer see each job's session exactly as they see a single one; the
batch tells its own listener (given at construction) the job and batch notices of
grok_tui.notices.

Between jobs the chosen tab is sent to the job's post (same origin only), the composer is
awaited and the source image checked before the first click; the next-video delay and the
cooldown hold between jobs as within one. A rate limit stops the batch at once; anything
else that ends a job (failure, timeout, lost tab, click trouble) ends that job only.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

from .batch import Job, Manifest, origin_of, post_url
from .engine.events import SessionSummary, UserCancel
from .notices import (
    AttemptResolved,
    BatchChanged,
    BatchEnded,
    BatchNote,
    BatchNotice,
    ClickPaused,
    DownloadFinished,
    JobEnded,
    JobPaused,
    JobStarted,
    Listener,
    Notice,
    Refused,
    SessionEnded,
    ignore,
)

StopReason = str  # "rate_limit" | "user" | "browser"


class _JobOver(Exception):
    """The job cannot run (navigation, image check, blocked page): it ends with this status."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


class BatchRunner:
    """Drives `manifest`'s jobs on `runner`'s tab. `await run()` returns the exit code."""

    def __init__(
        self, runner: Any, manifest: Manifest, *, listener: Listener = ignore, clock: Callable[[], float] = time.time
    ) -> None:
        self.runner = runner
        self.manifest = manifest
        self.clock = clock
        self.settings = runner.settings
        self.listener = listener  # the job and batch notices
        self.current: int | None = None  # 0-based index of the running job
        self.stop_reason: StopReason | None = None
        self.running = False
        self._stop = asyncio.Event()
        self._session_over: asyncio.Future | None = None
        # the last attempt's outcome, also from a run that was cut off (pacing before the next job)
        self._last_outcome_at: float | None = manifest.last_outcome_at / 1000.0 if manifest.last_outcome_at else None
        info = getattr(runner, "info", None)
        self.origin: str | None = origin_of(getattr(getattr(info, "identity", None), "url", "") or "")

    # ------------------------------------------------------------ intents

    def stop(self, reason: StopReason = "user", message: str = "batch stopped by the user") -> None:
        """Stop after recording the running job (cancelled); nothing else starts."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()
        if self.runner.engine.phase.active:
            self.runner.submit(UserCancel(message))

    def pause(self) -> None:
        """Stop after the running job ends by itself (stoppedBy "user"); nothing is cancelled."""
        if self.stop_reason is None:
            self.stop_reason = "user"
        self._stop.set()

    # ------------------------------------------------------------ the loop

    async def run(self) -> int:
        self.running = True
        try:
            for idx in self.manifest.to_run():
                if self._stop.is_set():
                    break
                await self._run_job(idx)
                if self.stop_reason is not None:
                    break
        finally:
            self.running = False
            self.current = None
            self.manifest.stopped_by = self.stop_reason
            self._save()
        line = self.manifest.batch_line()
        code = self.manifest.exit_code()
        self.listener(BatchEnded(line, code))
        return code

    async def _run_job(self, idx: int) -> None:
        job = self.manifest.jobs[idx]
        self.current = idx
        resumed = job.sessions > 0 or job.total("videos") > 0 or job.status == "running"
        job.plan(self.settings.video_goal, self.settings.max_retries)  # fixes the job's goal on its first start
        self.listener(JobStarted(idx + 1, job.post_id, job.prompt, resumed))
        try:
            await self._prepare(idx, job)
            await self._pace()
            if self._stop.is_set():
                return  # stopped before the job's first click: it stays as it was
            await self._session(idx, job)
        except _JobOver as over:
            self._end_job(idx, job, over.status, None, over.reason)

    # ------------------------------------------------------------ before the first click

    async def _ensure_attached(self) -> None:
        r = self.runner
        if r.attached and r.link is not None:
            return
        try:
            await r.attach()
        except Exception as exc:
            self.stop_reason = "browser"
            self._stop.set()
            raise _JobOver("pending", f"the browser is gone ({exc})") from None

    async def _prepare(self, idx: int, job: Job) -> None:
        """Send the chosen tab to the job's post, wait for the composer, check the source image."""
        await self._ensure_attached()
        r = self.runner
        here = await asyncio.to_thread(r.link.identity)
        origin = self.origin or origin_of(here.url)
        if origin is None:
            raise _JobOver("cancelled", f"the tab shows {here.url!r}, not a page of the site")
        self.origin = origin  # the chosen tab's site: the batch never leaves it
        wait_s = self.settings.tab_wait_s
        if here.post_id != job.post_id:
            url = post_url(origin, job.post_id)
            try:
                ident = await asyncio.to_thread(r.link.open_post, url, max(wait_s, 1.0))
            except Exception as exc:
                if not r.link or not r.link.attached:
                    await self._ensure_attached()
                raise _JobOver("cancelled", f"could not open post {job.post_id}: {exc}") from None
        else:
            ident = await asyncio.to_thread(r.link.open_post, None, max(wait_s, 1.0))
        if not ident.composer:
            self.listener(JobPaused(idx + 1, f"job {idx + 1}: the post {job.post_id[:8]}… shows no composer (prompt box and button)"))
            raise _JobOver("cancelled", f"no composer on post {job.post_id} within {wait_s:g} s")
        await self._wait_uncovered(idx)
        if ident.post_id != job.post_id:
            raise _JobOver("cancelled", f"the tab shows post {ident.post_id}, not the job's {job.post_id}")
        if not ident.media_id:
            raise _JobOver("cancelled", f"post {job.post_id} shows no source image")
        if job.media_id and ident.media_id != job.media_id:
            raise _JobOver(
                "cancelled",
                f"post {job.post_id} now shows image {ident.media_id}, the job began on image {job.media_id}",
            )
        job.media_id = ident.media_id

    async def _wait_uncovered(self, idx: int) -> None:
        """A dialog or banner over the generate button pauses the job until it clears (at most tab_wait_s)."""
        link, wait_s = self.runner.link, self.settings.tab_wait_s
        cover = await asyncio.to_thread(link.button_cover)
        if cover is None:
            return
        self.listener(JobPaused(idx + 1, f"job {idx + 1} paused: {cover}; waiting up to {wait_s:g} s for it to go"))
        deadline = self.clock() + wait_s
        while cover is not None and self.clock() < deadline and not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), min(0.25, max(0.0, deadline - self.clock())))
            except (asyncio.TimeoutError, TimeoutError):
                pass
            cover = await asyncio.to_thread(link.button_cover)
        if self._stop.is_set():
            return  # stopped while waiting: the job has not started and stays as it was
        if cover is not None:
            raise _JobOver("cancelled", f"{cover} for more than {wait_s:g} s")
        self.listener(BatchNote("INFO", f"job {idx + 1}: the generate button is clear again; going on"))

    async def _pace(self) -> None:
        """The next-video delay holds between jobs (the engine keeps the cooldown between clicks)."""
        if self._last_outcome_at is None:
            return
        due = self._last_outcome_at + self.runner.engine.timings.next_video_delay_s
        left = due - self.clock()
        if left > 0:
            try:
                await asyncio.wait_for(self._stop.wait(), left)
            except (asyncio.TimeoutError, TimeoutError):
                pass

    # ------------------------------------------------------------ the session

    async def _session(self, idx: int, job: Job) -> None:
        r = self.runner
        goal, retries = job.plan(self.settings.video_goal, self.settings.max_retries)
        job.status = "running"
        job.reason = None
        job.started_at = job.started_at or int(self.clock() * 1000)
        self._save()
        loop = asyncio.get_running_loop()
        self._session_over = loop.create_future()
        r.record_extra = {"batch": self.manifest.file, "job": idx + 1}
        await r.start_session(job.prompt, video_goal=goal, max_retries=retries)
        result = await self._session_over
        self._session_over = None
        if isinstance(result, Refused):
            raise _JobOver("cancelled", result.message)
        summary: SessionSummary = result
        status = summary.outcome
        reason = str(summary.extra.get("reason") or "")
        last = r.engine.current
        if summary.outcome == "cancelled" and last is not None and last.outcome == "rate_limited":
            status = "rate_limited"
            self.stop_reason = "rate_limit"
            self._stop.set()
        elif summary.outcome == "cancelled" and self.stop_reason == "user":
            status = "cancelled"
        self._end_job(idx, job, status, summary, reason)

    def _end_job(self, idx: int, job: Job, status: str, summary: SessionSummary | None, reason: str | None) -> None:
        if status == "pending":  # never started (the browser went away first)
            job.reason = reason
            self._save()
            return
        if summary is not None or job.status == "running":
            job.close_session(status, reason, int(self.clock() * 1000))
        else:
            job.status, job.reason, job.ended_at = status, reason, int(self.clock() * 1000)
        self._save()
        if summary is None:  # ended before its session could start: the seed's fields all the same
            summary = SessionSummary("cancelled", 0, job.video_goal or 0, 0, job.max_retries_eff or 0, 0, 0, 0, 0,
                                     int(self.clock() * 1000), extra={"reason": reason})
        self.listener(JobEnded(idx + 1, status, job.summary(summary), reason))

    # ------------------------------------------------------------ notices from the session

    def observe(self, notice: Notice) -> None:
        """A notice of the session runner (its listener hands each one here): the running job's bookkeeping."""
        idx, over = self.current, self._session_over
        if idx is None or over is None:
            return
        job = self.manifest.jobs[idx]
        match notice:
            case AttemptResolved(record=record):
                self._note_attempt(job, record)
            case DownloadFinished(result=result) if result.ok and result.path:
                if result.path not in job.files:
                    job.files.append(str(result.path))  # the video saved for this job
                    self._save()
            case ClickPaused(message=message):  # mid-job: the button is covered, or the tab left the post
                self.listener(JobPaused(idx + 1, f"job {idx + 1}: {message}"))
            case SessionEnded(summary=summary) if not over.done():
                over.set_result(summary)
            case Refused() if not self.runner.engine.phase.active and not over.done():
                over.set_result(notice)

    def _note_attempt(self, job: Job, record: dict) -> None:
        """After every attempt: the job's counters so far, written to the manifest atomically."""
        self._last_outcome_at = self.clock()
        self.manifest.last_outcome_at = int(self._last_outcome_at * 1000)
        s = self.runner.engine.session
        ids = [record["videoId"]] if record.get("outcome") == "success" and record.get("videoId") else []
        job.note_session(
            videos=s.videos_generated,
            retries=s.retry_count,
            credits=s.credits_used,
            layers=[s.layer1_failures, s.layer2_failures, s.layer3_failures],
            video_ids=ids,
        )
        self._save()

    def _save(self) -> None:
        try:
            self.manifest.save()
        except OSError as exc:
            self.listener(BatchNote("ERROR", f"could not write the batch manifest {self.manifest.path}: {exc.strerror or exc}"))
        self.listener(BatchChanged())




# ---------------------------------------------------------------- the UI's queue


class BatchQueue:
    """The queue the UI edits and runs: a manifest, and a BatchRunner while it runs (no Textual).

    `on_change()` is called after every change (jobs, counters, running state); `on_end(line)`
    once when a run finishes or stops. The UI renders from `manifest`, `running`, `paused_note`.
    """

    def __init__(self, runner: Any, state_dir: Any, *, on_change: Callable[[], None] = lambda: None,
                 on_end: Callable[[dict], None] = lambda line: None) -> None:
        from pathlib import Path

        from .batch import MANIFEST_DIR

        self.runner = runner
        self.on_change, self.on_end = on_change, on_end
        path = Path(state_dir) / MANIFEST_DIR / "queue.json"
        loaded = None
        try:
            loaded = Manifest.load(path)
        except Exception:
            loaded = None
        self.manifest: Manifest = loaded or Manifest(path, "")
        self.batch: BatchRunner | None = None
        self.task: asyncio.Task | None = None
        self.note = ""  # the last thing worth a line (paused, ended, loaded)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def _changed(self) -> None:
        try:
            self.manifest.save()
        except OSError as exc:
            self.note = f"could not write the queue: {exc.strerror or exc}"
        self.on_change()

    # ---- editing (refused while it runs, so the running job's index stays put)

    def _editable(self) -> str | None:
        return "The queue is running; pause it before changing it." if self.running else None

    def add(self, post_id: str, prompt: str, goal: int | None = None, max_retries: int | None = None) -> str | None:
        if (why := self._editable()) is not None:
            return why
        if not post_id:
            return "The tab shows no image post (/imagine/post/<id>); open one to add it as a job."
        if not (prompt or "").strip():
            return "The prompt is empty; type or capture one before adding a job."
        self.manifest.jobs.append(Job(post_id, prompt, goal, max_retries))
        self.note = f"job {len(self.manifest.jobs)} added: post {post_id[:8]}…"
        self._changed()
        return None

    def load(self, path: str, post: str | None = None) -> str | None:
        """Replace the queue with a batch file's jobs (its saved progress kept). One sentence when it cannot."""
        from pathlib import Path

        from .batch import BatchError, check_origin, load_jobs, manifest_path

        if (why := self._editable()) is not None:
            return why
        p = Path(path).expanduser()
        try:
            specs = load_jobs(p, post)
            check_origin(specs, self.batch_origin(), p)
            saved = Manifest.load(manifest_path(self.manifest.path.parent.parent, p))
        except BatchError as exc:
            return str(exc)
        if saved is None:
            self.manifest = Manifest.fresh(manifest_path(self.manifest.path.parent.parent, p), str(p.resolve()), specs)
            notes = []
        else:
            self.manifest = saved
            notes = saved.reconcile(specs)
        done = sum(1 for j in self.manifest.jobs if j.finished)
        self.note = f"{p.name}: {len(self.manifest.jobs)} job(s), {done} already finished" + (
            "; " + " ".join(notes) if notes else ""
        )
        self._changed()
        return None

    def batch_origin(self) -> str | None:
        info = getattr(self.runner, "info", None)
        return origin_of(getattr(getattr(info, "identity", None), "url", "") or "")

    def remove(self, index: int) -> str | None:
        if (why := self._editable()) is not None:
            return why
        if not 0 <= index < len(self.manifest.jobs):
            return "No job is selected."
        job = self.manifest.jobs.pop(index)
        self.note = f"job removed: post {job.post_id[:8]}…"
        self._changed()
        return None

    def move(self, index: int, delta: int) -> str | None:
        if (why := self._editable()) is not None:
            return why
        jobs = self.manifest.jobs
        to = index + delta
        if not (0 <= index < len(jobs) and 0 <= to < len(jobs)):
            return None
        jobs[index], jobs[to] = jobs[to], jobs[index]
        self._changed()
        return None

    # ---- running

    def start(self) -> str | None:
        if self.running:
            return "The queue is already running."
        if self.runner.engine.phase.active:
            return "A session is running; let it end or cancel it before starting the queue."
        if not self.manifest.to_run():
            return "Nothing to run: every job in the queue is finished." if self.manifest.jobs else "The queue is empty."
        if not self.runner.attached:
            return "Not attached to Chrome: the queue needs the Grok tab."
        self.batch = BatchRunner(self.runner, self.manifest, listener=self._on_batch)
        self.note = "running"
        self.task = asyncio.create_task(self._run())
        self.on_change()
        return None

    def observe(self, notice: Notice) -> None:
        """A notice of the session runner: the running batch keeps its job's counters from it."""
        if self.running and self.batch is not None:
            self.batch.observe(notice)

    def _on_batch(self, notice: BatchNotice) -> None:
        """The running batch's listener: the note line, and the Queue screen redrawn."""
        match notice:
            case JobPaused(message=message):
                self.note = message
            case JobStarted(index=index):
                self.note = f"job {index} running"
        self.on_change()

    async def _run(self) -> None:
        batch = self.batch
        assert batch is not None
        try:
            await batch.run()
        finally:
            line = self.manifest.batch_line()
            from .batch import batch_text

            self.note = batch_text(line)
            self.on_change()
            self.on_end(line)

    def pause(self) -> str | None:
        """Stop after the running job (it finishes normally); start again to go on."""
        if not self.running or self.batch is None:
            return "The queue is not running."
        self.batch.pause()
        self.note = "pausing after the running job"
        self.on_change()
        return None

    def stop(self) -> str | None:
        """Cancel the running job (recorded cancelled) and stop the queue."""
        if not self.running or self.batch is None:
            return "The queue is not running."
        self.batch.stop("user", "queue stopped by the user")
        return None


__all__ = ["BatchQueue", "BatchRunner"]
