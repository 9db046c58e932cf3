"""Issue 13 end to end: real headless Chromium, the sim's assets origin behind an HttpOnly cookie.

`grok-tui run --no-ui` (in-process) saves every successful video while the session runs,
through the browser's own session; the generation-options guard holds back a request whose
options changed (Fetch domain) before it reaches the sim.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from browser_rig import run_session

PROMPT = "a red fox running through snow, slow motion, cinematic"


def events(lines, name):
    return [x for x in lines if x["event"] == name]


def no_cookie_anywhere(cookie: str, *places) -> None:
    """The sim's cookie value is in none of the given texts, files or folders (recursively)."""
    assert cookie and len(cookie) > 16
    for place in places:
        if isinstance(place, Path):
            files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
            for f in files:
                assert cookie.encode() not in f.read_bytes(), f
        else:
            assert cookie not in place


async def test_seed_session_saves_three_videos_byte_identical(rigs, tmp_path, monkeypatch):
    from grok_tui.browser import network

    asked = []  # the link's downloads ask the generation watch before each read (issue 13: they yield to streams)
    hold = network.GenerationWatch.hold
    monkeypatch.setattr(network.GenerationWatch, "hold", lambda self: asked.append(1) or hold(self))
    rig = rigs("ok,mod@40,ok,ok", video_size=300_000)
    folder = tmp_path / "deep" / "down" / "videos"  # created with its parents
    rc, lines, store = await run_session(rig, PROMPT, video_goal=3, max_retries=5, downloads_dir=str(folder))
    assert rc == 0
    summary = lines[-1]
    assert (summary["event"], summary["downloads"], summary["downloadFailures"]) == ("summary", 3, 0)
    keys = list(summary)
    assert keys[-2:] == ["downloads", "downloadFailures"] and keys[1:11][0] == "outcome"
    saved = events(lines, "download")
    assert len(saved) == 3 and all("error" not in d for d in saved)
    completed = [o for o in events(lines, "outcome") if o["outcome"] == "success"]
    assert [d["videoId"] for d in saved] == [o["videoId"] for o in completed]
    names = sorted(p.name for p in folder.iterdir())
    assert not [n for n in names if n.endswith(".part")]
    assert len([n for n in names if n.endswith(".mp4")]) == 3 and len([n for n in names if n.endswith(".json")]) == 3
    opts = events(lines, "options")[0]["options"]
    assert opts and opts["videoLength"] == rig.site.video_options["videoLength"]
    for n, d in enumerate(saved, start=1):
        path = Path(d["path"])
        data = path.read_bytes()
        # byte-identical to what the sim served for that video id
        assert hashlib.sha256(data).hexdigest() == d["sha256"] == rig.site.video_sha256(d["videoId"])
        assert d["bytes"] == len(data) == 300_000 and data[4:8] == b"ftyp"
        assert path.name.split("_")[2] == f"{n:02d}" and path.name.endswith(f"_{d['videoId'][:8]}.mp4")
        side = json.loads(path.with_suffix(".json").read_text())
        assert side["videoId"] == d["videoId"]  # the FULL id
        assert side["prompt"] == PROMPT and side["sha256"] == d["sha256"] and side["bytes"] == len(data)
        assert side["sourcePostId"] == rig.site.post_id and side["mediaId"] == rig.site.media_id
        assert side["videoPostId"] and side["attempt"] in (1, 3, 4) and side["videoNumber"] == n
        assert side["options"] == opts and side["url"] == rig.site.video_url(d["videoId"]) and side["savedAt"]
        assert side["retriesUsed"] == (0 if n == 1 else 1)
    # every video came from the assets origin with the browser's cookie; grok-tui never saw it
    gets = [a for a in rig.site.asset_requests if a.get("status") == 200]
    assert len(gets) >= 3 and all(a["cookie"] for a in gets)
    assert len(asked) >= 3  # at least one read per saved video, each after asking
    [rec] = store.history()
    no_cookie_anywhere(
        rig.site.session_cookie, "\n".join(json.dumps(x) for x in lines), folder, Path(rec["logPath"]), store.directory
    )


async def test_truncated_download_is_retried_then_failed_and_the_session_goes_on(rigs, tmp_path):
    # every video GET gets half its body under the full Content-Length (the page's player too)
    rig = rigs("ok,ok", video_size=200_000, truncate_videos=1000)
    rc, lines, _ = await run_session(rig, PROMPT, video_goal=2, downloads_dir=str(tmp_path / "dl"))
    assert rc == 0 and lines[-1]["completedVideos"] == 2 and lines[-1]["outcome"] == "success"
    assert (lines[-1]["downloads"], lines[-1]["downloadFailures"]) == (0, 2)
    failed = events(lines, "download")
    assert len(failed) == 2 and all("path" not in d for d in failed)
    for d in failed:
        assert d["tries"] == 4 and ("cut short" in d["error"] or "CONTENT_LENGTH" in d["error"]), d
    retries = [x for x in events(lines, "log") if "download try" in x["message"]]
    assert len(retries) == 6  # 3 retries per video
    errors = [x for x in events(lines, "log") if x["level"] == "ERROR" and "not saved after 4 tries" in x["message"]]
    assert len(errors) == 2
    truncated = [a for a in rig.site.asset_requests if a.get("truncated") and a.get("cookie")]
    assert len(truncated) >= 8
    folder = tmp_path / "dl"
    assert not folder.exists() or list(folder.iterdir()) == []  # nothing half-written, no .part


