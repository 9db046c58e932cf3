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
from grok_tui.sim import (  # noqa: E402
    CONTROL_TOAST_TEXT,
    COVER_TOAST_TEXT,
    FOREIGN_DRAFT,
    MODERATED_TEXT,
    RATE_LIMIT_TEXT,
    SimSite,
    iter_json_objects,
    parse_script,
)

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
        assert vids[-1]["progress"] == 100 and vids[-1]["videoUrl"] == site.video_url(vids[-1]["videoId"])
        reqs = json.loads(urllib.request.urlopen(site.base_url + "/__sim/requests").read())
        assert [r["outcome"] for r in reqs] == ["rate", "silent", "ok"]
        kinds = [e["kind"] for e in json.loads(urllib.request.urlopen(site.base_url + "/__sim/emitted").read())]
        assert kinds[0] == "rate" and kinds[-1] == "completed" and "moderated" not in kinds
        cookie = {"Cookie": f"sim_session={site.session_cookie}"}
        with urllib.request.urlopen(urllib.request.Request(vids[-1]["videoUrl"], headers=cookie)) as r:
            assert r.headers["Content-Type"] == "video/mp4" and r.read() == site.video_file(vids[-1]["videoId"])
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
        assert page.js("document.querySelector('video#sd-video').getAttribute('src')") == site.video_url(vid)
        assert page.js("!!document.querySelector('button[aria-label=\"Redo\"]') && !document.querySelector('button[aria-label=\"Make video\"]')")
        entry = page.store()["state"]["videoByMediaId"][site.media_id][0]
        assert entry["videoId"] == vid and entry["moderated"] is False and entry["mediaUrl"] == site.video_url(vid)
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


# ---------------------------------------------------------------- piece: pages that are not the post, knobs
MULTILINE = "first line, é 日本\n\nthird line after a blank one\n🎬 last"
PM = 'div.tiptap.ProseMirror[contenteditable="true"]'
TOAST = 'section[aria-label*="Notifications"][aria-live="polite"] li.toast[data-visible="true"]'


