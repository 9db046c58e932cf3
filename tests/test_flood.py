"""The page is untrusted: 100,000 junk binding calls mid-session leave memory bounded and the outcome right."""

from __future__ import annotations

import resource
import threading

from browser_rig import make_rig
from grok_tui.browser.cdp import CdpSession
from grok_tui.browser.endpoint import discover
from test_faults import Watcher, last_summary, run

FLOOD_JS = """(() => {
  const name = Object.getOwnPropertyNames(window).find((k) => k.startsWith("__grokTuiSignal"));
  const send = window[name];
  const big = 'x'.repeat(70000);
  for (let i = 0; i < 100000; i++) {
    const k = i % 5;
    if (k === 0) send('not json ' + i);
    else if (k === 1) send(JSON.stringify({kind: 'nonsense', n: i}));
    else if (k === 2) send(JSON.stringify({kind: 'progress', percent: 'lots'}));
    else if (k === 3) send(JSON.stringify([1, 2, 3]));
    else send(i % 1000 === 4 ? big : '{"kind": "toast", "text": 12}');
  }
  return true;
})()"""


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def test_binding_flood_is_dropped_and_session_resolves():
    rig = make_rig("mod@40,ok", step_ms=150)
    done = threading.Event()
    before = {}

    def flood():
        before["rss"] = rss_mb()
        _, targets = discover(port=rig.chrome.port)
        page = CdpSession([t for t in targets if "/imagine/post/" in t["url"]][0])
        try:
            page.call("Runtime.evaluate", expression=FLOOD_JS, returnByValue=True, timeout=60)
        finally:
            page.close()
            done.set()

    w = Watcher(lambda o: o["event"] == "progress" and o["attempt"] == 1 and o["percent"] >= 10, flood)
    links = []
    try:
        rc, lines, store = await run(rig, w, links=links, max_retries=3, cooldown_s=1.0, session_timeout_s=60)
    finally:
        rig.close()
    assert done.wait(60)
    s = last_summary(lines)
    assert rc == 0, [x for x in lines if x["event"] in ("log", "outcome")][-8:]
    assert (s["outcome"], s["creditsUsed"], s["layer2Failures"], s["completedVideos"]) == ("success", 2, 1, 1)
    gate = links[0].gate
    assert gate.received >= 100_000
    assert gate.dropped >= 99_000
    # nothing from the flood reached the engine as an event: only real outcomes counted
    assert [o["outcome"] for o in lines if o["event"] == "outcome"] == ["moderated", "success"]
    grown = rss_mb() - before["rss"]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"flood: rss grew {grown:.1f} MB, peak {peak:.1f} MB, received {gate.received}, dropped {gate.dropped}")
    assert grown < 60, (grown, peak)
