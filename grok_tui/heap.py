"""Hands the C heap's free memory back to the system (glibc's malloc_trim), where there is such a call.

A session's CDP traffic goes through the C allocator (strings and parsed JSON over 512 bytes, from several
threads, each on its own glibc arena) and leaves free memory that glibc keeps: in bench/memory.py's headless
session the heap's free part grew 1.6 -> 4.8 MB over 1,000 attempts while the part in use grew 0.45 MB.
`trim()` gives it back; without glibc (macOS, musl) it does nothing.
"""

from __future__ import annotations

import functools
from typing import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        import ctypes  # loaded on the first trim, not with the start-up

        fn = ctypes.CDLL(None).malloc_trim  # the process's own C library
    except (ImportError, OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


def trim() -> bool:
    """Return the heap's free pages to the system; True when there was something to call."""
    fn = _malloc_trim()
    if fn is None:
        return False
    fn(0)
    return True
