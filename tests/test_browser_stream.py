"""Pure tests of the generation-stream parser and tracker."""

from __future__ import annotations

import json

import pytest

from grok_tui.browser.stream import GenerationTracker, JsonObjectStream, VideoUpdate


def _video(vid, progress, moderated=False, **extra):
    v = {"videoId": vid, "videoPostId": "vp-" + vid, "parentPostId": "img-1", "progress": progress, "moderated": moderated}
    v.update(extra)
    return {"result": {"response": {"streamingVideoGenerationResponse": v}}}


OBJECTS = [
    {"result": {"conversation": {"conversationId": "c1", "createTime": "2025-01-01T00:00:00Z"}}},
    {"result": {"response": {"userResponse": {"responseId": "r1", "message": 'a "quoted" {brace} \\ prompt — é 日本 🎬'}}}},
    _video("v1", 10),
    _video("v1", 40, note="}{\"\\"),
    _video("v1", 100, videoUrl="/media/videos/v1.mp4"),
]


def _sample() -> bytes:
    parts = []
    for i, o in enumerate(OBJECTS):
        s = json.dumps(o, ensure_ascii=False, separators=(",", ":"))
        parts.append(s + ("\n" if i % 2 == 0 else ""))  # some back to back, no newline
    return "".join(parts).encode("utf-8")


def test_sample_has_multibyte_characters():
    data = _sample()
    assert len(data) > len(data.decode("utf-8"))


def test_parse_whole():
    assert JsonObjectStream().feed(_sample()) == OBJECTS


@pytest.mark.parametrize("step", [1, 2, 3, 7])
def test_parse_small_chunks(step):
    data = _sample()
    s = JsonObjectStream()
    out = []
    for i in range(0, len(data), step):
        out += s.feed(data[i : i + step])
    assert out == OBJECTS
    assert s.pending == 0


def test_split_at_every_byte_position():
    data = _sample()
    for cut in range(len(data) + 1):
        s = JsonObjectStream()
        out = s.feed(data[:cut]) + s.feed(data[cut:])
        assert out == OBJECTS, cut


def test_split_at_every_pair_of_positions_in_multibyte_object():
    obj = OBJECTS[1]
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    for a in range(0, len(data), 3):
        for b in range(a, len(data) + 1, 2):
            s = JsonObjectStream()
            out = s.feed(data[:a]) + s.feed(data[a:b]) + s.feed(data[b:])
            assert out == [obj], (a, b)


def test_junk_between_objects_is_skipped():
    s = JsonObjectStream()
    out = s.feed(b'garbage ]] "x" \n{"a":1}\r\n,,{"b":"}"}tail')
    assert out == [{"a": 1}, {"b": "}"}]


def test_bad_object_is_dropped_and_parsing_goes_on():
    s = JsonObjectStream()
    out = s.feed(b'{not json}{"ok":true}')
    assert out == [{"ok": True}]
    assert s.dropped == 1


def test_buffer_is_capped():
    s = JsonObjectStream(max_buffer=1000)
    out = s.feed(b'{"a":"' + b"x" * 5000)
    assert out == []
    assert s.pending <= 1000
    assert s.dropped == 1
    out = s.feed(b'"}\n{"b":2}')
    assert {"b": 2} in out


def test_invalid_utf8_does_not_raise():
    s = JsonObjectStream()
    assert s.feed(b'{"a":"\xff\xfe"}') == [{"a": "\ufffd\ufffd"}]


# ----------------------------------------------------------------------------- tracker


def test_tracker_success():
    t = GenerationTracker()
    ups = t.feed_all(OBJECTS)
    assert [(u.kind, u.video_id, u.percent) for u in ups] == [
        ("progress", "v1", 10.0),
        ("running", "v1", 10.0),
        ("progress", "v1", 40.0),
        ("progress", "v1", 100.0),
        ("completed", "v1", 100.0),
    ]
    assert t.videos["v1"].final == "completed"
    assert t.videos["v1"].final_percent == 100.0
    # Replaying the whole stream (e.g. an end-of-stream cross-check) adds nothing.
    assert t.feed_all(OBJECTS) == []


def test_tracker_moderated_with_progress():
    t = GenerationTracker()
    ups = t.feed_all([_video("v2", 0), _video("v2", 20), _video("v2", 40), _video("v2", 40, moderated=True)])
    finals = [u for u in ups if u.kind in ("moderated", "completed")]
    assert finals == [VideoUpdate("moderated", "v2", 40.0, "vp-v2", "img-1")]
    assert [u.kind for u in ups].count("running") == 1


def test_tracker_moderated_without_progress_uses_max_seen():
    t = GenerationTracker()
    t.feed_all([_video("v3", 30), _video("v3", 55)])
    obj = _video("v3", None, moderated=True)
    del obj["result"]["response"]["streamingVideoGenerationResponse"]["progress"]
    assert t.feed(obj) == [VideoUpdate("moderated", "v3", 55.0, "vp-v3", "img-1")]


def test_tracker_immediate_moderation_and_no_progress_at_all():
    t = GenerationTracker()
    assert [(u.kind, u.percent) for u in t.feed(_video("v4", 0, moderated=True))] == [("moderated", 0.0)]
    obj = {"result": {"response": {"streamingVideoGenerationResponse": {"videoId": "v5", "moderated": True}}}}
    assert [(u.kind, u.percent) for u in t.feed(obj)] == [("moderated", None)]


def test_tracker_counts_each_video_once_and_keeps_videos_apart():
    t = GenerationTracker()
    ups = t.feed_all(
        [_video("a", 50), _video("b", 60), _video("a", 100), _video("a", 100), _video("b", 70, moderated=True),
         _video("b", 100)]
    )
    finals = [(u.kind, u.video_id) for u in ups if u.kind in ("moderated", "completed")]
    assert finals == [("completed", "a"), ("moderated", "b")]


def test_tracker_ignores_unknown_objects_and_fields():
    t = GenerationTracker()
    junk = [{}, {"result": None}, {"result": {"response": "x"}}, {"result": {"response": {"other": {}}}},
            {"result": {"response": {"streamingVideoGenerationResponse": {"progress": 50}}}},
            {"result": {"response": {"streamingVideoGenerationResponse": {"videoId": 5, "progress": 50}}}},
            _video("c", "abc"), _video("c", True)]
    assert t.feed_all(junk) == []
    ups = t.feed(_video("c", "42", unknown={"x": 1}))
    assert [(u.kind, u.percent) for u in ups] == [("progress", 42.0), ("running", 42.0)]


def test_tracker_progress_is_max_and_clamped():
    t = GenerationTracker()
    ups = t.feed_all([_video("d", 30), _video("d", 20), _video("d", 250)])
    assert [(u.kind, u.percent) for u in ups] == [("progress", 30.0), ("running", 30.0), ("progress", 100.0),
                                                  ("completed", 100.0)]
