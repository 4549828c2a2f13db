"""Migration 0006 on a database of its own (a SQLite file, whatever `DATABASE_URL` says): rows written before
it are addressed to the party they were pushed to until then (a hub's HUB role, else the CPO role), and the
new unique key admits one row per target party."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from emsp.migrate import upgrade

NOW = "2026-01-01 00:00:00.000000"


def _seed(db: sqlite3.Connection) -> None:
    db.executescript(
        f"""
        INSERT INTO partners (id, name, status, base64_token, initiated_by_us, created_at, updated_at)
        VALUES (1, 'cpo', 'CONNECTED', 1, 0, '{NOW}', '{NOW}'),
               (2, 'hub', 'CONNECTED', 1, 0, '{NOW}', '{NOW}');
        INSERT INTO partner_roles (partner_id, role, country_code, party_id) VALUES
            (1, 'EMSP', 'nl', 'xyz'), (1, 'CPO', 'nl', 'cpo'),
            (2, 'CPO', 'DE', 'ABC'), (2, 'HUB', 'DE', 'HUB');
        INSERT INTO tokens (id, country_code, party_id, uid, uid_norm, type, contract_id, issuer, whitelist,
                            status, version, last_updated, created_at)
        VALUES (1, 'NL', 'EMS', 'T1', 'T1', 'RFID', 'NL-EMS-C00000001-X', 'us', 'ALWAYS', 'ACTIVE', 1,
                '{NOW}', '{NOW}');
        INSERT INTO token_deliveries (token_id, partner_id, wanted_version, status, paused, attempts,
                                      attempt_seq, updated_at)
        VALUES (1, 1, 1, 'SUCCEEDED', 0, 0, 1, '{NOW}'), (1, 2, 1, 'PENDING', 0, 0, 0, '{NOW}');
        """
    )
    db.commit()


def test_existing_rows_keep_their_party_and_the_key_is_per_party(tmp_path: Path) -> None:
    path = tmp_path / "migrate.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0004")
    with sqlite3.connect(path) as db:
        _seed(db)
    upgrade(url)
    with sqlite3.connect(path) as db:
        query = "SELECT partner_id, to_country_code, to_party_id, status FROM token_deliveries ORDER BY 1"
        rows = db.execute(query).fetchall()
        assert rows == [(1, "NL", "CPO", "SUCCEEDED"), (2, "DE", "HUB", "PENDING")]
        insert = (
            "INSERT INTO token_deliveries (token_id, partner_id, to_country_code, to_party_id,"
            " wanted_version, status, paused, attempts, attempt_seq, updated_at)"
            " VALUES (1, 2, ?, ?, 1, 'PENDING', 0, 0, 0, ?)"
        )
        db.execute(insert, ("DE", "ABC", NOW))  # another party behind the hub: a row of its own
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(insert, ("DE", "ABC", NOW))
