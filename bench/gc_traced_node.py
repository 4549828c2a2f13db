"""Run the node under uvicorn with the garbage collector's pauses recorded, for finding what sets a
benchmark's tail latency; a summary per generation is written to $BENCH_NODE_GC when uvicorn stops.

    BENCH_NODE_GC=/tmp/gc.txt .venv/bin/python bench/bench_evse_patch.py --requests 20000
    cat /tmp/gc.txt
"""

from __future__ import annotations

import gc
import os
import signal
import sys
import time

import uvicorn.main

pauses: list[tuple[int, float]] = []
started = [0.0]


def on_gc(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        started[0] = time.perf_counter()
    else:
        pauses.append((info["generation"], time.perf_counter() - started[0]))


def summary() -> str:
    lines = []
    for generation in (0, 1, 2):
        took = sorted(d for g, d in pauses if g == generation)
        if took:
            lines.append(
                f"generation {generation}: {len(took)} collections, {sum(took) * 1000:.0f} ms in all, "
                f"p99 {took[int(len(took) * 0.99)] * 1000:.2f} ms, max {took[-1] * 1000:.1f} ms"
            )
    lines.append(
        f"frozen objects: {gc.get_freeze_count()}, tracked objects at the end: {len(gc.get_objects())}"
    )
    return "\n".join(lines) + "\n"


def main() -> None:
    # uvicorn re-raises the signal that stopped it once it has shut down: leave through `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    gc.callbacks.append(on_gc)
    try:
        uvicorn.main.main(sys.argv[1:])
    finally:
        with open(os.environ["BENCH_NODE_GC"], "w") as out:
            out.write(summary())


if __name__ == "__main__":
    main()
