"""Saving finished videos to disk: names, streaming, checks, atomic rename, sidecars, retries.

No Textual and no CDP here. Bytes come from a `Fetcher` (the browser link supplies
one that reads through the browser's own session); this module decides where they
go and whether they are a whole video:

- streamed to `<name>.part` in the target folder (created with its parents), hashed
  on the way;
- checked: more than 0 bytes, exactly Content-Length when the server gave one, and
  the file starts with an MP4 `ftyp` box;
- then linked to the final name (never over an existing file: names are unique)
  and the `.part` removed, so nothing half-written ever carries the final name;
- beside it a sidecar `<stem>.json` (written atomically) with what the video is.

A failed try is retried up to `max_retries` times with backoff; HTTP 4xx answers
are not retried (asking again does not change a refusal). Only the URL without its
query string is ever stored or shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import string
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator
from urllib.parse import urlsplit, urlunsplit

DEFAULT_TEMPLATE = "{date}_{post8}_{n:02d}_{video8}"
MAX_RETRIES = 3
BACKOFF_S = (0.5, 1.0, 2.0)
PART_SUFFIX = ".part"
_TEMPLATE_FIELDS = {
    "date": "2026-01-31",
    "time": "235959",
    "post8": "abcdef01",
    "post": "abcdef01-2345",
    "media8": "abcdef01",
    "video8": "abcdef01",
    "video": "abcdef01-2345",
    "n": 1,
    "attempt": 1,
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=@-]+")


class DownloadError(Exception):
    """One try failed; `str()` is the reason, fit to show a user. `retry`: worth trying again."""

    def __init__(self, reason: str, *, retry: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


class TemplateError(ValueError):
    """A bad download_name template; the message is one sentence."""


@dataclass
class Response:
    """What a fetcher hands back: the HTTP status, lower-cased headers, and the body in chunks."""

    status: int | None
    headers: dict[str, str]
    chunks: Iterable[bytes]

    @property
    def content_length(self) -> int | None:
        v = self.headers.get("content-length")
        try:
            n = int(str(v).strip())
        except (TypeError, ValueError):
            return None
        return n if n >= 0 else None


Fetcher = Callable[[str], Response]
"""fetch(url) -> Response; raises DownloadError (or OSError) when nothing could be read."""


@dataclass(frozen=True)
class VideoJob:
    """One finished video to save, with what its sidecar records."""

    video_id: str
    url: str
    number: int  # the video's number in the session (1-based)
    attempt: int
    prompt: str
    retries_used: int = 0
    source_post_id: str | None = None
    media_id: str | None = None
    video_post_id: str | None = None
    options: dict | None = None
    session_started: float | None = None  # epoch seconds; {date}/{time} come from it
    url_source: str | None = None  # the signal that named the URL first: network, postList, dom, store


@dataclass(frozen=True)
class DownloadResult:
    job: VideoJob
    ok: bool
    path: str | None = None
    bytes: int = 0
    sha256: str | None = None
    tries: int = 0
    reason: str | None = None
    sidecar: str | None = None
    took_s: float = 0.0

    def to_event(self) -> dict:
        """The headless `download` line."""
        out: dict = {"event": "download", "videoId": self.job.video_id}
        if self.ok:
            out.update(path=self.path, bytes=self.bytes, sha256=self.sha256)
        else:
            out.update(error=self.reason, tries=self.tries)
        return out


# ----------------------------------------------------------------------------- naming


def check_template(template: str) -> str:
    """The template if it formats with the known fields and yields a file name; else TemplateError."""
    if not isinstance(template, str) or not template.strip():
        raise TemplateError("download_name cannot be empty.")
    try:
        fields = [f for _t, f, _s, _c in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise TemplateError(f"download_name {template!r} is not a valid template ({exc}).") from None
    unknown = sorted({f.split(".")[0].split("[")[0] for f in fields} - set(_TEMPLATE_FIELDS))
    if unknown:
        raise TemplateError(
            f"download_name {template!r} uses unknown field(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(_TEMPLATE_FIELDS))}."
        )
    try:
        sample = template.format(**_TEMPLATE_FIELDS)
    except (ValueError, IndexError, KeyError, AttributeError, TypeError) as exc:
        raise TemplateError(f"download_name {template!r} does not format ({exc}).") from None
    if not safe_stem(sample):
        raise TemplateError(f"download_name {template!r} makes an empty file name.")
    return template


def safe_stem(text: str) -> str:
    """A file-name stem: no separators or odd characters, no leading dots, at most 150 chars."""
    stem = text[:-4] if text.lower().endswith(".mp4") else text
    stem = _UNSAFE.sub("-", stem).strip(".-_")
    return stem[:150]


def file_stem(job: VideoJob, template: str = DEFAULT_TEMPLATE, now: float | None = None) -> str:
    when = dt.datetime.fromtimestamp(job.session_started or now or time.time())
    post = job.source_post_id or job.media_id or "nopost"
    values = {
        "date": when.strftime("%Y-%m-%d"),
        "time": when.strftime("%H%M%S"),
        "post8": post[:8],
        "post": post,
        "media8": (job.media_id or "nomedia")[:8],
        "video8": job.video_id[:8],
        "video": job.video_id,
        "n": job.number,
        "attempt": job.attempt,
    }
    stem = safe_stem(template.format(**values))
    return stem or safe_stem(DEFAULT_TEMPLATE.format(**values))


def strip_query(url: str) -> str:
    """The URL without its query string or fragment (they may carry tokens)."""
    try:
        p = urlsplit(url)
    except ValueError:
        return url.split("?", 1)[0].split("#", 1)[0]
    return urlunsplit((p.scheme, p.netloc, p.path, "", ""))


def looks_like_mp4(head: bytes) -> bool:
    """True when the bytes start with an ISO-BMFF `ftyp` box (what every MP4 starts with)."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return False
    size = int.from_bytes(head[:4], "big")
    return size == 1 or size >= 12  # 1: a 64-bit size follows


