"""A deterministic generated history: records shaped like the ones the runner appends.

For the tests (a fixed history for snapshots and totals), the benchmark (10,000
sessions) and for trying the History screen. Same seed, same records; timestamps
are fixed (nothing here reads the clock).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

T0_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC

PROMPTS = (
    # (prompt, chance an attempt succeeds, layer weights L1/L2/L3 when moderated)
    ("a red fox running through snow, slow motion, cinematic", 0.75, (1, 3, 2)),
    ("waves crashing on a black sand beach at dusk, drone shot", 0.6, (1, 2, 3)),
    ("a paper boat drifting down a rain-filled street gutter", 0.5, (2, 3, 1)),
    ("city timelapse from day to night, neon reflections on wet asphalt", 0.4, (1, 1, 4)),
    ("an astronaut walking through a field of sunflowers", 0.3, (3, 2, 1)),
    ("two dancers in a ballroom, flowing dresses, spinning", 0.2, (1, 5, 2)),
    ("a knight on horseback charging through a burning village", 0.0, (2, 5, 3)),
)
POSTS = (
    "3f2a9c1e-7b4d-4e2a-9f10-5c6d7e8f9a0b",
    "8b1e0c2d-4a5f-4b6c-8d7e-9f0a1b2c3d4e",
    "c0ffee00-1234-4abc-9def-0123456789ab",
    "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
)
LAYER_PROGRESS = {1: (5, 24), 2: (25, 87), 3: (88, 99)}


def generate(n: int, *, seed: int = 17, days: int = 7, start_ms: int = T0_MS, log_dir: str | None = None,
             download_dir: str | None = None) -> list[dict]:
    """`n` session records spread evenly over `days` days from `start_ms`, oldest first."""
    rng = random.Random(seed)
    span_ms = days * 86_400_000
    gap = span_ms // max(n, 1)
    out = []
    for i in range(n):
        prompt, p_ok, weights = PROMPTS[rng.randrange(len(PROMPTS))]
        post = POSTS[rng.randrange(len(POSTS))]
        goal = rng.choice((1, 1, 2, 3))
        max_retries = rng.choice((3, 3, 5))
        started = start_ms + i * gap + rng.randrange(max(gap // 4, 1))
        t = started
        attempts, videos, retries, layers = [], 0, 0, [0, 0, 0]
        outcome, reason = "success", "video goal reached"
        while True:
            n_att = len(attempts) + 1
            dur = rng.uniform(8.0, 40.0)
            a_start, t = t, t + int(dur * 1000)
            roll = rng.random()
            if roll < 0.03:
                outcome, reason = "cancelled", rng.choice(("cancelled by the user", "rate limited: the session stops"))
                attempts.append(_attempt(n_att, a_start, t, "cancelled", None, rng.uniform(0, 60), None, retries > 0))
                break
            if roll < 0.03 + p_ok:
                videos += 1
                vid = f"v{i:05d}{n_att:02d}"
                attempts.append(_attempt(n_att, a_start, t, "success", None, 100.0, vid, retries > 0 or videos > 1))
                if videos >= goal:
                    break
            else:
                layer = rng.choices((1, 2, 3), weights=weights)[0]
                layers[layer - 1] += 1
                lo, hi = LAYER_PROGRESS[layer]
                attempts.append(_attempt(n_att, a_start, t, "moderated", layer, float(rng.randint(lo, hi)), None, retries > 0))
                if retries >= max_retries:
                    outcome, reason = "failure", "retries exhausted"
                    break
                retries += 1
            t += 8_000  # cooldown / next-video delay
        rec = {
            "outcome": outcome,
            "completedVideos": videos,
            "videoGoal": goal,
            "retriesAttempted": retries,
            "maxRetries": max_retries,
            "creditsUsed": len(attempts),
            "layer1Failures": layers[0],
            "layer2Failures": layers[1],
            "layer3Failures": layers[2],
            "endedAt": t,
            "reason": reason,
            "attempts": len(attempts),
            "startedAt": started,
            "durationS": round((t - started) / 1000, 3),
            "originalMediaId": post,
            "prompt": prompt,
            "postId": post,
            "logPath": f"{log_dir}/session-{i:05d}.log" if log_dir else None,
            "attemptsDetail": attempts,
        }
        if i % 5 == 3:
            rec["batch"] = f"b{i // 10:03d}"
            rec["job"] = i % 10
        if download_dir and videos:
            rec["downloads"] = [f"{download_dir}/{a['videoId']}.mp4" for a in attempts if a["videoId"]]
        out.append(rec)
    return out


def _attempt(n: int, start: int, end: int, outcome: str, layer: int | None, progress: float, video: str | None,
             retry: bool) -> dict:
    return {
        "attempt": n,
        "startedAt": start,
        "isRetry": retry,
        "maxProgress": progress,
        "outcome": outcome,
        "layer": layer,
        "endedAt": end,
        "durationS": round((end - start) / 1000, 3),
        "videoId": video,
        "sources": ["network"],
    }


def write(path: Path, records: list[dict], *, extra_lines: tuple[str, ...] = ()) -> Path:
    """Write `records` as history JSON Lines (then `extra_lines` as they are, e.g. corrupt ones)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        for line in extra_lines:
            fh.write(line)
    os.chmod(path, 0o600)
    return path


def write_logs(records: list[dict]) -> None:
    """A small log file for every record that names one (for the detail view)."""
    for rec in records:
        if not rec.get("logPath"):
            continue
        lines = [f"session started: {rec['prompt']}"]
        for a in rec["attemptsDetail"]:
            lines.append(f"attempt {a['attempt']}: {a['outcome']} at {a['maxProgress']:.0f} % in {a['durationS']:.1f} s")
        lines.append(f"session {rec['outcome']}: {rec['reason']}")
        Path(rec["logPath"]).parent.mkdir(parents=True, exist_ok=True)
        Path(rec["logPath"]).write_text("\n".join(lines) + "\n", encoding="utf-8")
