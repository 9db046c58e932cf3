"""grok_tui.downloads on real files: names, checks, atomic rename, sidecars, retries."""

from __future__ import annotations

import hashlib
import json
import threading

import pytest

from grok_tui.downloads import (
    DownloadError,
    Downloader,
    Response,
    TemplateError,
    VideoJob,
    check_template,
    file_stem,
    looks_like_mp4,
    strip_query,
)

VIDEO_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
POST_ID = "abcdef01-2345-6789-abcd-ef0123456789"


def mp4(n: int = 4096, seed: int = 1) -> bytes:
    head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    body = bytes((i * 31 + seed) % 251 for i in range(max(0, n - len(head))))
    return head + body


def job(**kw) -> VideoJob:
    base = dict(
        video_id=VIDEO_ID,
        url="http://127.0.0.1:1/media/videos/x.mp4?token=SECRET#frag",
        number=1,
        attempt=2,
        prompt="a fox",
        retries_used=1,
        source_post_id=POST_ID,
        media_id=POST_ID,
        video_post_id="99999999-0000",
        options={"videoLength": 10, "resolution": "720p"},
        session_started=1_780_000_000.0,
        url_source="network",
    )
    base.update(kw)
    return VideoJob(**base)


class Served:
    """A fetcher serving scripted answers, one per call: bytes, (status, bytes), ('short', bytes) or an exception."""

    def __init__(self, *answers, chunk: int = 1000):
        self.answers = list(answers)
        self.calls: list[str] = []
        self.chunk = chunk

    def __call__(self, url: str) -> Response:
        self.calls.append(url)
        a = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(a, Exception):
            raise a
        status, short = 200, False
        if isinstance(a, tuple):
            tag, a = a
            if tag == "short":
                short = True
            else:
                status = tag
        length = len(a)
        body = a[: length // 2] if short else a
        chunks = (body[i : i + self.chunk] for i in range(0, len(body), self.chunk))
        return Response(status, {"content-length": str(length)}, chunks)


def saver(tmp_path, fetch, **kw) -> tuple[Downloader, list[float]]:
    slept: list[float] = []
    d = Downloader(tmp_path / "a" / "b" / "videos", fetch, sleep=slept.append, **kw)
    return d, slept


def test_saves_the_bytes_with_a_complete_sidecar_and_no_part(tmp_path):
    data = mp4(50_000)
    d, slept = saver(tmp_path, Served(data))
    r = d.download(job())
    assert r.ok and r.tries == 1 and slept == []
    path = tmp_path / "a" / "b" / "videos" / f"{file_stem(job())}.mp4"
    assert r.path == str(path)
    assert path.read_bytes() == data
    assert r.sha256 == hashlib.sha256(data).hexdigest() and r.bytes == len(data)
    side = json.loads(path.with_suffix(".json").read_text())
    assert side == {
        "file": path.name,
        "prompt": "a fox",
        "sourcePostId": POST_ID,
        "mediaId": POST_ID,
        "videoId": VIDEO_ID,
        "videoPostId": "99999999-0000",
        "videoNumber": 1,
        "attempt": 2,
        "retriesUsed": 1,
        "options": {"videoLength": 10, "resolution": "720p"},
        "url": "http://127.0.0.1:1/media/videos/x.mp4",
        "urlSource": "network",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "savedAt": side["savedAt"],
    }
    assert side["savedAt"].endswith("+00:00")
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, path.with_suffix(".json").name])
    assert r.to_event() == {"event": "download", "videoId": VIDEO_ID, "path": str(path), "bytes": len(data), "sha256": r.sha256}


def test_default_name_and_template():
    stem = file_stem(job(number=3))
    date = stem.split("_")[0]
    assert stem == f"{date}_abcdef01_03_0f1e2d3c"
    assert len(date) == 10 and date[4] == "-"
    assert file_stem(job(), "{video}-{attempt}") == f"{VIDEO_ID}-2"
    assert file_stem(job(), "../../{video8}/x y") == "0f1e2d3c-x-y"  # no path separators, no spaces
    assert file_stem(job(source_post_id=None, media_id=None), "{post8}_{n}") == "nopost_1"


@pytest.mark.parametrize(
    "template, words",
    [("", "empty"), ("{nope}", "unknown field(s) nope"), ("{n:zz}", "does not format"), ("{", "not a valid"), ("...", "empty file name")],
)
def test_bad_templates_are_one_sentence(template, words):
    with pytest.raises(TemplateError) as e:
        check_template(template)
    assert words in str(e.value)


