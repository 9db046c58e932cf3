"""The simulated Grok Imagine site: its stream (no browser) and its page in a real headless Chromium."""

from __future__ import annotations

import http.client
import json
import pathlib
import sys
import threading
import time
import urllib.error
import urllib.request

import pychrome
import pytest

# The package may not be installed in the venv yet: make the repo root importable.
_ROOT = str(pathlib.Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from grok_tui.browser.launcher import launch_chrome  # noqa: E402
from grok_tui.sim import MODERATED_TEXT, RATE_LIMIT_TEXT, SimSite, iter_json_objects, parse_script

PROMPT = 'a "quoted" prompt, é 日本 🎬'
GEN = "/rest/app-chat/conversations/new"


# ---------------------------------------------------------------- helpers (no browser)
def post_generation(site: SimSite, prompt: str = PROMPT):
    """POST a generation request; return (status, list of raw reads as bytes)."""
    conn = http.client.HTTPConnection(site.host, site.port, timeout=10)
    body = json.dumps({"message": prompt, "parentPostId": site.media_id, "trusted": True}).encode()
    conn.request("POST", GEN, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    reads = []
    while True:
        b = resp.read1()
        if not b:
            break
        reads.append(b)
    conn.close()
    return resp.status, reads


def video_objs(text: str) -> list[dict]:
    out = []
    for raw in iter_json_objects(text):
        v = json.loads(raw).get("result", {}).get("response", {}).get("streamingVideoGenerationResponse")
        if v:
            out.append(v)
    return out


def test_script_grammar():
    got = parse_script("ok, mod@40 ,rate,silent,ok/50,mod@0/30")
    assert [o.kind for o in got] == ["ok", "mod", "rate", "silent", "ok", "mod"]
    assert got[1].mod_at == 40 and got[4].step_ms == 50 and got[5].mod_at == 0 and got[5].step_ms == 30
    assert [o.token for o in parse_script(["OK", "mod@7"])] == ["ok", "mod@7"]
    with pytest.raises(ValueError):
        parse_script("explode")
    with pytest.raises(ValueError):
        parse_script("mod@140")


def test_stream_mod40_balanced_and_split():
    with SimSite("mod@40", step_ms=20, steps=10) as site:
        t0 = time.time()
        status, reads = post_generation(site)
        assert status == 200
        data = b"".join(reads)
        text = data.decode("utf-8")
        objs = [json.loads(o) for o in iter_json_objects(text)]
        # conversation, userResponse (echoing the prompt intact), then video objects
        assert "conversationId" in objs[0]["result"]["conversation"]
        assert objs[1]["result"]["response"]["userResponse"]["message"] == PROMPT
        vids = video_objs(text)
        assert vids[-1]["moderated"] is True and vids[-1]["progress"] == 40
        assert all(v["moderated"] is False for v in vids[:-1])
        assert [v["progress"] for v in vids[:-1]] == [0, 10, 20, 30]
        assert all(v["parentPostId"] == site.media_id for v in vids)
        assert len({v["videoId"] for v in vids}) == 1
        # every object carries serverTs (epoch ms) and the emitted log matches the stream
        stamps = [v["serverTs"] for v in vids]
        assert stamps == sorted(stamps) and t0 * 1000 - 1 <= stamps[0] <= time.time() * 1000
        emitted = site.emitted
        assert [e["kind"] for e in emitted] == ["progress"] * 4 + ["moderated"]
        assert [e["t"] * 1000 for e in emitted] == pytest.approx(stamps)
        # framing: one read ends inside an object, and one inside a multi-byte character
        assert any(not r.rstrip(b"\n").endswith(b"}") for r in reads[:-1])
        bad_utf8 = 0
        for r in reads:
            try:
                r.decode("utf-8")
            except UnicodeDecodeError:
                bad_utf8 += 1
        assert bad_utf8 >= 1
        # objects back to back without a newline
        assert b"}{" in data
        assert b"}\n{" in data
        reqs = site.requests
        assert reqs[0]["prompt"] == PROMPT and reqs[0]["outcome"] == "mod@40" and reqs[0]["index"] == 0
        posts = json.loads(urllib.request.urlopen(site.base_url + "/rest/media/post/list").read())["posts"]
        assert posts[0]["type"] == "VIDEO" and posts[0]["moderated"] is True
        assert posts[0]["metadata"] == {"progress": 40, "parentPostId": site.media_id}


def test_stream_ok_silent_rate_and_inspection_endpoints():
    with SimSite("rate", step_ms=10, steps=5) as site:
        status, reads = post_generation(site)
        assert status == 429
        req = urllib.request.Request(site.base_url + "/__sim/script", data=b"silent,ok", method="POST")
        assert json.loads(urllib.request.urlopen(req).read())["remaining"] == ["silent", "ok"]
        _, reads = post_generation(site)
        vids = video_objs(b"".join(reads).decode())
        assert [v["progress"] for v in vids] == [10, 20, 30] and not any(v["moderated"] for v in vids)
        _, reads = post_generation(site)
        vids = video_objs(b"".join(reads).decode())
        assert vids[-1]["progress"] == 100 and vids[-1]["videoUrl"] == f"/media/videos/{vids[-1]['videoId']}.mp4"
        reqs = json.loads(urllib.request.urlopen(site.base_url + "/__sim/requests").read())
        assert [r["outcome"] for r in reqs] == ["rate", "silent", "ok"]
        kinds = [e["kind"] for e in json.loads(urllib.request.urlopen(site.base_url + "/__sim/emitted").read())]
        assert kinds[0] == "rate" and kinds[-1] == "completed" and "moderated" not in kinds
        with urllib.request.urlopen(site.base_url + vids[-1]["videoUrl"]) as r:
            assert r.headers["Content-Type"] == "video/mp4" and len(r.read()) > 0
        with urllib.request.urlopen(f"{site.base_url}/imagine-public/images/{site.media_id}.jpg") as r:
            assert r.headers["Content-Type"] == "image/jpeg" and r.read()[:2] == b"\xff\xd8"
        with urllib.request.urlopen(site.base_url + "/") as r:  # redirect to /imagine
            assert r.url.endswith("/imagine") and site.post_id in r.read().decode()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(site.base_url + "/nope")


# ---------------------------------------------------------------- browser helpers
class Page:
    def __init__(self, chrome):
        self.browser = pychrome.Browser(url=f"http://{chrome.host}:{chrome.port}")
        tabs = [t for t in self.browser.list_tab() if t._kwargs.get("type") == "page"]
        self.tab = tabs[0] if tabs else self.browser.new_tab()
        orig = self.tab._recv_loop

        def guarded_recv_loop():  # pychrome dies on json.loads("") when the socket closes
            try:
                orig()
            except Exception:
                self.tab._stopped.set()

        self.tab._recv_th = threading.Thread(target=guarded_recv_loop, daemon=True)
        self.tab.start()
        self.tab.Page.enable(_timeout=5)

    def goto(self, url: str):
        self.tab.Page.navigate(url=url, _timeout=10)
        self.wait("document.readyState === 'complete' && !!window.__sim && location.href === %s" % json.dumps(url))

    def js(self, expr: str):
        r = self.tab.Runtime.evaluate(expression=expr, returnByValue=True, awaitPromise=True, _timeout=10)
        if "exceptionDetails" in r:
            raise AssertionError(f"JS error in {expr!r}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr: str, timeout: float = 8.0):
        deadline = time.monotonic() + timeout
        while True:
            v = self.js(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expr}")
            time.sleep(0.03)

    def type_prompt(self, selector: str, text: str):
        self.js(
            f"""(() => {{ const el = document.querySelector({json.dumps(selector)}); el.focus();
                if (el.select) el.select(); else document.getSelection().selectAllChildren(el); return true; }})()"""
        )
        self.tab.Input.insertText(text=text, _timeout=5)

    def click(self, selector: str):
        box = self.js(
            f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
                el.scrollIntoView({{block: 'center'}}); const r = el.getBoundingClientRect();
                return [r.left + r.width / 2, r.top + r.height / 2]; }})()"""
        )
        x, y = box
        self.tab.Input.dispatchMouseEvent(type="mouseMoved", x=x, y=y, _timeout=5)
        for kind in ("mousePressed", "mouseReleased"):
            self.tab.Input.dispatchMouseEvent(type=kind, x=x, y=y, button="left", clickCount=1, _timeout=5)

    def store(self) -> dict:
        return json.loads(self.js("sessionStorage.getItem('useMediaStore') || '{}'"))

    def close(self):
        try:
            self.tab.stop()
        except Exception:
            pass


@pytest.fixture(scope="module")
def page():
    with launch_chrome("about:blank", headless=True) as chrome:
        p = Page(chrome)
        try:
            yield p
        finally:
            p.close()


def wait_requests(site: SimSite, n: int, timeout: float = 8.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(site.requests) < n:
        assert time.monotonic() < deadline, f"expected {n} generation requests, got {site.requests}"
        time.sleep(0.02)
    return site.requests


TEXTAREA = 'textarea[aria-label="Make a video"]'
GENERATE = 'button[aria-label="Redo"], button[aria-label="Make video"]'


# ---------------------------------------------------------------- browser tests
def test_textarea_is_react_like(page):
    with SimSite("mod@0,mod@0,mod@0", step_ms=20, steps=3, toast_ms=600) as site:
        page.goto(site.post_url())
        assert page.js(f"document.querySelector('{TEXTAREA}').placeholder") == "Type to customize video..."
        page.type_prompt(TEXTAREA, "first state")
        page.js(f"document.querySelector('{TEXTAREA}').value = 'bare assignment'")
        page.click(GENERATE)
        r = wait_requests(site, 1)[0]
        assert r["prompt"] == "first state" and r["trusted"] is True
        assert page.js(f"document.querySelector('{TEXTAREA}').value") == "first state"  # re-render wrote state back
        page.wait("!window.__sim.generating")

        page.type_prompt(TEXTAREA, PROMPT)
        assert page.js(f"document.querySelector('{TEXTAREA}').value") == PROMPT
        page.click(GENERATE)
        r = wait_requests(site, 2)[1]
        assert r["prompt"] == PROMPT and r["trusted"] is True and r["parentPostId"] == site.media_id
        page.wait("!window.__sim.generating")

        page.js("document.querySelector('button[aria-label=\"Make video\"]').click()")  # untrusted click
        assert wait_requests(site, 3)[2]["trusted"] is False


def test_prosemirror_prompt_intact(page):
    with SimSite("mod@0", step_ms=20, steps=3, editor="prosemirror") as site:
        page.goto(site.post_url())
        sel = 'div.tiptap.ProseMirror[contenteditable="true"]'
        assert page.js(f"!!document.querySelector('{sel}') && !document.querySelector('textarea')")
        page.type_prompt(sel, PROMPT)
        page.click('button[aria-label="Make video"]')
        r = wait_requests(site, 1)[0]
        assert r["prompt"] == PROMPT and r["trusted"] is True


def test_success_route_change_and_redo(page):
    with SimSite("ok,ok", step_ms=25, steps=6, toast_ms=600) as site:
        url = site.post_url()
        page.goto(url)
        src = f"/imagine-public/images/{site.media_id}.jpg"
        assert page.js(f"!!document.querySelector('img[src*=\"imagine-public/images/\"][src$=\"{src}\"]')")
        page.type_prompt(TEXTAREA, "a cat surfing")
        page.click('button[aria-label="Make video"]')
        # progress shown while generating
        page.wait("document.querySelector('article img[alt=\"Loading\"]') !== null")
        pct = page.wait(
            "(() => { const d = document.querySelector('button[aria-label=\"Video Options\"] div');"
            " const t = d && d.textContent; return /^\\d+%$/.test(t) && parseInt(t) > 0 ? t : null; })()"
        )
        assert 0 < int(pct[:-1]) < 100
        assert page.js("/^Generating \\d+%$/.test(document.querySelector('article span.tabular-nums.animate-pulse').textContent)")
        # success
        page.wait("!!document.querySelector('article video#sd-video[src]')")
        assert not page.js("!!document.querySelector('article img[alt=\"Loading\"], article img[alt=\"Moderated\"]')")
        vid = [e for e in site.emitted if e["kind"] == "completed"][0]["videoId"]
        assert page.js("document.querySelector('video#sd-video').getAttribute('src')") == f"/media/videos/{vid}.mp4"
        assert page.js("!!document.querySelector('button[aria-label=\"Redo\"]') && !document.querySelector('button[aria-label=\"Make video\"]')")
        entry = page.store()["state"]["videoByMediaId"][site.media_id][0]
        assert entry["videoId"] == vid and entry["moderated"] is False and entry["mediaUrl"].endswith(f"/media/videos/{vid}.mp4")
        new_path = page.wait(f"location.pathname !== '/imagine/post/{site.post_id}' && location.pathname")
        video_post = site.posts[0]["postId"]
        assert new_path == f"/imagine/post/{video_post}" and video_post != site.post_id
        assert page.js(f"!!document.querySelector('img[src$=\"{src}\"]')")  # source image unchanged
        # second attempt from the new route: same source image id
        page.click('button[aria-label="Redo"]')
        reqs = wait_requests(site, 2)
        assert reqs[1]["parentPostId"] == reqs[0]["parentPostId"] == site.media_id
        page.wait("!window.__sim.generating && !!document.querySelector('video#sd-video')")
        # a full reload of the video post renders the same source image and the video, with Redo
        page.goto(site.base_url + new_path)
        assert page.js(f"!!document.querySelector('img[src$=\"{src}\"]') && !!document.querySelector('video#sd-video[src]')")
        assert page.js("!!document.querySelector('button[aria-label=\"Redo\"]')")
        assert len(page.store()["state"]["videoByMediaId"][site.media_id]) == 2


def test_moderation_and_rate_limit(page):
    with SimSite("mod@40,rate", step_ms=20, steps=10, toast_ms=1500) as site:
        page.goto(site.post_url())
        page.type_prompt(TEXTAREA, "something spicy")
        page.click('button[aria-label="Make video"]')
        toast = 'section[aria-label*="Notifications"][aria-live="polite"] li.toast[data-visible="true"]'
        text = page.wait(f"(() => {{ const li = document.querySelector('{toast}'); return li && li.firstElementChild.textContent; }})()")
        assert text == MODERATED_TEXT
        ts = int(page.js(f"document.querySelector('{toast}').dataset.ts"))
        assert abs(ts / 1000 - time.time()) < 5
        assert page.js("!!document.querySelector('article img[alt=\"Moderated\"]')")
        assert not page.js("!!document.querySelector('article img[alt=\"Loading\"], article video')")
        entry = page.store()["state"]["videoByMediaId"][site.media_id][0]
        assert entry["moderated"] is True and entry["progress"] == 40 and "mediaUrl" not in entry
        # the toast is re-rendered once (new element, same data-ts), then removed
        page.js(f"window.__firstToast = document.querySelector('{toast}'); true")
        page.wait(f"document.querySelector('{toast}') && document.querySelector('{toast}') !== window.__firstToast")
        assert int(page.js(f"document.querySelector('{toast}').dataset.ts")) == ts
        page.wait(f"!document.querySelector('{toast}')", timeout=4)
        # rate limit
        page.click('button[aria-label="Make video"]')
        assert wait_requests(site, 2)[1]["outcome"] == "rate"
        text = page.wait(f"(() => {{ const li = document.querySelector('{toast}'); return li && li.textContent; }})()")
        assert text == RATE_LIMIT_TEXT
        assert [e["kind"] for e in site.emitted][-1] == "rate"
        assert not page.js("!!document.querySelector('article img[alt=\"Loading\"]')")