def wait_for(cond, timeout: float = 8.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def press_enter(page: Page):
    page.tab.Input.dispatchKeyEvent(type="keyDown", key="Enter", code="Enter", windowsVirtualKeyCode=13, text="\r", _timeout=5)
    page.tab.Input.dispatchKeyEvent(type="keyUp", key="Enter", code="Enter", windowsVirtualKeyCode=13, _timeout=5)


def test_prosemirror_multiline_is_paragraphs_and_arrives_byte_identical(page):
    with SimSite("mod@0,mod@0,mod@0", step_ms=20, steps=3, editor="prosemirror", toast_ms=300) as site:
        page.goto(site.post_url())
        # empty: one empty paragraph with the placeholder, as tiptap renders it
        assert page.js(f"document.querySelector('{PM}').innerHTML") == (
            '<p class="is-empty is-editor-empty" data-placeholder="Type to customize video...">'
            '<br class="ProseMirror-trailingBreak"></p>'
        )
        page.type_prompt(PM, MULTILINE)
        paras = page.js(f"[...document.querySelector('{PM}').children].map(p => [p.tagName, p.textContent, p.innerHTML])")
        assert [p[0] for p in paras] == ["P"] * 4
        assert [p[1] for p in paras] == MULTILINE.split("\n")
        assert paras[1][2] == '<br class="ProseMirror-trailingBreak">'  # the blank line is an empty paragraph
        assert page.js("window.__sim.promptState") == MULTILINE
        # innerText is not the text: paragraphs read back with doubled line breaks, as on Grok
        assert page.js(f"document.querySelector('{PM}').innerText") != MULTILINE
        page.click(GENERATE)
        assert wait_requests(site, 1)[0]["prompt"] == MULTILINE
        page.wait("!window.__sim.generating")
        # execCommand("insertText") (no beforeinput): the page re-reads its DOM into paragraphs
        page.js(
            f"""(() => {{ const el = document.querySelector('{PM}'); el.focus();
                document.getSelection().selectAllChildren(el);
                return document.execCommand('insertText', false, {json.dumps(MULTILINE)}); }})()"""
        )
        assert page.js("window.__sim.promptState") == MULTILINE
        page.click(GENERATE)
        assert wait_requests(site, 2)[1]["prompt"] == MULTILINE
        page.wait("!window.__sim.generating")
        # Enter key presses split paragraphs; Backspace joins
        page.type_prompt(PM, "a")
        press_enter(page)
        press_enter(page)
        page.tab.Input.insertText(text="bx", _timeout=5)
        page.tab.Input.dispatchKeyEvent(type="rawKeyDown", key="Backspace", code="Backspace", windowsVirtualKeyCode=8, _timeout=5)
        page.tab.Input.dispatchKeyEvent(type="keyUp", key="Backspace", code="Backspace", windowsVirtualKeyCode=8, _timeout=5)
        assert page.js("window.__sim.promptState") == "a\n\nb"
        assert page.js(f"document.querySelector('{PM}').children.length") == 3
        page.click(GENERATE)
        assert wait_requests(site, 3)[2]["prompt"] == "a\n\nb"


def test_textarea_multiline_arrives_byte_identical(page):
    with SimSite("mod@0", step_ms=20, steps=3) as site:
        page.goto(site.post_url())
        page.type_prompt(TEXTAREA, MULTILINE)
        page.click(GENERATE)
        assert wait_requests(site, 1)[0]["prompt"] == MULTILINE


def test_foreign_origin_page_records_text_and_clicks(page):
    with SimSite() as site:
        assert site.foreign_port not in (0, site.port)
        url = site.foreign_url(f"/imagine/post/{site.post_id}", image=site.media_id)
        page.goto(site.post_url())
        assert site.navigate(url) == 1  # the post page leaves by itself
        page.wait(f"location.href === {json.dumps(url)} && document.readyState === 'complete' && !!window.__simDraft")
        assert page.js("location.origin") == site.foreign_base_url != site.base_url
        assert page.js('document.querySelector(\'[contenteditable="true"]\').innerText') == FOREIGN_DRAFT
        assert page.js(f"!!document.querySelector('img[src$=\"imagine-public/images/{site.media_id}.jpg\"]').complete")
        assert site.page_events == []
        page.click('button[aria-label="Make video"]')
        events = wait_for(lambda: [e for e in site.page_events if e["kind"] == "click"], what="a click record")
        assert events[0] == {**events[0], "view": "foreign", "target": "make-video", "trusted": True,
                             "origin": site.foreign_base_url, "text": FOREIGN_DRAFT}
        assert [e["kind"] for e in site.page_events][:1] == ["press"]
        page.type_prompt('[contenteditable="true"]', "overwritten")
        texts = wait_for(lambda: [e for e in site.page_events if e["kind"] == "text"], what="a text record")
        assert texts[-1]["text"] == "overwritten" and texts[-1]["view"] == "foreign"
        page.js("document.querySelector('[contenteditable=\"true\"]').textContent = 'set without an event'; true")
        wait_for(lambda: [e for e in site.page_events if e.get("text") == "set without an event"], what="a DOM change record")
        assert site.requests == []
        # the textarea variant
        page.tab.Page.navigate(url=site.foreign_url(editor="textarea"), _timeout=10)
        page.wait("document.readyState === 'complete' && !!document.querySelector('textarea')")
        assert page.js("document.querySelector('textarea[aria-label=\"Make a video\"]').value") == FOREIGN_DRAFT
        page.js("document.querySelector('textarea').value = 'assigned'; true")
        wait_for(lambda: [e for e in site.page_events if e.get("text") == "assigned"], what="a value record")


def test_settings_route_by_pushstate_and_in_full(page):
    with SimSite() as site:
        page.goto(site.post_url())
        page.wait("window.__sim.live")
        assert site.push_route("/settings/account") == 1
        page.wait("location.pathname === '/settings/account' && !!document.querySelector('[data-sim-view=\"settings\"]')")
        assert page.js("location.origin") == site.base_url
        # the post's composer is gone: the only editor and button are the settings view's
        assert page.js("document.querySelectorAll('button[aria-label=\"Make video\"], button[aria-label=\"Redo\"]').length") == 1
        assert not page.js("!!document.querySelector('#generate, textarea, img.source')")
        assert page.js('document.querySelector(\'[contenteditable="true"]\').innerText') == FOREIGN_DRAFT
        page.click('button[aria-label="Make video"]')
        click = wait_for(lambda: [e for e in site.page_events if e["kind"] == "click"], what="a click record")[0]
        assert click["view"] == "settings" and click["path"] == "/settings/account" and click["origin"] == site.base_url
        assert site.requests == []
        # back: the post view again, and its own button generates
        page.js("history.back(); true")
        page.wait("location.pathname.startsWith('/imagine/post/') && !!document.querySelector('#generate')")
        assert not page.js("!!document.querySelector('[data-sim-view]')")
        # the header link does the same pushState
        page.click('a[href="/settings/account"]')
        page.wait("location.pathname === '/settings/account' && !!document.querySelector('[data-sim-view=\"settings\"]')")
        page.tab.Page.navigate(url=site.url("/settings/account"), _timeout=10)
        page.wait("document.readyState === 'complete' && !!document.querySelector('[data-sim-view=\"settings\"] [contenteditable]')")
        assert not page.js("!!window.__sim")
        wait_for(lambda: site.live_pages == 0, timeout=3, what="the left page to leave the live channel")


def hit_at_button(page: Page) -> str:
    return page.js(
        """(() => { const b = document.querySelector('#generate'); const r = b.getBoundingClientRect();
            const h = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return h === b || b.contains(h) ? 'button' : (h.closest('li[data-sim-cover]') ? 'cover' : h.outerHTML); })()"""
    )


def test_cover_toast_after_generation_and_on_demand(page):
    with SimSite("mod@0,ok", step_ms=20, steps=3, cover_toast_ms=2500) as site:
        page.goto(site.post_url())
        assert hit_at_button(page) == "button"
        page.click(GENERATE)
        wait_requests(site, 1)
        page.wait("!!document.querySelector('li[data-sim-cover]')")
        assert hit_at_button(page) == "cover"
        cover = page.js("document.querySelector('li[data-sim-cover]').textContent")
        assert cover == COVER_TOAST_TEXT
        page.click("#generate")  # the mouse lands on the toast, not the button
        wait_for(lambda: any(e["target"] == "cover-toast" for e in site.page_events), what="the toast's click")
        time.sleep(0.3)
        assert len(site.requests) == 1
        assert [e["target"] for e in site.page_events if e["kind"] == "click"] == ["generate", "cover-toast"]
        page.wait("!document.querySelector('li[data-sim-cover]')", timeout=5)
        assert hit_at_button(page) == "button"
        # on demand, and switched off live
        site.set_knobs(cover_toast_ms=0)
        assert site.cover_button(400) == 1
        page.wait("!!document.querySelector('li[data-sim-cover]')")
        assert hit_at_button(page) == "cover"
        page.wait("!document.querySelector('li[data-sim-cover]')", timeout=3)
        page.click(GENERATE)
        wait_requests(site, 2)
        page.wait("!window.__sim.generating && !!document.querySelector('video#sd-video')")
        time.sleep(0.2)
        assert not page.js("!!document.querySelector('li[data-sim-cover]')")  # knob off: no cover


def test_mouseup_handler_hangs_before_the_request(page):
    with SimSite("mod@0,mod@0", step_ms=20, steps=3, mouseup_hang_ms=900) as site:
        page.goto(site.post_url())
        t0 = time.time()
        page.click(GENERATE)
        t_request = wait_requests(site, 1)[0]["t"]
        assert t_request - t0 >= 0.85
        page.wait("!window.__sim.generating")
        site.set_knobs(mouseup_hang_ms=0)
        page.wait("window.__sim.knobs.mouseupHangMs === 0")
        t0 = time.time()
        page.click(GENERATE)
        assert wait_requests(site, 2)[1]["t"] - t0 < 0.5


def test_busy_clicks_and_a_slow_first_byte(page):
    # by default a click during a generation does nothing; with busy_clicks it starts another
    with SimSite("ok/150,ok/20,ok/20", step_ms=20, steps=5, response_delay_ms=600) as site:
        page.goto(site.post_url())
        page.js("""window.__firstByte = []; const f = window.fetch; window.fetch = function (u) {
                     const t = performance.now(), p = f.apply(this, arguments);
                     if (String(u).indexOf("/conversations/new") < 0) return p;
                     return p.then(r => { __firstByte.push(performance.now() - t); return r; }); };
                   true""")
        page.click(GENERATE)
        wait_requests(site, 1)
        page.wait("window.__sim.generating")
        page.click(GENERATE)
        time.sleep(0.3)
        assert len(site.requests) == 1
        page.wait("!window.__sim.generating", timeout=5)
        # the server answered each request only after response_delay_ms
        assert page.js("__firstByte")[0] >= 590
        site.response_delay_ms = 0
        site.set_knobs(busy_clicks=True)
        page.wait("window.__sim.knobs.busyClicks === true")
        page.click(GENERATE)
        wait_requests(site, 2)
        page.wait("window.__sim.generating")
        page.click(GENERATE)
        assert len(wait_requests(site, 3)) == 3
        page.wait("!window.__sim.generating", timeout=5)
        assert page.js("__firstByte")[1] < 400


def test_moderation_toast_readded_without_data_ts(page):
    with SimSite("mod@0", step_ms=20, steps=3, toast_ms=1200, toast_readd_ms=(800, 1000)) as site:
        page.goto(site.post_url())
        page.js(
            """window.__toastLog = []; new MutationObserver(ms => { for (const m of ms) {
                 for (const n of m.addedNodes) if (n.tagName === 'LI') __toastLog.push(['add', Date.now(), n.getAttribute('data-ts')]);
                 for (const n of m.removedNodes) if (n.tagName === 'LI') __toastLog.push(['remove', Date.now(), n.getAttribute('data-ts')]);
               } }).observe(document.querySelector('section[aria-live] ol'), {childList: true}); true"""
        )
        page.click(GENERATE)
        page.wait(f"!!document.querySelector('{TOAST}')")
        page.js(f"window.__first = document.querySelector('{TOAST}'); true")
        page.wait(f"!!document.querySelector('{TOAST}') && document.querySelector('{TOAST}') !== window.__first", timeout=3)
        assert page.js(f"document.querySelector('{TOAST}').hasAttribute('data-ts')") is False
        assert page.js(f"document.querySelector('{TOAST}').textContent") == MODERATED_TEXT
        log = page.js("__toastLog")
        assert [(k, ts is not None) for k, _, ts in log[:1]] == [("add", True)]  # then replaced in place:
        assert sorted((k, ts is not None) for k, _, ts in log[1:]) == [("add", False), ("remove", True)]
        # from the toast's creation (its data-ts) to the moment the observer saw it replaced (never early)
        assert 800 <= log[1][1] - int(log[0][2]) <= 2500
        page.wait(f"!document.querySelector('{TOAST}')", timeout=4)
        # on demand
        assert site.show_toast("Content Moderated. Try a different idea.", 500, moderation=True) == 1
        page.wait(f"!!document.querySelector('{TOAST}[data-ts]')")
        page.wait(f"!!document.querySelector('{TOAST}:not([data-ts])')", timeout=3)


def test_control_characters_in_toasts(page):
    with SimSite("mod@0,rate", step_ms=20, steps=3, toast_ms=800, moderated_text=CONTROL_TOAST_TEXT) as site:
        assert "\n" in CONTROL_TOAST_TEXT and "\x1b[" in CONTROL_TOAST_TEXT and "\x07" in CONTROL_TOAST_TEXT
        page.goto(site.post_url())
        page.click(GENERATE)
        text = page.wait(f"(() => {{ const li = document.querySelector('{TOAST}'); return li && li.textContent; }})()")
        assert text == CONTROL_TOAST_TEXT
        page.wait(f"!document.querySelector('{TOAST}')", timeout=3)
        site.set_knobs(rate_text="Rate limit reached.\x1b]0;x\x07\nforged")
        page.click(GENERATE)
        text = page.wait(f"(() => {{ const li = document.querySelector('{TOAST}'); return li && li.textContent; }})()")
        assert text == "Rate limit reached.\x1b]0;x\x07\nforged"
        with pytest.raises(ValueError):
            site.set_knobs(no_such_knob=1)


def test_knob_parsing_for_the_sim_command():
    from grok_tui.sim import parse_knob

    assert parse_knob("cover_toast_ms=1500") == ("cover_toast_ms", 1500.0)
    assert parse_knob("toast-readd-ms=800-1500") == ("toast_readd_ms", (800.0, 1500.0))
    assert parse_knob("busy_clicks=true") == ("busy_clicks", True)
    assert parse_knob(r"moderated_text=a\nb\x1b[2J\x07 é") == ("moderated_text", "a\nb\x1b[2J\x07 é")
    assert parse_knob("no_toasts=true") == ("no_toasts", True)
    assert parse_knob("redo_resets=videoLength:6,resolutionName:480p") == (
        "redo_resets", {"videoLength": 6, "resolutionName": "480p"})
    for bad in ("nope=1", "cover_toast_ms", "mouseup_hang_ms=abc", "toast_readd_ms=900-100", "no_toasts=maybe",
                "redo_resets=videoLength:7"):
        with pytest.raises(ValueError):
            parse_knob(bad)
    from grok_tui.cli import main

    assert main(["sim", "--knob", "nope=1"]) == 2


# ---------------------------------------------------------------- piece: several image posts, covering dialogs
def source_media(page: Page) -> str:
    return page.js("document.querySelector('img.source').getAttribute('src').split('/').pop().split('.')[0]")


def test_several_image_posts_full_load_and_in_page(page):
    with SimSite("ok,mod@0,mod@0", step_ms=20, steps=3, image_posts=3) as site:
        posts = site.image_posts
        assert len(posts) == 3 and len({p["postId"] for p in posts}) == 3 and len({p["mediaId"] for p in posts}) == 3
        assert (posts[0]["postId"], posts[0]["mediaId"]) == (site.post_id, site.media_id)
        gallery = urllib.request.urlopen(site.url("/imagine")).read().decode()
        assert all(f'/imagine/post/{p["postId"]}"' in gallery and f'{p["mediaId"]}.jpg' in gallery for p in posts)
        # full load of the second post
        page.goto(posts[1]["url"])
        assert source_media(page) == posts[1]["mediaId"] == page.js("window.__sim.mediaId")
        assert page.js("document.querySelectorAll('img[src*=\"imagine-public/images/\"]').length") == 1
        page.type_prompt(TEXTAREA, "second post")
        page.click(GENERATE)
        assert wait_requests(site, 1)[0]["parentPostId"] == posts[1]["mediaId"]
        page.wait("!window.__sim.generating && !!document.querySelector('video#sd-video')")
        # in-page link (pushState) to the third post: its image, no video, Make video
        page.click(f'a[data-post-link="{posts[2]["postId"]}"]')
        page.wait(f"window.__sim.mediaId === '{posts[2]['mediaId']}'")
        assert page.js("location.pathname") == f"/imagine/post/{posts[2]['postId']}"
        assert source_media(page) == posts[2]["mediaId"]
        assert page.js("!document.querySelector('video') && !!document.querySelector('button[aria-label=\"Make video\"]')")
        page.click(GENERATE)
        assert wait_requests(site, 2)[1]["parentPostId"] == posts[2]["mediaId"]
        page.wait("!window.__sim.generating")
        # pushState from Python back to the second post: its video is shown again, with Redo
        assert site.push_route(f"/imagine/post/{posts[1]['postId']}") == 1
        page.wait(f"window.__sim.mediaId === '{posts[1]['mediaId']}' && !!document.querySelector('video#sd-video')")
        assert page.js("!!document.querySelector('button[aria-label=\"Redo\"]')")
        page.click(GENERATE)
        assert wait_requests(site, 3)[2]["parentPostId"] == posts[1]["mediaId"]
    with SimSite(image_posts=[("aaaa-1", "bbbb-1"), "cccc-2"]) as site:
        assert [(p["postId"], p["mediaId"]) for p in site.image_posts] == [("aaaa-1", "bbbb-1"), ("cccc-2", "cccc-2")]
        assert (site.post_id, site.media_id) == ("aaaa-1", "bbbb-1")
        page.goto(site.post_url("cccc-2"))
        assert source_media(page) == "cccc-2"
    with pytest.raises(ValueError):
        SimSite(image_posts=0)


def dialog_hit(page: Page) -> str:
    return page.js(
        """(() => { const b = document.querySelector('#generate'); const r = b.getBoundingClientRect();
            const h = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            const d = h && h.closest('[data-sim-dialog]'); return d ? d.dataset.simDialog : (h === b ? 'button' : h.outerHTML); })()"""
    )


def test_covering_dialogs(page):
    with SimSite("ok+chooser:3,mod@0,ok", step_ms=20, steps=3) as site:
        page.goto(site.post_url())
        page.click(GENERATE)
        page.wait("!!document.querySelector('[data-sim-dialog=\"chooser\"][role=\"dialog\"]')")
        assert page.js("document.querySelector('[data-sim-dialog]').getAttribute('aria-label')") == "Which video do you prefer?"
        assert page.js("!!document.querySelector('video#sd-video')")
        assert dialog_hit(page) == "chooser"
        page.click("#generate")  # lands on the dialog's backdrop
        wait_for(lambda: any(e["target"] == "dialog" for e in site.page_events), what="the dialog's click")
        assert len(site.requests) == 1
        page.wait("!document.querySelector('[data-sim-dialog]')", timeout=6)
        assert dialog_hit(page) == "button"
        # a banner at the next load of this post only, for 0.8 s
        site.show_dialog("banner", 0.8, when="load", post_id=site.post_id)
        page.goto(site.post_url())
        assert page.js("document.querySelector('[data-sim-dialog=\"banner\"]').getAttribute('aria-label')") == "Announcement"
        assert dialog_hit(page) == "banner"
        page.wait("!document.querySelector('[data-sim-dialog]')", timeout=3)
        page.goto(site.post_url())
        assert not page.js("!!document.querySelector('[data-sim-dialog]')")
        # after the next successful video only (not after a moderation), then now
        site.show_dialog("chooser", 0.6, when="next_video")
        page.click(GENERATE)
        wait_requests(site, 2)
        page.wait("!window.__sim.generating")
        time.sleep(0.2)
        assert not page.js("!!document.querySelector('[data-sim-dialog]')")
        page.click(GENERATE)
        wait_requests(site, 3)
        page.wait("!!document.querySelector('[data-sim-dialog=\"chooser\"]')")
        page.wait("!document.querySelector('[data-sim-dialog]')", timeout=3)
        assert site.show_dialog("banner", 0.5) >= 1  # a page just left may not be noticed yet
        page.wait("!!document.querySelector('[data-sim-dialog=\"banner\"]')")
        # answering the chooser dismisses it (recorded with the button's label)
        page.js("window.__sim.showDialog('chooser', 5000); true")
        page.click('[data-sim-dialog="chooser"] button[aria-label="Skip"]')
        page.wait("!document.querySelector('[data-sim-dialog=\"chooser\"]')")
        assert wait_for(lambda: [e for e in site.page_events if e.get("label") == "Skip"], what="Skip")[0]["dialog"] == "chooser"
    with SimSite(dialog_on_load=("banner", 30)) as site:
        page.goto(site.post_url())
        assert dialog_hit(page) == "banner"
        page.goto(site.post_url())
        assert dialog_hit(page) == "banner"
    with pytest.raises(ValueError):
        parse_script("ok+popup:3")
    assert parse_script("mod@40/20+banner:2.5")[0].dialog == ("banner", 2.5)


def test_post_list_read_after_each_generation_and_video_url_in(page):
    # by default the URL is everywhere, and the page reads its post list after every generation
    with SimSite("ok,mod@0", step_ms=20, steps=3) as site:
        page.goto(site.post_url())
        assert site.post_list_reads == 0
        page.click(GENERATE)
        wait_for(lambda: site.post_list_reads == 1, what="the page's post list read")
        page.click(GENERATE)
        wait_for(lambda: site.post_list_reads == 2, what="the second read")
    with pytest.raises(ValueError, match="unknown source"):
        SimSite(video_url_in=("stream", "toast"))
    # only the post list names it: not the stream, not the player, not the store
    with SimSite("ok", step_ms=20, steps=3, video_url_in=("postList",)) as site:
        _status, reads = post_generation(site)
        [done] = [v for v in video_objs(b"".join(reads).decode()) if v["progress"] == 100]
        assert "videoUrl" not in done
        url = site.video_url(done["videoId"])
        listed = json.loads(urllib.request.urlopen(site.url("/rest/media/post/list")).read())["posts"]
        assert [x["videoUrl"] for x in listed] == [url]
        page.goto(site.post_url())
        reads_before = site.post_list_reads
        page.click(GENERATE)
        wait_for(lambda: site.post_list_reads > reads_before, what="the page's post list read")
        page.wait("!!document.querySelector('article video#sd-video')")
        assert page.js("document.querySelector('article video#sd-video').getAttribute('src')") is None
        [entry] = page.store()["state"]["videoByMediaId"][site.media_id]
        assert entry["moderated"] is False and "mediaUrl" not in entry and "videoUrl" not in entry
    # the player and the store without the stream: the player takes the post list's URL
    with SimSite("ok", step_ms=20, steps=3, video_url_in=("postList", "dom")) as site:
        page.goto(site.post_url())
        page.click(GENERATE)
        page.wait("!!document.querySelector('article video#sd-video[src]')")
        vid = site.posts[0]["videoId"]
        assert page.js("document.querySelector('article video#sd-video').getAttribute('src')") == site.video_url(vid)
    # nowhere but the stream: the list says null
    with SimSite("ok", step_ms=20, steps=3, video_url_in=("stream",)) as site:
        post_generation(site)
        listed = json.loads(urllib.request.urlopen(site.url("/rest/media/post/list")).read())["posts"]
        assert [x["videoUrl"] for x in listed] == [None] and site.posts[0]["videoUrl"] is not None


# ---------------------------------------------------------------- piece: videos on the assets origin, options
def page_fetch(page: Page, url: str) -> dict:
    """fetch() inside the page with credentials: status, byte count, sha256, first 8 bytes (or the error)."""
    return page.js(
        f"""(async () => {{ try {{
              const r = await fetch({json.dumps(url)}, {{credentials: 'include'}});
              const b = new Uint8Array(await r.arrayBuffer());
              const h = [...new Uint8Array(await crypto.subtle.digest('SHA-256', b))].map(x => x.toString(16).padStart(2, '0')).join('');
              return {{status: r.status, bytes: b.length, sha256: h, head: [...b.slice(4, 8)].map(c => String.fromCharCode(c)).join('')}};
            }} catch (e) {{ return {{error: String(e)}}; }} }})()"""
    )


def test_videos_served_from_assets_origin_with_the_session_cookie(page):
    with SimSite("ok", step_ms=20, steps=3, truncate_videos=1) as site:
        assert site.assets_port not in (0, site.port, site.foreign_port)
        page.goto(site.post_url())
        cookies = page.tab.Network.getCookies(urls=[site.base_url, site.assets_base_url], _timeout=5)["cookies"]
        ours = [c for c in cookies if c["name"] == "sim_session"]
        assert ours and ours[0]["value"] == site.session_cookie and ours[0]["httpOnly"] is True
        assert site.session_cookie not in page.js("document.cookie")
        page.click(GENERATE)
        page.wait("!!document.querySelector('article video#sd-video[src]')")
        vid = site.posts[0]["videoId"]
        url = site.video_url(vid)
        assert url.startswith(site.assets_base_url + "/") and vid in url
        assert site.posts[0]["videoUrl"] == url
        assert page.js("document.querySelector('article video[src]').getAttribute('src')") == url
        entry = page.store()["state"]["videoByMediaId"][site.media_id][0]
        assert entry["mediaUrl"] == entry["videoUrl"] == url
        listed = json.loads(urllib.request.urlopen(site.url("/rest/media/post/list")).read())["posts"]
        assert listed[0]["videoUrl"] == url
        # in the page's session: the first answer is truncated (fails), the second is whole
        first = page_fetch(page, url)
        assert "error" in first, first
        second = page_fetch(page, url)
        assert second == {"status": 200, "bytes": len(site.video_file(vid)), "sha256": site.video_sha256(vid), "head": "ftyp"}
        log = site.asset_requests
        gets = [r for r in log if r["method"] == "GET"]
        assert [(r["status"], r["truncated"], r["cookie"]) for r in gets[:2]] == [(200, True, True), (200, False, True)]
        assert gets[0]["bytes"] < len(site.video_file(vid)) and gets[0]["origin"] == site.base_url
        # the page's own player plays it (a real MP4), with the cookie
        page.js("(() => { const v = document.querySelector('video#sd-video'); v.preload = 'auto'; v.load(); return 1; })()")
        assert page.wait("(() => { const v = document.querySelector('video#sd-video'); return v.readyState >= 2 && v.videoWidth; })()") == 64
        # without the cookie: 403; with it (from Python): the same bytes; ranges; unknown id: 404
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url)
        assert err.value.code == 403
        req = urllib.request.Request(url, headers={"Cookie": f"sim_session={site.session_cookie}"})
        with urllib.request.urlopen(req) as r:
            assert r.read() == site.video_file(vid) and r.headers["Content-Type"] == "video/mp4"
        req = urllib.request.Request(url, headers={"Cookie": f"sim_session={site.session_cookie}", "Range": "bytes=4-7"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 206 and r.read() == b"ftyp"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(urllib.request.Request(site.video_url("not-a-video"), headers={"Cookie": f"sim_session={site.session_cookie}"}))
        assert err.value.code == 404
        # a page on another origin gets no CORS grant
        page.tab.Page.navigate(url=site.foreign_url(), _timeout=10)
        page.wait("document.readyState === 'complete'")
        assert "error" in page_fetch(page, url)


def test_video_files_unique_per_id_and_padded():
    with SimSite(video_size=5_000_000) as site:
        a, b = site.video_file("aaaa"), site.video_file("bbbb")
        assert len(a) == len(b) == 5_000_000 and a != b and a[4:8] == b"ftyp" and b"free" in a[-5_000_000:]
        assert site.video_sha256("aaaa") == __import__("hashlib").sha256(a).hexdigest()
    with SimSite() as site:
        small = site.video_file("aaaa")
        assert 1900 < len(small) < 4096 and b"aaaa" in small


def test_generation_options_in_the_request_and_redo_reset(page):
    with SimSite("ok,ok,ok", step_ms=60, steps=6, redo_resets={"videoLength": 6}) as site:
        page.goto(site.post_url())
        assert page.js("document.querySelector('[role=menu][aria-label=\"Video options\"]').hidden") is True
        page.click('button[aria-label="Video Options"]')
        page.wait("!document.querySelector('[role=menu][aria-label=\"Video options\"]').hidden")
        for name, value in (("videoLength", "10"), ("resolutionName", "720p"), ("aspectRatio", "16:9"), ("mode", "fun")):
            item = f'[role=menuitemradio][data-option="{name}"][data-value="{value}"]'
            page.click(item)
            assert page.js(f"document.querySelector('{item}').getAttribute('aria-checked')") == "true"
        chosen = {"videoLength": 10, "resolutionName": "720p", "aspectRatio": "16:9", "mode": "fun"}
        assert page.js("window.__sim.options") == chosen
        page.click('button[aria-label="Video Options"]')  # closes the menu
        page.click(GENERATE)
        r = wait_requests(site, 1)[0]
        assert r["options"] == chosen and r["videoGenModelConfig"] == {"parentPostId": site.media_id, **chosen}
        # progress is still the first div of the Video Options button
        page.wait("/^\\d+%$/.test(document.querySelector('button[aria-label=\"Video Options\"]').querySelector('div, span').textContent)")
        page.wait("!window.__sim.generating && !!document.querySelector('button[aria-label=\"Redo\"]')")
        # Redo resets the video length (the bug), keeps the rest
        page.click(GENERATE)
        assert wait_requests(site, 2)[1]["options"] == {**chosen, "videoLength": 6}
        assert page.js("window.__sim.options.videoLength") == 6
        page.wait("!window.__sim.generating")
        site.set_knobs(redo_resets=None)
        page.wait("window.__sim.knobs.redoResets === null")
        page.js("window.__sim.setOption('videoLength', 10); true")
        page.click(GENERATE)
        assert wait_requests(site, 3)[2]["options"] == chosen
    # the stream's video objects carry mode, width, height from the options
    with SimSite("ok", step_ms=5, steps=2) as site:
        conn = http.client.HTTPConnection(site.host, site.port, timeout=10)
        body = {"message": "x", "parentPostId": site.media_id, "responseMetadata": {"modelConfigOverride": {"modelMap": {
            "videoGenModelConfig": {"parentPostId": site.media_id, **chosen}}}}}
        conn.request("POST", GEN, body=json.dumps(body), headers={"Content-Type": "application/json"})
        vids = video_objs(conn.getresponse().read().decode())
        assert {(v["mode"], v["width"], v["height"]) for v in vids} == {("fun", 1280, 720)}
        assert site.requests[0]["options"] == chosen
    with pytest.raises(ValueError):
        SimSite(video_options={"videoLength": 7})


# ---------------------------------------------------------------- piece: Grok changed its page; toasts that never show
def test_changed_markup(page):
    from grok_tui.browser.observer import DEFAULT_SELECTORS
    from grok_tui.sim import CHANGED_LABELS

    def none_match(sels) -> bool:
        return page.js(f"{json.dumps(list(sels))}.every(s => !document.querySelector(s))")

    with SimSite("mod@0,ok,ok", step_ms=20, steps=3, markup="changed", toast_ms=800) as site:
        page.goto(site.post_url())
        assert none_match(DEFAULT_SELECTORS["prompt"]) and none_match(DEFAULT_SELECTORS["generate"])
        assert none_match(DEFAULT_SELECTORS["toastContainer"])
        editor = f'textarea[aria-label="{CHANGED_LABELS["prompt"]}"]'
        assert page.js(f"document.querySelector('{editor}').placeholder") == CHANGED_LABELS["placeholder"]
        page.type_prompt(editor, "changed page")
        page.click(f'button[aria-label="{CHANGED_LABELS["make"]}"]')
        assert wait_requests(site, 1)[0]["prompt"] == "changed page"
        notice = 'div.notices[role="status"][aria-label="Alerts"] li.notice[data-state="open"] > p'
        assert page.wait(f"(() => {{ const p = document.querySelector('{notice}'); return p && p.textContent; }})()") == MODERATED_TEXT
        assert page.js("!document.querySelector('li.toast, [data-sonner-toast]')")
        page.wait("!window.__sim.generating")
        page.click(f'button[aria-label="{CHANGED_LABELS["make"]}"]')
        page.wait(f"!!document.querySelector('button[aria-label=\"{CHANGED_LABELS['redo']}\"]')")
        assert none_match(DEFAULT_SELECTORS["generate"])
    with SimSite(editor="prosemirror", markup="changed") as site:
        page.goto(site.post_url())
        assert none_match(DEFAULT_SELECTORS["prompt"][:4])  # only the bare [contenteditable] fallback still matches
        assert page.js(f"document.querySelector('[contenteditable=\"true\"]').getAttribute('aria-label')") == CHANGED_LABELS["prompt"]
    with pytest.raises(ValueError):
        SimSite(markup="other")


def test_toasts_never_show(page):
    with SimSite("mod@0,mod@30,rate", step_ms=20, steps=4, no_toasts=True, toast_ms=800) as site:
        page.goto(site.post_url())
        page.js(
            """window.__toasts = 0; new MutationObserver(ms => { for (const m of ms) __toasts += m.addedNodes.length; })
                 .observe(document.querySelector('section[aria-live] ol'), {childList: true}); true"""
        )
        for n in (1, 2):
            page.click(GENERATE)
            wait_requests(site, n)
            page.wait("!window.__sim.generating && !!document.querySelector('article img[alt=\"Moderated\"]')")
        page.click(GENERATE)
        assert wait_requests(site, 3)[2]["outcome"] == "rate"
        page.wait("!window.__sim.generating")
        time.sleep(0.3)
        assert page.js("window.__toasts") == 0
        # the moderations are in the stream (emitted), the post list and the store all the same
        assert [e["kind"] for e in site.emitted if e["kind"] in ("moderated", "rate")] == ["moderated", "moderated", "rate"]
        assert [p["moderated"] for p in site.posts] == [True, True]
        assert [e["moderated"] for e in page.store()["state"]["videoByMediaId"][site.media_id]] == [True, True]
        # show_toast still shows one; switched off live, toasts come back
        assert site.show_toast("hello", 300) == 1
        page.wait("window.__toasts === 1")
        site.set_knobs(no_toasts=False)
        page.wait("window.__sim.knobs.noToasts === false")
        page.click(GENERATE)
        wait_requests(site, 4)
        page.wait(f"!!document.querySelector('{TOAST}')")