def test_names_are_unique(tmp_path):
    data = mp4()
    d, _ = saver(tmp_path, Served(data))
    paths = [d.download(job()).path for _ in range(3)]
    assert len(set(paths)) == 3
    assert [p.rsplit("/", 1)[1] for p in paths][1:] == [f"{file_stem(job())}-2.mp4", f"{file_stem(job())}-3.mp4"]
    for p in paths:
        assert open(p, "rb").read() == data
        assert json.loads(open(p[:-4] + ".json").read())["file"] == p.rsplit("/", 1)[1]


def test_unique_names_across_threads(tmp_path):
    d, _ = saver(tmp_path, Served(mp4(200_000), chunk=5000))
    results = []
    threads = [threading.Thread(target=lambda: results.append(d.download(job()))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.ok for r in results)
    assert len({r.path for r in results}) == 6
    assert not list(d.folder.glob("*.part"))


def test_a_short_body_is_retried_then_recorded_failed(tmp_path):
    data = mp4(10_000)
    fetch = Served(("short", data))
    retried = []
    d, slept = saver(tmp_path, fetch, on_retry=lambda j, n, why: retried.append((n, why)))
    r = d.download(job())
    assert not r.ok and r.tries == 4 and len(fetch.calls) == 4
    assert r.reason == f"the download was cut short: {len(data) // 2} of {len(data)} bytes"
    assert slept == [0.5, 1.0, 2.0]
    assert [n for n, _ in retried] == [1, 2, 3]
    assert list(d.folder.iterdir()) == []  # nothing under the final name, no .part
    assert r.to_event() == {"event": "download", "videoId": VIDEO_ID, "error": r.reason, "tries": 4}


def test_a_failed_try_then_a_good_one(tmp_path):
    data = mp4()
    d, slept = saver(tmp_path, Served(("short", data), DownloadError("connection reset"), data))
    r = d.download(job())
    assert r.ok and r.tries == 3 and slept == [0.5, 1.0]
    assert open(r.path, "rb").read() == data


def test_a_403_is_not_retried_and_says_why(tmp_path):
    fetch = Served((403, b"forbidden"))
    d, slept = saver(tmp_path, fetch)
    r = d.download(job())
    assert not r.ok and r.tries == 1 and slept == []
    assert r.reason == "HTTP 403 (the browser's session was refused: not logged in?) for http://127.0.0.1:1/media/videos/x.mp4"
    assert "SECRET" not in r.reason and list(d.folder.iterdir()) == []


def test_a_500_is_retried(tmp_path):
    d, slept = saver(tmp_path, Served((500, b"oops"), mp4()))
    assert d.download(job()).ok and slept == [0.5]


def test_not_an_mp4_and_empty_are_failures(tmp_path):
    d, _ = saver(tmp_path, Served(b"<html>login</html>" * 10))
    r = d.download(job())
    assert not r.ok and r.tries == 1 and "not an MP4" in r.reason
    d, _ = saver(tmp_path, Served(b""), max_retries=1)
    r = d.download(job())
    assert not r.ok and r.tries == 2 and r.reason == "the download was empty (0 bytes)"
    assert list(d.folder.iterdir()) == []


def test_a_body_cut_mid_stream_leaves_nothing(tmp_path):
    data = mp4(30_000)

    def fetch(url):
        def chunks():
            yield data[:10_000]
            raise DownloadError("the connection closed mid-body")

        return Response(200, {}, chunks())

    d, _ = saver(tmp_path, fetch, max_retries=0)
    r = d.download(job())
    assert not r.ok and r.reason == "the connection closed mid-body"
    assert list(d.folder.iterdir()) == []


def test_an_unwritable_folder_is_a_clear_failure(tmp_path):
    (tmp_path / "file").write_text("x")
    d = Downloader(tmp_path / "file" / "sub", Served(mp4()), sleep=lambda s: None, max_retries=0)
    r = d.download(job())
    assert not r.ok and r.reason.startswith("could not write in ")


def test_helpers():
    assert strip_query("https://assets.grok.com/u/v.mp4?sig=abc&x=1#t") == "https://assets.grok.com/u/v.mp4"
    assert looks_like_mp4(mp4(100)) and not looks_like_mp4(b"\x00\x00\x00\x08ftyp") and not looks_like_mp4(b"x" * 20)
