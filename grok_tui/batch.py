"""Batches: a queue of jobs (post x prompt), read from a file, kept in a manifest that survives crashes.

Pure model (no Textual, no browser): the job model, the three file formats, the
manifest (one per batch file, keyed by its absolute path, written atomically) and
the resume rules. `grok_tui.batch_runner` drives the jobs, one session each.

File formats (the extension decides):
- TOML: `[[job]]` tables with `post`, `prompt`, optional `goal`, `max_retries`.
- CSV with a header: `post,prompt[,goal][,max_retries]`.
- Plain text (`.txt`): prompts separated by blank lines, all for the post given with `--post`.

A post is a `/imagine/post/<id>` URL (or path) or a bare post id; a URL must be on the
tab's own origin (checked once attached). Prompts are kept exactly as written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import urlsplit

from .engine.events import SessionSummary
from .engine.state import LIMIT_MAX, LIMIT_MIN

STATUSES = ("pending", "running", "success", "failure", "cancelled", "rate_limited")
FINISHED = ("success", "failure")  # never run again on resume
MANIFEST_VERSION = 1
MANIFEST_DIR = "batches"
FORMATS = {".toml": "toml", ".csv": "csv", ".txt": "text"}
FIELDS = ("post", "prompt", "goal", "max_retries")
_BARE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_POST_PATH = re.compile(r"^/imagine/post/([A-Za-z0-9][A-Za-z0-9-]*)/?$")


class BatchError(Exception):
    """The batch cannot start; the message is one sentence for the user."""


# ----------------------------------------------------------------------------- the job model


@dataclass(frozen=True)
class JobSpec:
    """One row of the batch file, as written (goal / max_retries None: the settings' defaults)."""

    post_id: str
    prompt: str
    goal: int | None = None
    max_retries: int | None = None
    origin: str | None = None  # scheme://host[:port] when the post was given as a URL
    line: int = 0

    def key(self) -> tuple:
        return (self.post_id, self.prompt, self.goal, self.max_retries)


def parse_post(value: Any) -> tuple[str, str | None]:
    """(post id, origin or None) from a post URL, a `/imagine/post/<id>` path or a bare id; ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("is empty; give a /imagine/post/<id> URL or a post id")
    text = value.strip()
    if _BARE_ID.match(text):
        return text.lower(), None
    parts = urlsplit(text)
    origin = None
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{text!r} is not an http(s) URL of an /imagine/post/<id> page")
        origin = f"{parts.scheme}://{parts.netloc}".lower()
    m = _POST_PATH.match(parts.path)
    if not m:
        raise ValueError(f"{text!r} is not an /imagine/post/<id> URL or a post id")
    return m.group(1).lower(), origin


def post_url(origin: str, post_id: str) -> str:
    return f"{origin.rstrip('/')}/imagine/post/{post_id}"


def origin_of(url: str) -> str | None:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


# ----------------------------------------------------------------------------- parsers


def _where(path: Path, line: int) -> str:
    return f"{path}:{line}" if line else str(path)


def _limit(name: str, value: Any, where: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise BatchError(f"{where}: {name} must be a whole number from {LIMIT_MIN} to {LIMIT_MAX}, not {value!r}.")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise BatchError(
                f"{where}: {name} must be a whole number from {LIMIT_MIN} to {LIMIT_MAX}, not {value!r}."
            ) from None
    if not isinstance(value, int) or not LIMIT_MIN <= value <= LIMIT_MAX:
        raise BatchError(f"{where}: {name} must be a whole number from {LIMIT_MIN} to {LIMIT_MAX}, not {value!r}.")
    return value


def _spec(path: Path, line: int, row: dict, line_of=None) -> JobSpec:
    """A JobSpec from one row; `line_of(field)` gives a field's own line (TOML), else the row's."""

    def where(name: str) -> str:
        return _where(path, line_of(name) if line_of else line)

    try:
        post_id, origin = parse_post(row.get("post"))
    except ValueError as exc:
        raise BatchError(f"{where('post')}: post {exc}.") from None
    prompt = row.get("prompt")
    if prompt is None:
        raise BatchError(f"{where('prompt')}: prompt is missing; every job needs the prompt to send.")
    if not isinstance(prompt, str):
        raise BatchError(f"{where('prompt')}: prompt must be text, not {prompt!r}.")
    if not prompt.strip():
        raise BatchError(f"{where('prompt')}: prompt is empty; every job needs the prompt to send.")
    return JobSpec(
        post_id,
        prompt,
        _limit("goal", row.get("goal"), where("goal")),
        _limit("max_retries", row.get("max_retries"), where("max_retries")),
        origin,
        line,
    )


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BatchError(f"The batch file {path} does not exist.") from None
    except IsADirectoryError:
        raise BatchError(f"The batch file {path} is a folder, not a file.") from None
    except OSError as exc:
        raise BatchError(f"The batch file {path} cannot be read ({exc.strerror or exc}).") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BatchError(f"{path}:{line}: the file is not UTF-8 text.") from None


def parse_toml(path: Path, text: str) -> list[JobSpec]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(m.group(1)) if m else 0
        what = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "syntax error"
        raise BatchError(f"{_where(path, line)}: not valid TOML ({what}).") from None
    lines = text.splitlines()
    headers = [i + 1 for i, ln in enumerate(lines) if re.match(r"^\s*\[\[\s*job\s*\]\]", ln)]
    for key in data:
        if key != "job":
            line = next((i + 1 for i, ln in enumerate(lines) if re.match(rf"^\s*\[*\s*{re.escape(key)}\b", ln)), 0)
            raise BatchError(f"{_where(path, line)}: {key!r} is not a batch field; write each job as a [[job]] table.")
    jobs = data.get("job", [])
    if not isinstance(jobs, list) or not jobs:
        raise BatchError(f"{path}: no [[job]] tables; each job needs post and prompt.")
    specs = []
    for n, job in enumerate(jobs):
        start = headers[n] if n < len(headers) else 0
        end = headers[n + 1] if n + 1 < len(headers) else len(lines) + 1

        def line_of(name: str, start=start, end=end) -> int:
            for i in range(start, end - 1):
                if re.match(rf"^\s*{re.escape(name)}\s*=", lines[i]):
                    return i + 1
            return start

        if not isinstance(job, dict):
            raise BatchError(f"{_where(path, start)}: a job must be a [[job]] table.")
        for name in job:
            if name not in FIELDS:
                raise BatchError(
                    f"{_where(path, line_of(name))}: {name!r} is not a job field (known: {', '.join(FIELDS)})."
                )
        specs.append(_spec(path, start, job, line_of))
    return specs


def parse_csv(path: Path, text: str) -> list[JobSpec]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    specs: list[JobSpec] = []
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [h.strip().lower() for h in row]
                unknown = [h for h in header if h not in FIELDS]
                if unknown:
                    raise BatchError(
                        f"{_where(path, line)}: column {unknown[0]!r} is not a job field (the header is post,prompt[,goal][,max_retries])."
                    )
                for need in ("post", "prompt"):
                    if need not in header:
                        raise BatchError(f"{_where(path, line)}: the header has no {need} column (post,prompt[,goal][,max_retries]).")
                dup = next((h for h in header if header.count(h) > 1), None)
                if dup:
                    raise BatchError(f"{_where(path, line)}: column {dup!r} appears twice in the header.")
                continue
            if len(row) != len(header):
                raise BatchError(f"{_where(path, line)}: the row has {len(row)} fields, the header {len(header)}.")
            specs.append(_spec(path, line, dict(zip(header, row))))
    except csv.Error as exc:
        raise BatchError(f"{_where(path, reader.line_num)}: not valid CSV ({exc}).") from None
    if header is None:
        raise BatchError(f"{path}: the file is empty; the first line is the header post,prompt[,goal][,max_retries].")
    if not specs:
        raise BatchError(f"{path}: no jobs under the header.")
    return specs


def parse_text(path: Path, text: str, post: str | None) -> list[JobSpec]:
    if not post:
        raise BatchError(f"{path} is a plain-text batch (one prompt per paragraph): give its post with --post URL.")
    try:
        post_id, origin = parse_post(post)
    except ValueError as exc:
        raise BatchError(f"--post {exc}.") from None
    specs: list[JobSpec] = []
    block: list[str] = []
    first = 0
    for n, ln in enumerate([*text.splitlines(), ""], start=1):
        if ln.strip():
            if not block:
                first = n
            block.append(ln)
        elif block:
            specs.append(JobSpec(post_id, "\n".join(block), None, None, origin, first))
            block = []
    if not specs:
        raise BatchError(f"{path}: no prompts (separate prompts by blank lines).")
    return specs


def load_jobs(path: str | Path, post: str | None = None) -> list[JobSpec]:
    """Parse a batch file; BatchError (one sentence with file:line) when anything is wrong."""
    p = Path(path)
    kind = FORMATS.get(p.suffix.lower())
    if kind is None:
        raise BatchError(f"{p}: unknown batch file type {p.suffix or '(none)'!r}; use .toml, .csv or .txt.")
    text = _read_text(p)
    if kind == "toml":
        return parse_toml(p, text)
    if kind == "csv":
        return parse_csv(p, text)
    return parse_text(p, text, post)


def check_origin(specs: Iterable[JobSpec], tab_origin: str | None, path: str | Path) -> None:
    """Every job given as a URL must be on the tab's own origin (the tab is never sent elsewhere)."""
    for s in specs:
        if s.origin and tab_origin and s.origin != tab_origin:
            raise BatchError(
                f"{_where(Path(path), s.line)}: post is on {s.origin}, not on the tab's origin {tab_origin}; "
                "a batch only moves the chosen tab within its own site."
            )


# ----------------------------------------------------------------------------- the manifest


@dataclass
class Job:
    """A job and what came of it so far (one entry of the manifest)."""

    post_id: str
    prompt: str
    goal: int | None = None  # as written in the file (None: settings default)
    max_retries: int | None = None
    line: int = 0
    status: str = "pending"
    video_goal: int | None = None  # effective, fixed when the job first starts
    max_retries_eff: int | None = None
    videos: int = 0
    retries: int = 0
    credits: int = 0
    layers: list[int] = field(default_factory=lambda: [0, 0, 0])
    video_ids: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    media_id: str | None = None
    sessions: int = 0
    reason: str | None = None
    started_at: int | None = None
    ended_at: int | None = None
    # counters of the running session (added to the totals when it ends)
    cur: dict = field(default_factory=dict)

    @classmethod
    def from_spec(cls, s: JobSpec) -> "Job":
        return cls(s.post_id, s.prompt, s.goal, s.max_retries, s.line)

    def key(self) -> tuple:
        return (self.post_id, self.prompt, self.goal, self.max_retries)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    # totals including the session in progress
    def total(self, name: str) -> int:
        return getattr(self, name) + int(self.cur.get(name, 0))

    def total_layers(self) -> list[int]:
        cur = self.cur.get("layers") or [0, 0, 0]
        return [a + b for a, b in zip(self.layers, cur)]

    def remaining_goal(self) -> int:
        return max(0, (self.video_goal or 1) - self.videos)

    def remaining_retries(self) -> int:
        return max(0, (self.max_retries_eff or 0) - self.retries)

    def plan(self, default_goal: int, default_retries: int) -> tuple[int, int]:
        """(video goal, max retries) for the next session of this job: what is left of it."""
        if self.video_goal is None:
            self.video_goal = self.goal or default_goal
            self.max_retries_eff = self.max_retries or default_retries
        # The engine needs at least 1; a job interrupted with no retry left gets its in-flight one back.
        return max(LIMIT_MIN, self.remaining_goal()), max(LIMIT_MIN, self.remaining_retries())

    def note_session(self, *, videos: int, retries: int, credits: int, layers: list[int], video_ids: list[str]) -> None:
        """The running session's counters so far (the manifest is written after every attempt)."""
        self.cur = {"videos": videos, "retries": retries, "credits": credits, "layers": list(layers)}
        for v in video_ids:
            if v and v not in self.video_ids:
                self.video_ids.append(v)

    def close_session(self, status: str, reason: str | None = None, ended_at: int | None = None) -> None:
        """Fold the session's counters into the job's totals and set its status."""
        self.videos = self.total("videos")
        self.retries = self.total("retries")
        self.credits = self.total("credits")
        self.layers = self.total_layers()
        self.cur = {}
        self.sessions += 1
        self.status = status
        self.reason = reason
        self.ended_at = ended_at

    def summary(self, session: SessionSummary) -> SessionSummary:
        """The job's summary in the seed's fields: this session's outcome, the whole job's counters."""
        return SessionSummary(
            outcome=session.outcome,
            completedVideos=self.videos,
            videoGoal=self.video_goal or session.videoGoal,
            retriesAttempted=self.retries,
            maxRetries=self.max_retries_eff or session.maxRetries,
            creditsUsed=self.credits,
            layer1Failures=self.layers[0],
            layer2Failures=self.layers[1],
            layer3Failures=self.layers[2],
            endedAt=session.endedAt,
            extra=dict(session.extra),
        )

    def to_dict(self) -> dict:
        return {
            "line": self.line,
            "post": self.post_id,
            "prompt": self.prompt,
            "goal": self.goal,
            "maxRetries": self.max_retries,
            "status": self.status,
            "videoGoal": self.video_goal,
            "maxRetriesEffective": self.max_retries_eff,
            "videosDone": self.total("videos"),
            "retries": self.total("retries"),
            "credits": self.total("credits"),
            "layers": self.total_layers(),
            "videoIds": list(self.video_ids),
            "files": list(self.files),
            "mediaId": self.media_id,
            "sessions": self.sessions,
            "reason": self.reason,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Job":
        status = d.get("status", "pending")
        if status not in STATUSES:
            raise ValueError(f"unknown job status {status!r}")
        layers = [int(x) for x in (d.get("layers") or [0, 0, 0])][:3]
        return cls(
            post_id=str(d["post"]),
            prompt=str(d["prompt"]),
            goal=d.get("goal"),
            max_retries=d.get("maxRetries"),
            line=int(d.get("line") or 0),
            status=status,
            video_goal=d.get("videoGoal"),
            max_retries_eff=d.get("maxRetriesEffective"),
            videos=int(d.get("videosDone") or 0),
            retries=int(d.get("retries") or 0),
            credits=int(d.get("credits") or 0),
            layers=layers + [0] * (3 - len(layers)),
            video_ids=[str(v) for v in d.get("videoIds") or []],
            files=[str(f) for f in d.get("files") or []],
            media_id=d.get("mediaId"),
            sessions=int(d.get("sessions") or 0),
            reason=d.get("reason"),
            started_at=d.get("startedAt"),
            ended_at=d.get("endedAt"),
        )


def manifest_path(state_dir: str | Path, batch_file: str | Path) -> Path:
    """One manifest per batch file, keyed by the file's absolute path."""
    absolute = str(Path(batch_file).expanduser().resolve())
    digest = hashlib.sha256(absolute.encode("utf-8")).hexdigest()[:16]
    return Path(state_dir) / MANIFEST_DIR / f"{Path(absolute).stem[:40]}-{digest}.json"


@dataclass
class Manifest:
    path: Path
    file: str
    jobs: list[Job] = field(default_factory=list)
    stopped_by: str | None = None
    created_at: int = 0
    updated_at: int = 0
    last_outcome_at: int = 0  # epoch ms of the last attempt's outcome (the next-video delay holds from it)

    # ---- persistence

    @classmethod
    def load(cls, path: Path) -> "Manifest | None":
        """The saved manifest, or None when there is none. BatchError when it is unreadable."""
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
                raise ValueError("not a batch manifest of this version")
            jobs = [Job.from_dict(j) for j in data.get("jobs", [])]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            from .store import move_aside

            try:
                aside = move_aside(path)
            except OSError:
                aside = path
            raise BatchError(
                f"The batch manifest {path} is damaged ({str(exc)[:100]}); it was kept as {aside.name}; "
                "run without --resume to start the batch afresh."
            ) from None
        return cls(
            path,
            str(data.get("file", "")),
            jobs,
            data.get("stoppedBy"),
            int(data.get("createdAt") or 0),
            int(data.get("updatedAt") or 0),
            int(data.get("lastOutcomeAt") or 0),
        )

    def save(self) -> None:
        from .store import atomic_write_text

        now = int(time.time() * 1000)
        self.created_at = self.created_at or now
        self.updated_at = now
        data = {
            "version": MANIFEST_VERSION,
            "file": self.file,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "stoppedBy": self.stopped_by,
            "lastOutcomeAt": self.last_outcome_at,
            "jobs": [j.to_dict() for j in self.jobs],
        }
        atomic_write_text(self.path, json.dumps(data, indent=1, ensure_ascii=False))

    # ---- building and resuming

    @classmethod
    def fresh(cls, path: Path, file: str, specs: list[JobSpec]) -> "Manifest":
        return cls(path, file, [Job.from_spec(s) for s in specs])

    def reconcile(self, specs: list[JobSpec]) -> list[str]:
        """Bring the manifest in line with the (edited) file; one line per change.

        Rows are matched by (post, prompt, goal, max_retries) in order. A row left over at the
        place of a job left over is that job changed (it starts afresh); other left-over rows
        are new (pending) and other left-over jobs were removed (dropped).
        """
        notes: list[str] = []
        old = list(self.jobs)
        taken: set[int] = set()
        matched: list[Job | None] = []
        for s in specs:
            hit = next((i for i, j in enumerate(old) if i not in taken and j.key() == s.key()), None)
            if hit is not None:
                taken.add(hit)
                old[hit].line = s.line
            matched.append(old[hit] if hit is not None else None)
        leftover = [i for i in range(len(old)) if i not in taken]
        new_jobs: list[Job] = []
        for n, (s, j) in enumerate(zip(specs, matched), start=1):
            if j is not None:
                new_jobs.append(j)
                continue
            if n - 1 in leftover:
                leftover.remove(n - 1)
                notes.append(f"job {n} (line {s.line}) changed in the file: it starts afresh.")
            else:
                notes.append(f"job {n} (line {s.line}) is new in the file: added as pending.")
            new_jobs.append(Job.from_spec(s))
        for i in leftover:
            j = old[i]
            notes.append(
                f"a job was removed from the file (post {j.post_id[:8]}, prompt {_clip(j.prompt)}, {j.status}): dropped."
            )
        self.jobs = new_jobs
        self.stopped_by = None
        return notes

    def to_run(self) -> list[int]:
        """Indexes (0-based) of the jobs that still have work: everything not finished."""
        return [i for i, j in enumerate(self.jobs) if not j.finished]

    def counts(self) -> dict:
        c = {"success": 0, "failure": 0, "cancelled": 0, "pending": 0}
        for j in self.jobs:
            if j.status in ("success", "failure", "cancelled"):
                c[j.status] += 1
            else:  # pending, running (interrupted), rate_limited: will run on --resume
                c["pending"] += 1
        return c

    def batch_line(self) -> dict:
        c = self.counts()
        return {
            "event": "batch",
            "jobs": len(self.jobs),
            "success": c["success"],
            "failure": c["failure"],
            "cancelled": c["cancelled"],
            "pending": c["pending"],
            "completedVideos": sum(j.total("videos") for j in self.jobs),
            "creditsUsed": sum(j.total("credits") for j in self.jobs),
            "stoppedBy": self.stopped_by,
        }

    def exit_code(self) -> int:
        """0 every job succeeded; 1 all ran and one failed or was cancelled; 2 stopped with jobs pending."""
        c = self.counts()
        if c["pending"]:
            return 2
        return 0 if c["success"] == len(self.jobs) else 1


def batch_text(line: dict) -> str:
    """The batch line for people (the bell's notification, the UI)."""
    stop = f", stopped by {line['stoppedBy'].replace('_', ' ')}" if line.get("stoppedBy") else ""
    return (
        f"batch: {line['success']}/{line['jobs']} jobs succeeded, {line['failure']} failed, "
        f"{line['cancelled']} cancelled, {line['pending']} pending; {line['completedVideos']} videos, "
        f"{line['creditsUsed']} credits{stop}"
    )


def _clip(text: str, n: int = 30) -> str:
    one = " ".join(text.split())
    return repr(one if len(one) <= n else one[: n - 1] + "…")


__all__ = [
    "BatchError",
    "Job",
    "JobSpec",
    "Manifest",
    "STATUSES",
    "batch_text",
    "check_origin",
    "load_jobs",
    "manifest_path",
    "parse_post",
    "post_url",
]
