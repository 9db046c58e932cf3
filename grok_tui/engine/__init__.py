"""The pure session engine: no I/O, no threads, no Textual."""

from .engine import SessionEngine, Timings
from .events import *  # noqa: F401,F403
from .state import AttemptRecord, PersistentData, Phase, SessionData, classify_layer

__all__ = ["SessionEngine", "Timings", "AttemptRecord", "PersistentData", "Phase", "SessionData", "classify_layer"]
