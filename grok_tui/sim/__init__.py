"""Simulated Grok Imagine site for the demo, tests and benchmarks."""

from .page import CHANGED_LABELS, CONTROL_TOAST_TEXT, COVER_TOAST_TEXT, FOREIGN_DRAFT, MODERATED_TEXT, RATE_LIMIT_TEXT
from .script import Outcome, parse_script, parse_token
from .server import PAGE_KNOBS, SimSite, iter_json_objects, parse_knob, run_sim

__all__ = [
    "CHANGED_LABELS",
    "CONTROL_TOAST_TEXT",
    "COVER_TOAST_TEXT",
    "FOREIGN_DRAFT",
    "MODERATED_TEXT",
    "RATE_LIMIT_TEXT",
    "Outcome",
    "SimSite",
    "PAGE_KNOBS",
    "iter_json_objects",
    "parse_knob",
    "parse_script",
    "parse_token",
    "run_sim",
]
