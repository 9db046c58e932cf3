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
from typing import Any

from .batch import BatchError, Manifest, check_origin, load_jobs, manifest_path, origin_of
from .batch_runner import BatchChanged, BatchEnded, BatchNote, BatchRunner, JobEnded, JobPaused, JobStarted
from .cli import EXIT_CANNOT_START, JsonPrinter
from .engine.events import SessionEnded


class BatchPrinter(JsonPrinter):
    """JSON Lines for a batch: the session events tagged with their job, the batch line last."""

    def __init__(self, stream=None) -> None:
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

    def __call__(self, n: object) -> None:
        if isinstance(n, JobStarted):
            self.job = n.index
            self.emit({"event": "job", "index": n.index, "post": n.post_id, "status": "started", "resumed": n.resumed})
        elif isinstance(n, JobPaused):
            self.emit({"event": "job", "index": n.index, "status": "paused", "message": n.message})
        elif isinstance(n, JobEnded):
            self.emit({"event": "summary", "job": n.index, **n.summary.to_dict()})
            self.emit({"event": "job", "index": n.index, "status": n.status, "reason": n.reason})
            self.job = None
        elif isinstance(n, BatchNote):
            self.emit({"event": "log", "level": n.level, "message": n.message})
        elif isinstance(n, BatchEnded):
            self.job = None
            self.emit(n.line)
        elif isinstance(n, (BatchChanged, SessionEnded)):
            pass  # the job's summary (over the whole job) stands for the session's
        else:
            super().__call__(n)


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
    settings,
    store,
    path: str | Path,
    *,
    resume: bool = False,
    post: str | None = None,
    printer: BatchPrinter | None = None,
    link_factory=None,
) -> int:
    from .browser.cdp import BrowserError
    from .cli import _link_factory
    from .runner import SessionRunner

    printer = printer or BatchPrinter()
    path = Path(path).expanduser()
    try:
        manifest, notes = prepare_manifest(path, post, resume, store.directory)
    except BatchError as exc:
        print(f"grok-tui: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    runner = SessionRunner(settings, store, link_factory or _link_factory(), listener=printer)
    try:
        try:
            info = await runner.attach()
            check_origin([s for s in load_jobs(path, post)], origin_of(info.identity.url), path)
        except (BrowserError, BatchError) as exc:
            print(f"grok-tui: {exc}", file=sys.stderr)
            return EXIT_CANNOT_START
        batch = BatchRunner(runner, manifest)
        for note in notes:
            printer(BatchNote("INFO", note))
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
