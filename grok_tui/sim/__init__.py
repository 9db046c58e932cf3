"""Simulated Grok Imagine site for the demo, tests and benchmarks."""

from .page import MODERATED_TEXT, RATE_LIMIT_TEXT
from .script import Outcome, parse_script, parse_token
from .server import SimSite, iter_json_objects, run_sim

__all__ = [
    "MODERATED_TEXT",
    "RATE_LIMIT_TEXT",
    "Outcome",
    "SimSite",
    "iter_json_objects",
    "parse_script",
    "parse_token",
    "run_sim",
]
