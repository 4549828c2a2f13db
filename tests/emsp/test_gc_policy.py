"""The node freezes its start-up objects out of full garbage collections (emsp/gc_policy.py), once per
process. Run in a child process: the freeze is process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import gc, sys
    from fastapi.testclient import TestClient
    from emsp.app import create_app
    from emsp.settings import Settings

    settings = Settings(database_url="sqlite+aiosqlite:///" + sys.argv[1], run_worker=False)
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(settings)) as client:
        assert client.get("/ocpi/versions").status_code in (200, 401)
        first = gc.get_freeze_count()
    with TestClient(create_app(settings)):
        second = gc.get_freeze_count()
    print(first, second)
    """
)


def test_serving_app_freezes_start_up_objects_once(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(db)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    first, second = (int(n) for n in done.stdout.split())
    assert first > 10_000  # the framework and our modules, at least
    # a second app in the same process freezes nothing more (frozen objects can still be freed)
    assert second <= first
