"""A multi-line prompt reaches the generation request byte for byte, in both editors (issue 10)."""

from __future__ import annotations

import pytest

from browser_rig import run_session

# three paragraphs, a blank line between the first two
PROMPT = "A red fox in deep snow, dawn light.\n\nIt starts to run; the camera follows.\nSlow motion — é 日本 🎬."


@pytest.mark.parametrize("editor", ["textarea", "prosemirror"])
async def test_multi_line_prompt_arrives_byte_identical(rigs, editor):
    rig = rigs("mod@10,ok", editor=editor)  # the retry writes over the text already there
    rc, lines, _ = await run_session(rig, PROMPT, max_retries=2)
    assert rc == 0, [l for l in lines if l["event"] == "log"][-3:]
    sent = [r["prompt"] for r in rig.site.requests]
    assert len(sent) == 2
    assert all(p.encode("utf-8") == PROMPT.encode("utf-8") for p in sent), sent