def default_downloads_dir() -> Path:
    """The user's XDG download dir (or ~/Downloads) + /grok-tui."""
    import platformdirs

    return Path(platformdirs.user_downloads_dir()) / "grok-tui"


# ----------------------------------------------------------------------------- the saver


@dataclass
class Downloader:
    """Saves VideoJobs into `folder`. Thread safe: several downloads may run at once."""

    folder: Path
    fetch: Fetcher
    template: str = DEFAULT_TEMPLATE
    max_retries: int = MAX_RETRIES
    backoff_s: tuple[float, ...] = BACKOFF_S
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    on_retry: Callable[[VideoJob, int, str], None] | None = None  # (job, try number that failed, reason)
    _names: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder).expanduser()
        check_template(self.template)

    # -- public

    def download(self, job: VideoJob) -> DownloadResult:
        """Save one video (blocking). Never raises for a failed download: the result says why."""
        t0 = time.monotonic()
        tries, reason = 0, "not tried"
        while tries <= self.max_retries:
            tries += 1
            try:
                path, size, digest = self._try(job)
            except DownloadError as exc:
                reason = exc.reason
                retry = exc.retry
            except OSError as exc:
                reason = f"could not write in {self.folder}: {exc.strerror or exc}"
                retry = True
            else:
                sidecar = self._write_sidecar(job, path, size, digest)
                return DownloadResult(job, True, str(path), size, digest, tries, None, sidecar, time.monotonic() - t0)
            if not retry or tries > self.max_retries:
                break
            if self.on_retry is not None:
                try:
                    self.on_retry(job, tries, reason)
                except Exception:
                    pass
            self.sleep(self.backoff_s[min(tries - 1, len(self.backoff_s) - 1)] if self.backoff_s else 0.0)
        return DownloadResult(job, False, tries=tries, reason=reason, took_s=time.monotonic() - t0)

    # -- one try

    def _try(self, job: VideoJob) -> tuple[Path, int, str]:
        self.folder.mkdir(parents=True, exist_ok=True)
        part, final = self._reserve(job)
        try:
            size, digest = self._stream(job.url, part)
            self._publish(part, final, job)
            return final, size, digest
        finally:
            _unlink(part)

    def _reserve(self, job: VideoJob) -> tuple[Path, Path]:
        """A unique final name and its `.part`, created empty (O_EXCL) so no other job takes it."""
        stem = file_stem(job, self.template, self.clock())
        with self._names:
            for k in range(1, 10_000):
                name = stem if k == 1 else f"{stem}-{k}"
                final = self.folder / f"{name}.mp4"
                part = self.folder / f"{name}.mp4{PART_SUFFIX}"
                if final.exists() or (self.folder / f"{name}.json").exists():
                    continue
                try:
                    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                except FileExistsError:
                    continue
                os.close(fd)
                return part, final
        raise DownloadError(f"no free file name for {stem}.mp4 in {self.folder}", retry=False)

    def _stream(self, url: str, part: Path) -> tuple[int, str]:
        resp = self.fetch(url)
        status = resp.status
        if status is not None and status >= 400:
            _close(resp.chunks)
            hint = " (the browser's session was refused: not logged in?)" if status in (401, 403) else ""
            raise DownloadError(f"HTTP {status}{hint} for {strip_query(url)}", retry=status >= 500 or status in (408, 425))
        expected = resp.content_length
        h = hashlib.sha256()
        size = 0
        head = b""
        with open(part, "wb") as fh:
            try:
                for chunk in resp.chunks:
                    if not chunk:
                        continue
                    if len(head) < 16:
                        head += chunk[: 16 - len(head)]
                    fh.write(chunk)
                    h.update(chunk)
                    size += len(chunk)
                    if expected is not None and size > expected:
                        raise DownloadError(f"the server sent more than its Content-Length ({expected} bytes)")
            finally:
                _close(resp.chunks)
            fh.flush()
            os.fsync(fh.fileno())
        if size == 0:
            raise DownloadError("the download was empty (0 bytes)")
        if expected is not None and size != expected:
            raise DownloadError(f"the download was cut short: {size} of {expected} bytes")
        if not looks_like_mp4(head):
            raise DownloadError(f"the file is not an MP4 (no ftyp box at the start; {size} bytes)", retry=False)
        return size, h.hexdigest()

    def _publish(self, part: Path, final: Path, job: VideoJob) -> None:
        """Give the checked `.part` its final name; never replaces a file that is already there."""
        try:
            os.link(part, final)
        except FileExistsError:
            raise DownloadError(f"{final.name} appeared while downloading; not overwriting it") from None
        except OSError:
            # no hard links on this filesystem: rename (the name was reserved and checked)
            if final.exists():
                raise DownloadError(f"{final.name} appeared while downloading; not overwriting it") from None
            os.rename(part, final)
        _fsync_dir(final.parent)

    def _write_sidecar(self, job: VideoJob, path: Path, size: int, digest: str) -> str | None:
        data = sidecar_dict(job, path, size, digest, self.clock())
        side = path.with_suffix(".json")
        try:
            from .store import atomic_write_text

            atomic_write_text(side, json.dumps(data, indent=2, ensure_ascii=False) + "\n", mode=0o644)
        except OSError:
            return None
        return str(side)


def sidecar_dict(job: VideoJob, path: Path, size: int, digest: str, saved_at: float) -> dict:
    return {
        "file": path.name,
        "prompt": job.prompt,
        "sourcePostId": job.source_post_id,
        "mediaId": job.media_id,
        "videoId": job.video_id,
        "videoPostId": job.video_post_id,
        "videoNumber": job.number,
        "attempt": job.attempt,
        "retriesUsed": job.retries_used,
        "options": dict(job.options) if job.options else {},
        "url": strip_query(job.url),
        "urlSource": job.url_source,
        "bytes": size,
        "sha256": digest,
        "savedAt": dt.datetime.fromtimestamp(saved_at, dt.timezone.utc).isoformat(timespec="milliseconds"),
    }


def _close(chunks: Iterable[bytes] | Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            pass


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = [
    "DEFAULT_TEMPLATE",
    "DownloadError",
    "DownloadResult",
    "Downloader",
    "Response",
    "TemplateError",
    "VideoJob",
    "check_template",
    "default_downloads_dir",
    "file_stem",
    "looks_like_mp4",
    "strip_query",
]
