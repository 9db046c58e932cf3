"""`grok-tui batch FILE`: a batch without the UI, printing JSON Lines, with the batch exit codes.

Every session event carries `"job": i`; each job starts with `{"event":"job","index":i,...,
"status":"started"}` and ends with its `{"event":"summary","job":i, ...the seed's fields}`;
the last line is `{"event":"batch", ...}`. Exit codes: 0 every job succeeded, 1 all jobs
ran and at least one did not succeed, 2 stopped with jobs pending, 3 could not start.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any, Callable, TextIO

from .batch import BatchError, Manifest, check_origin, load_jobs, manifest_path, origin_of
from . import notices as n
from .batch_runner import BatchRunner
from .browser.cdp import BrowserError
from .headless import EXIT_CANNOT_START, JsonPrinter, browser_link
from .runner import SessionRunner
from .settings import Settings
from .store import StateStore


class BatchPrinter(JsonPrinter):
    """JSON Lines for a batch: the session events tagged with their job, the batch line last."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.job: int | None = None
        self.finished = False

    def emit(self, obj: dict) -> None:
        if self.finished:  # the batch line is the last line
            return
        if self.job is not None and "job" not in obj and obj.get("event") not in ("batch", "job"):
            obj = {"event": obj["event"], "job": self.job, **{k: v for k, v in obj.items() if k != "event"}}
        self.done = False  # a job's summary is not the last line here
        super().emit(obj)
        self.finished = obj.get("event") == "batch"

    def __call__(self, notice: n.Notice) -> None:
        match notice:
            case n.JobStarted(index=index, post_id=post_id, resumed=resumed):
                self.job = index
                self.emit({"event": "job", "index": index, "post": post_id, "status": "started", "resumed": resumed})
            case n.JobPaused(index=index, message=message):
                self.emit({"event": "job", "index": index, "status": "paused", "message": message})
            case n.JobEnded(index=index, status=status, summary=summary, reason=reason):
                self.emit({"event": "summary", "job": index, **summary.to_dict()})
                self.emit({"event": "job", "index": index, "status": status, "reason": reason})
                self.job = None
            case n.BatchNote(level=level, message=message):
                self.emit({"event": "log", "level": level, "message": message})
            case n.BatchEnded(line=line):
                self.job = None
                self.emit(line)
            case n.BatchChanged() | n.SessionEnded():
                pass  # the job's summary (over the whole job) stands for the session's
            case _:
                super().__call__(notice)


def prepare_manifest(path: Path, post: str | None, resume: bool, state_dir: Path) -> tuple[Manifest, list[str]]:
    """The batch's manifest (fresh, or the saved one brought in line with the file). BatchError."""
    specs = load_jobs(path, post)
    mpath = manifest_path(state_dir, path)
    notes: list[str] = []
    saved = Manifest.load(mpath) if resume else None
    if saved is None:
        if resume:
            notes.append(f"no saved state for {path}: the batch starts from its first job.")
        manifest = Manifest.fresh(mpath, str(path.resolve()), specs)
    else:
        manifest = saved
        notes += manifest.reconcile(specs)
        done = sum(1 for j in manifest.jobs if j.finished)
        notes.append(f"resuming: {done} of {len(manifest.jobs)} job(s) already finished are not run again.")
    return manifest, notes


async def run_batch_headless(
    settings: Settings,
    store: StateStore,
    path: str | Path,
    *,
    resume: bool = False,
    post: str | None = None,
    printer: BatchPrinter | None = None,
    link_factory: Callable[..., Any] | None = None,
) -> int:
    """Attach, run every job still to run, and return the batch's exit code."""
    printer = printer or BatchPrinter()
    path = Path(path).expanduser()
    try:
        manifest, notes = prepare_manifest(path, post, resume, store.directory)
    except BatchError as exc:
        print(f"grok-tui: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    batch: BatchRunner | None = None

    def listener(notice: n.Notice) -> None:
        """The session runner's listener: the running batch keeps its job's counters, the printer prints."""
        if batch is not None:
            batch.observe(notice)
        printer(notice)

    runner = SessionRunner(settings, store, link_factory or browser_link(), listener=listener)
    try:
        try:
            info = await runner.attach()
            check_origin([s for s in load_jobs(path, post)], origin_of(info.identity.url), path)
        except (BrowserError, BatchError) as exc:
            print(f"grok-tui: {exc}", file=sys.stderr)
            return EXIT_CANNOT_START
        batch = BatchRunner(runner, manifest, listener=printer)
        for note in notes:
            printer(n.BatchNote("INFO", note))
        manifest.save()
        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(sig, batch.stop, "user", f"interrupted by {sig.name}")
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        runner.start_loop()
        try:
            return await batch.run()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
    finally:
        await runner.close()


__all__ = ["BatchPrinter", "prepare_manifest", "run_batch_headless"]
