"""Reading and comparing the generation options of Grok's request body (pure)."""

from __future__ import annotations

import json

from grok_tui.browser.options import describe, diff, label, options_of, summary


def body(**cfg) -> str:
    return json.dumps({
        "message": "a fox",
        "responseMetadata": {"modelConfigOverride": {"modelMap": {"videoGenModelConfig": {"parentPostId": "abc", **cfg}}}},
    })


def test_options_are_read_without_ids():
    assert options_of(body(videoLength=10, resolutionName="720p", aspectRatio="16:9")) == {
        "videoLength": 10, "resolutionName": "720p", "aspectRatio": "16:9"}
    assert options_of('{"message": "x"}') is None
    assert options_of("not json") is None
    assert options_of(b'{"responseMetadata": {"modelConfigOverride": 3}}') is None


def test_changes_are_named_with_both_values():
    first = options_of(body(videoLength=10, resolutionName="720p", mode="normal"))
    later = options_of(body(videoLength=6, resolutionName="720p"))
    changes = diff(first, later)
    assert changes == [("videoLength", 10, 6), ("mode", "normal", None)]
    assert describe(changes) == "video length 10 → 6, mode normal → (none)"
    assert diff(first, dict(first)) == []
    assert label("someNewKnob") == "some new knob"
    assert summary(first) == "video length 10 · resolution 720p · mode normal"