async def test_a_403_is_one_clear_failure_line(rigs, tmp_path):
    rig = rigs("ok", video_size=50_000)
    # The browser has no session cookie for the assets origin (logged out): the video host refuses.
    from grok_tui.browser.cdp import CdpSession
    from grok_tui.browser.endpoint import discover

    _, targets = discover(port=rig.chrome.port)
    page = CdpSession([t for t in targets if "/imagine/post/" in t["url"]][0])
    try:
        for _ in range(300):  # the page (which sets the cookie) has loaded
            r = page.call("Runtime.evaluate", timeout=20, returnByValue=True,
                          expression="location.protocol === 'http:' && document.readyState === 'complete'")
            if (r.get("result") or {}).get("value") is True:
                break
            time.sleep(0.1)
        page.call("Network.clearBrowserCookies", timeout=20)  # the test's own throwaway profile
        assert page.call("Network.getCookies", timeout=20, urls=[rig.site.assets_base_url])["cookies"] == []
    finally:
        page.close()
    rc, lines, _ = await run_session(rig, PROMPT, video_goal=1, downloads_dir=str(tmp_path / "dl"))
    assert rc == 0  # the session succeeded; only the file is missing
    [d] = events(lines, "download")
    assert d["tries"] == 1 and d["error"].startswith("HTTP 403")
    errors = [x for x in events(lines, "log") if x["level"] == "ERROR" and "not saved" in x["message"]]
    assert len(errors) == 1 and "HTTP 403" in errors[0]["message"]
    assert (lines[-1]["downloads"], lines[-1]["downloadFailures"]) == (0, 1)
    assert not (tmp_path / "dl").exists() or not any((tmp_path / "dl").iterdir())


async def test_options_reset_by_redo_is_stopped_before_it_reaches_the_sim(rigs, tmp_path):
    rig = rigs("ok,ok", video_options={"videoLength": 10}, redo_resets={"videoLength": 6})
    rc, lines, _ = await run_session(rig, PROMPT, video_goal=2, downloads_dir=str(tmp_path / "dl"))
    assert rc == 2
    s = lines[-1]
    assert (s["outcome"], s["reason"], s["completedVideos"], s["creditsUsed"]) == ("cancelled", "options_changed", 1, 1)
    assert len(rig.site.requests) == 1  # the second request never left the browser
    assert rig.site.requests[0]["options"]["videoLength"] == 10
    [changed] = events(lines, "optionsChanged")
    assert changed == {"event": "optionsChanged", "attempt": 2, "changes": "video length 10 → 6", "blocked": True}
    assert any("video length 10 → 6" in x["message"] for x in events(lines, "log") if x["level"] in ("WARN", "ERROR"))


async def test_allow_option_change_only_warns(rigs, tmp_path):
    rig = rigs("ok,ok", video_options={"videoLength": 10}, redo_resets={"videoLength": 6})
    rc, lines, _ = await run_session(
        rig, PROMPT, video_goal=2, allow_option_change=True, downloads_dir=str(tmp_path / "dl")
    )
    assert rc == 0 and lines[-1]["completedVideos"] == 2 and "reason" not in lines[-1]
    assert [r["options"]["videoLength"] for r in rig.site.requests] == [10, 6]
    warns = [x for x in events(lines, "log") if x["level"] == "WARN" and "video length 10 → 6" in x["message"]]
    assert len(warns) == 1 and "sent anyway" in warns[0]["message"]


async def test_the_post_list_alone_names_the_video_and_it_is_saved(rigs, tmp_path):
    """The stream's completed object has no videoUrl, the player no src, the store entry no URL: only the
    page's GET /rest/media/post/list says where the file is, and the video is saved from it, byte-identical."""
    from grok_tui.browser.cdp import CdpSession
    from grok_tui.browser.endpoint import discover

    rig = rigs("ok", video_size=120_000, video_url_in=("postList",))
    folder = tmp_path / "dl"
    rc, lines, _ = await run_session(rig, PROMPT, video_goal=1, downloads_dir=str(folder))
    assert rc == 0 and lines[-1]["outcome"] == "success"
    assert (lines[-1]["downloads"], lines[-1]["downloadFailures"]) == (1, 0)
    [d] = events(lines, "download")
    data = Path(d["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == d["sha256"] == rig.site.video_sha256(d["videoId"])
    assert len(data) == d["bytes"] == 120_000 and data[4:8] == b"ftyp"
    side = json.loads(Path(d["path"]).with_suffix(".json").read_text())
    assert side["urlSource"] == "postList" and side["url"] == rig.site.video_url(d["videoId"])
    assert side["videoId"] == d["videoId"] and side["videoPostId"] == rig.site.posts[0]["postId"]
    assert rig.site.post_list_reads >= 1
    # the other places really had no URL
    _, targets = discover(port=rig.chrome.port)
    page = CdpSession([t for t in targets if "/imagine/post/" in t["url"]][0])
    try:
        shown = page.call("Runtime.evaluate", timeout=20, returnByValue=True, expression="""(() => {
            const v = document.querySelector('article video#sd-video');
            const s = JSON.parse(sessionStorage.getItem('useMediaStore') || '{}');
            return {video: !!v, src: v ? v.getAttribute('src') : 'none',
                    entries: Object.values((s.state || {}).videoByMediaId || {}).flat()};
        })()""")["result"]["value"]
    finally:
        page.close()
    assert shown["video"] is True and shown["src"] is None
    assert [e["videoId"] for e in shown["entries"]] == [d["videoId"]]
    assert not [e for e in shown["entries"] if "mediaUrl" in e or "videoUrl" in e]
    assert not [x for x in rig.site.posts if x["videoUrl"] is None]  # the sim knows it; it just does not say
