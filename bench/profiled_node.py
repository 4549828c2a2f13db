"""Run the node under uvicorn with cProfile on, for finding where a benchmark's server CPU goes; the
profile is written to $BENCH_NODE_PROFILE when uvicorn stops (SIGTERM from the benchmark).

    BENCH_NODE_PROFILE=/tmp/node.prof .venv/bin/python bench/bench_cdr_ingest.py --no-results
    .venv/bin/python -c "import pstats; pstats.Stats('/tmp/node.prof').sort_stats('tottime').print_stats(40)"
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys

import uvicorn.main


def main() -> None:
    # uvicorn re-raises the signal that stopped it once it has shut down: leave through `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    profile = cProfile.Profile()
    profile.enable()
    try:
        uvicorn.main.main(sys.argv[1:])
    finally:
        profile.disable()
        profile.dump_stats(os.environ["BENCH_NODE_PROFILE"])


if __name__ == "__main__":
    main()
