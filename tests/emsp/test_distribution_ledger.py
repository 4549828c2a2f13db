"""The distribution ledger on the real database: who gets rows, coalescing, backfill, pause, cancel, claims
and leases, and how outcomes are written (a late ack never completes a newer version)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import col, select

from emsp.db import SessionMaker, session_scope
from emsp.distribution import ledger, sync
from emsp.distribution.outcomes import Delivered, record_outcomes
from emsp.distribution.tables import (
    ATTEMPT_LOG_KEEP,
    DeliveryStatus,
    PartnerDeliveryState,
    PauseReason,
    TokenDelivery,
    TokenDeliveryAttempt,
)
from emsp.distribution.worker import claim_due, claim_for_partners
from emsp.tokens import service
from emsp.tokens.schemas import BlockRequest
from ocpi.types import utcnow
from partners.delivery import BackoffPolicy, Outcome, PushResult
from partners.tables import Partner, PartnerStatus
from tests.support.builders import make_partner, make_token_receiver
from tests.support.distribution import client_info, create_tokens

URL = "http://127.0.0.1:9/ocpi/cpo/2.2.1/tokens"


async def _rows(sessionmaker: SessionMaker) -> list[TokenDelivery]:
    async with sessionmaker() as session:
        stmt = select(TokenDelivery).order_by(col(TokenDelivery.partner_id), col(TokenDelivery.token_id))
        return list((await session.exec(stmt)).all())


async def _partners(sessionmaker: SessionMaker, *statuses: PartnerStatus) -> list[Partner]:
    async with session_scope(sessionmaker) as session:
        return [await make_token_receiver(session, URL, status=s) for s in statuses]


def _result(outcome: Outcome, http: int | None = 200, ocpi: int | None = 1000) -> PushResult:
    return PushResult(outcome, http, ocpi, "msg", "req-1", None, None, 1, 5.0)


async def test_only_connected_partners_with_a_tokens_receiver_get_rows(sessionmaker: SessionMaker) -> None:
    connected, suspended = await _partners(sessionmaker, PartnerStatus.CONNECTED, PartnerStatus.SUSPENDED)
    async with session_scope(sessionmaker) as session:
        await make_partner(session, name="no-endpoint")  # CONNECTED, but no tokens RECEIVER endpoint
    await create_tokens(sessionmaker, ["A1", "A2"])
    rows = await _rows(sessionmaker)
    assert {r.partner_id for r in rows} == {connected.id}
    assert all(r.status == DeliveryStatus.PENDING and r.wanted_version == 1 for r in rows)
    assert suspended.id not in {r.partner_id for r in rows}


async def test_a_newer_change_supersedes_pending_work_in_one_row(sessionmaker: SessionMaker) -> None:
    (partner,) = await _partners(sessionmaker, PartnerStatus.CONNECTED)
    (token,) = await create_tokens(sessionmaker, ["B1"])
    async with session_scope(sessionmaker) as session:
        await session.exec(  # type: ignore[call-overload]
            TokenDelivery.__table__.update().values(status="FAILED", attempts=7, next_attempt_at=None)  # type: ignore[attr-defined]
        )
    async with session_scope(sessionmaker) as session:
        fresh = await service.get_token(session, token.id)  # type: ignore[arg-type]
        await service.block_token(session, fresh, BlockRequest(reason="lost"), actor="test")
    (row,) = await _rows(sessionmaker)
    assert (row.partner_id, row.wanted_version, row.status, row.attempts) == (
        partner.id,
        2,
        DeliveryStatus.PENDING,
        0,
    )
    assert row.next_attempt_at is not None


async def test_backfill_pause_resume_and_cancel(sessionmaker: SessionMaker) -> None:
    await create_tokens(sessionmaker, ["C1", "C2", "C3"])
    (partner,) = await _partners(sessionmaker, PartnerStatus.CONNECTED)
    assert partner.id is not None
    async with session_scope(sessionmaker) as session:
        assert await sync.sync_partner(session, await session.get(Partner, partner.id)) == "backfilled"  # type: ignore[arg-type]
    assert len(await _rows(sessionmaker)) == 3
    async with session_scope(sessionmaker) as session:
        p = await session.get(Partner, partner.id)
        assert p is not None
        p.status = PartnerStatus.SUSPENDED
        assert await sync.sync_partner(session, p) == "paused"
    assert all(r.paused for r in await _rows(sessionmaker))
    await create_tokens(sessionmaker, ["C4"])  # SUSPENDED: not eligible, no row yet
    assert len(await _rows(sessionmaker)) == 3
    async with session_scope(sessionmaker) as session:
        p = await session.get(Partner, partner.id)
        assert p is not None
        p.status = PartnerStatus.CONNECTED
        assert await sync.sync_partner(session, p) == "backfilled"
    rows = await _rows(sessionmaker)
    assert len(rows) == 4 and not any(r.paused for r in rows)
    assert all(r.status == DeliveryStatus.PENDING for r in rows)
    async with session_scope(sessionmaker) as session:
        p = await session.get(Partner, partner.id)
        assert p is not None
        p.status = PartnerStatus.UNREGISTERED
        assert await sync.sync_partner(session, p) == "cancelled"
    assert await _rows(sessionmaker) == []


async def test_credentials_pause_is_lifted_by_a_new_client_token(sessionmaker: SessionMaker) -> None:
    (partner,) = await _partners(sessionmaker, PartnerStatus.CONNECTED)
    await create_tokens(sessionmaker, ["D1"])
    async with session_scope(sessionmaker) as session:
        await ledger.pause_partner(
            session,
            partner.id,  # type: ignore[arg-type]
            PauseReason.CREDENTIALS,
            "HTTP 401",
            fingerprint=ledger.token_fingerprint(partner.client_token),
        )
    await create_tokens(sessionmaker, ["D2"])  # marked, but stays paused
    assert [r.paused for r in await _rows(sessionmaker)] == [True, True]
    async with session_scope(sessionmaker) as session:
        p = await session.get(Partner, partner.id)
        assert p is not None
        assert await sync.sync_partner(session, p) == "none"  # same token: still paused
        p.client_token = "a-brand-new-token-after-rotation"
        assert await sync.sync_partner(session, p) == "resumed"
        assert (await session.get(PartnerDeliveryState, p.id)).pause_reason is None  # type: ignore[union-attr]
    assert [r.paused for r in await _rows(sessionmaker)] == [False, False]


async def test_claims_lease_rows_and_expired_leases_are_claimable_again(sessionmaker: SessionMaker) -> None:
    await _partners(sessionmaker, PartnerStatus.CONNECTED, PartnerStatus.CONNECTED)
    await create_tokens(sessionmaker, ["E1", "E2", "E3"])
    now = utcnow()
    async with session_scope(sessionmaker) as session:
        first = await claim_due(session, "w1", 4, now, lease_seconds=30)
    async with session_scope(sessionmaker) as session:
        second = await claim_due(session, "w2", 10, now, lease_seconds=30)
    assert len(first) == 4 and len(second) == 2
    assert not {c.id for c in first} & {c.id for c in second}
    async with session_scope(sessionmaker) as session:
        assert await claim_due(session, "w3", 10, now + timedelta(seconds=5)) == []
        again = await claim_due(session, "w3", 10, now + timedelta(seconds=31))  # w1 and w2 crashed
    assert len(again) == 6 and all(c.attempts == 2 for c in again)


async def test_claiming_for_several_partners_honours_each_quota_oldest_first(
    sessionmaker: SessionMaker,
) -> None:
    a, b, c = await _partners(sessionmaker, *[PartnerStatus.CONNECTED] * 3)
    tokens = await create_tokens(sessionmaker, ["G1", "G2", "G3", "G4"])
    now = utcnow()
    async with session_scope(sessionmaker) as session:  # G4's rows became due first, then G3's ...
        for age, token in enumerate(reversed(tokens)):
            await session.exec(  # type: ignore[call-overload]
                TokenDelivery.__table__.update()  # type: ignore[attr-defined]
                .where(col(TokenDelivery.token_id) == token.id)
                .values(next_attempt_at=now - timedelta(minutes=10 - age))
            )
    quotas = {a.id: 2, b.id: 3, c.id: 0}
    async with session_scope(sessionmaker) as session:
        claims = await claim_for_partners(session, "w1", quotas, now, lease_seconds=30)  # type: ignore[arg-type]
    got: dict[Any, list[Any]] = {}
    for claim in claims:
        got.setdefault(claim.partner_id, []).append(claim.token_id)
    oldest = [t.id for t in reversed(tokens)]
    assert sorted(got) == sorted([a.id, b.id])  # a quota of 0 claims nothing
    assert sorted(got[a.id]) == sorted(oldest[:2]) and sorted(got[b.id]) == sorted(oldest[:3])
    assert all(cl.attempts == 1 and cl.lease_token for cl in claims)
    async with session_scope(sessionmaker) as session:  # leased: another worker gets only the rest
        rest = await claim_for_partners(session, "w2", {a.id: 10, b.id: 10, c.id: 10}, now)  # type: ignore[dict-item]
    assert len(rest) == 12 - len(claims)
    assert not {cl.id for cl in rest} & {cl.id for cl in claims}


async def test_a_late_ack_of_an_older_version_does_not_complete_a_newer_one(
    sessionmaker: SessionMaker,
) -> None:
    await _partners(sessionmaker, PartnerStatus.CONNECTED)
    (token,) = await create_tokens(sessionmaker, ["F1"])
    async with session_scope(sessionmaker) as session:
        (claim,) = await claim_due(session, "w1", 10, utcnow())
    async with session_scope(sessionmaker) as session:  # a change while version 1 is in flight
        fresh = await service.get_token(session, token.id)  # type: ignore[arg-type]
        await service.block_token(session, fresh, BlockRequest(reason="stolen"), actor="test")
    async with session_scope(sessionmaker) as session:
        delivered = Delivered(claim, 1, _result(Outcome.SUCCESS), utcnow())
        await record_outcomes(session, [delivered], BackoffPolicy(), "w1")
    (row,) = await _rows(sessionmaker)
    assert (row.acked_version, row.wanted_version, row.status) == (1, 2, DeliveryStatus.PENDING)
    assert row.lease_token is None
    async with session_scope(sessionmaker) as session:
        (claim,) = await claim_due(session, "w1", 10, utcnow())
        assert claim.wanted_version == 2
    async with session_scope(sessionmaker) as session:
        await record_outcomes(
            session, [Delivered(claim, 2, _result(Outcome.SUCCESS), utcnow())], BackoffPolicy(), "w1"
        )
    (row,) = await _rows(sessionmaker)
    assert (row.acked_version, row.status) == (2, DeliveryStatus.SUCCEEDED)


async def test_outcomes_transient_backoff_then_failed_and_permanent_at_once(
    sessionmaker: SessionMaker,
) -> None:
    await _partners(sessionmaker, PartnerStatus.CONNECTED)
    await create_tokens(sessionmaker, ["G1", "G2"])
    backoff = BackoffPolicy(base_seconds=10, cap_seconds=100, max_attempts=2)
    now = utcnow()
    async with session_scope(sessionmaker) as session:
        c1, c2 = await claim_due(session, "w", 10, now)
    async with session_scope(sessionmaker) as session:
        await record_outcomes(
            session,
            [
                Delivered(c1, 1, _result(Outcome.TRANSIENT, 503, None), now),
                Delivered(c2, 1, _result(Outcome.PERMANENT, 200, 2001), now),
            ],
            backoff,
            "w",
        )
    r1, r2 = await _rows(sessionmaker)
    assert r1.status == DeliveryStatus.PENDING and r1.attempts == 1
    assert r1.next_attempt_at is not None and 5 <= (r1.next_attempt_at - now).total_seconds() <= 10
    assert (r2.status, r2.last_ocpi_status, r2.last_message) == (DeliveryStatus.FAILED, 2001, "msg")
    async with session_scope(sessionmaker) as session:
        (c1,) = await claim_due(session, "w", 10, now + timedelta(seconds=11))
        await record_outcomes(
            session, [Delivered(c1, 1, _result(Outcome.TRANSIENT, None, None), now)], backoff, "w"
        )
    r1, _ = await _rows(sessionmaker)
    assert (r1.status, r1.attempts, r1.next_attempt_at) == (DeliveryStatus.FAILED, 2, None)


async def test_a_stolen_lease_fences_the_old_workers_outcome(sessionmaker: SessionMaker) -> None:
    await _partners(sessionmaker, PartnerStatus.CONNECTED)
    await create_tokens(sessionmaker, ["H1"])
    now = utcnow()
    async with session_scope(sessionmaker) as session:
        (old,) = await claim_due(session, "w1", 1, now, lease_seconds=1)
    async with session_scope(sessionmaker) as session:
        (new,) = await claim_due(session, "w2", 1, now + timedelta(seconds=2))
    async with session_scope(sessionmaker) as session:
        await record_outcomes(
            session, [Delivered(old, 1, _result(Outcome.PERMANENT, 400, None), now)], BackoffPolicy(), "w1"
        )
    (row,) = await _rows(sessionmaker)
    assert row.status == DeliveryStatus.PENDING and row.lease_token == new.lease_token


async def test_the_attempt_log_keeps_the_last_twenty(sessionmaker: SessionMaker) -> None:
    await _partners(sessionmaker, PartnerStatus.CONNECTED)
    await create_tokens(sessionmaker, ["I1"])
    backoff = BackoffPolicy(base_seconds=0.001, cap_seconds=0.001, max_attempts=100)
    now = utcnow()
    for i in range(ATTEMPT_LOG_KEEP + 5):
        async with session_scope(sessionmaker) as session:
            (claim,) = await claim_due(session, "w", 1, now + timedelta(seconds=i + 1))
            await record_outcomes(
                session, [Delivered(claim, 1, _result(Outcome.TRANSIENT, 500, None), now)], backoff, "w"
            )
    async with sessionmaker() as session:
        seqs = [a.seq for a in (await session.exec(select(TokenDeliveryAttempt))).all()]
    assert sorted(seqs) == list(range(6, ATTEMPT_LOG_KEEP + 6))


async def test_bulk_marking_many_tokens_for_many_partners(sessionmaker: SessionMaker) -> None:
    await _partners(sessionmaker, *[PartnerStatus.CONNECTED] * 20)
    tokens = await create_tokens(sessionmaker, [f"J{i}" for i in range(150)])
    async with session_scope(sessionmaker) as session:
        for t in tokens:
            t.version += 1
        written = await ledger.mark_tokens_changed(session, tokens)
    assert written == 3000
    rows = await _rows(sessionmaker)
    assert len(rows) == 3000 and {r.wanted_version for r in rows} == {2}


async def _by_party(sessionmaker: SessionMaker) -> dict[tuple[str, str], list[tuple[str, bool]]]:
    found: dict[tuple[str, str], list[tuple[str, bool]]] = {}
    for r in await _rows(sessionmaker):
        found.setdefault((r.to_country_code, r.to_party_id), []).append((r.status, r.paused))
    return found


async def _client_info(sessionmaker: SessionMaker, hub_id: int, pid: str, status: str, minute: int) -> None:
    from emsp.ingest.hubclientinfo import put_client_info
    from ocpi.models.hubclientinfo import ClientInfo

    info = ClientInfo.model_validate(client_info("BE", pid, status, minute))
    async with session_scope(sessionmaker) as session:
        await put_client_info(session, info, partner_id=hub_id)


async def test_a_hubs_rows_follow_the_parties_it_reports(sessionmaker: SessionMaker) -> None:
    async with session_scope(sessionmaker) as session:
        hub = await make_token_receiver(session, URL, role="HUB", country_code="de", party_id="hub")
    assert hub.id is not None
    first, _ = await create_tokens(sessionmaker, ["K1", "K2"])
    assert await _by_party(sessionmaker) == {("DE", "HUB"): [("PENDING", False)] * 2}  # broadcast

    await _client_info(sessionmaker, hub.id, "AAA", "CONNECTED", 1)
    await _client_info(sessionmaker, hub.id, "BBB", "OFFLINE", 1)
    assert await _by_party(sessionmaker) == {
        ("BE", "AAA"): [("PENDING", False)] * 2,
        ("BE", "BBB"): [("PENDING", True)] * 2,
    }
    (claimed,) = {c.to_party for c in await _claim_all(sessionmaker)}
    assert claimed == ("BE", "AAA")  # paused rows are never claimed

    async with session_scope(sessionmaker) as session:  # one of B's rows failed before it went OFFLINE
        await session.exec(  # type: ignore[call-overload]
            TokenDelivery.__table__.update()  # type: ignore[attr-defined]
            .where(TokenDelivery.__table__.c.to_party_id == "BBB")  # type: ignore[attr-defined]
            .values(status="SUCCEEDED", acked_version=1)
        )
        await session.exec(  # type: ignore[call-overload]
            TokenDelivery.__table__.update()  # type: ignore[attr-defined]
            .where(
                TokenDelivery.__table__.c.to_party_id == "BBB", TokenDelivery.__table__.c.token_id == first.id
            )  # type: ignore[attr-defined]
            .values(status="FAILED")
        )
    await _client_info(sessionmaker, hub.id, "BBB", "CONNECTED", 2)
    assert sorted((await _by_party(sessionmaker))[("BE", "BBB")]) == [
        ("PENDING", False),
        ("SUCCEEDED", False),
    ]

    await _client_info(sessionmaker, hub.id, "AAA", "SUSPENDED", 3)
    assert set(await _by_party(sessionmaker)) == {("BE", "BBB")}
    async with session_scope(sessionmaker) as session:
        assert set((await sync.sync_partners(session)).values()) == {"none"}  # already in line


async def test_the_periodic_sync_brings_a_hub_in_line_without_the_store_hook(
    sessionmaker: SessionMaker,
) -> None:
    from emsp.ingest.tables import HubClientInfo

    async with session_scope(sessionmaker) as session:
        hub = await make_token_receiver(session, URL, role="HUB", country_code="DE", party_id="HUB")
    await create_tokens(sessionmaker, ["L1"])
    async with session_scope(sessionmaker) as session:  # written behind the ledger's back
        for pid, status in (("AAA", "CONNECTED"), ("BBB", "PLANNED")):
            info = client_info("BE", pid, status)
            session.add(HubClientInfo(partner_id=hub.id, data=info, **{**info, "last_updated": utcnow()}))
    async with session_scope(sessionmaker) as session:
        assert (await sync.sync_partners(session))[hub.id] == "dropped, backfilled"  # type: ignore[index]
    assert await _by_party(sessionmaker) == {
        ("BE", "AAA"): [("PENDING", False)],
        ("BE", "BBB"): [("PENDING", True)],
    }


async def _claim_all(sessionmaker: SessionMaker) -> list[Any]:
    async with session_scope(sessionmaker) as session:
        return await claim_due(session, "w", 100, utcnow())
