"""Garbage-collector policy of the long-running processes (`emsp serve`, `emsp worker`).

CPython's full (generation 2) collection walks every tracked object the process holds. After start-up that
is ~160,000 objects (FastAPI, pydantic, SQLAlchemy and our own modules), and under load a full collection
runs every second or so, because objects that are alive while requests are in flight are promoted to the
old generation. Measured under the EVSE PATCH benchmark: 17 full collections in 14 s, up to 109 ms each,
every request in flight stalled meanwhile; that was the whole p99 of that benchmark.

`freeze_startup_objects()` collects once and moves what survives start-up into the permanent generation
(`gc.freeze()`), which full collections skip: they then walk only what the process created since. Those
objects (modules, classes, compiled routes) live as long as the process anyway, so nothing is lost that
a collection would have freed. Call it once the app is built, before serving.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("emsp.gc")


def freeze_startup_objects() -> int:
    """Collect, then freeze what survived; returns how many objects are now frozen. Once per process: a
    process that builds several apps (the test suite) freezes only at the first."""
    if gc.get_freeze_count():
        return gc.get_freeze_count()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("froze %d start-up objects out of the garbage collector's full collections", frozen)
    return frozen
