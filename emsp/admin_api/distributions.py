"""Admin API for token distribution (`/admin/v1/distributions`): who has which token, what failed, and
the operator's actions.

- `GET  /distributions`                 per partner: role, party, succeeded / failed / pending / paused
                                         counts, pause, last success and failure (`?partner=` for one),
                                         and `parties`: the same per target party (a hub: its broadcast or
                                         each CPO party it reports, with its HubClientInfo status)
- `GET  /distributions/deliveries`      rows with their target party and pause reason, filtered by
                                         `?partner=`, `?party=CC-PID` and `?status=`, paginated
- `GET  /distributions/tokens/{token}`  one token (id or uid) per partner and target party, last outcome
                                         and attempt log
- `POST /distributions/retry`           FAILED rows PENDING again: all, `?partner=` (all its parties),
                                         `?token=` (or both)
- `POST /distributions/reconcile`       GET a partner's copies back now (`?sample=`, or `?all=true`)

`partner` is a partner id or name; `token` a token id or uid (`?type=` picks among tokens sharing a uid).
Errors: bad input 400, unknown partner or token 404; nothing is stored then.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from emsp.deps import AdminKeyDep, DbSession, NodeDep
from emsp.distribution import ledger
from emsp.distribution.queries import distribution_for_token, list_deliveries, partner_summaries
from emsp.distribution.reconcile import reconcile_partner
from emsp.distribution.tables import DeliveryStatus
from emsp.errors import AdminError
from emsp.tokens import service
from ocpi.models.tokens import TokenType
from partners.errors import PartnerNotFound
from partners.registry import find_partner

router = APIRouter(prefix="/distributions", tags=["admin: distributions"])

PartnerRef = Annotated[str | None, Query(min_length=1, max_length=100, description="Partner id or name")]
TokenRef = Annotated[str | None, Query(min_length=1, max_length=40, description="Token id or uid")]
TypeQuery = Annotated[TokenType | None, Query(alias="type", description="Disambiguates a token uid")]
PartyRef = Annotated[
    str | None,
    Query(pattern=r"^[A-Za-z]{2}-[A-Za-z0-9]{1,3}$", description="Target party, as CC-PID (e.g. DE-ABC)"),
]


def _party(ref: str) -> tuple[str, str]:
    country_code, _, party_id = ref.upper().partition("-")
    return country_code, party_id


async def partner_id_of(session: DbSession, ref: str) -> int:
    try:
        partner = await find_partner(session, ref)
    except PartnerNotFound as exc:
        raise AdminError(404, "not_found", exc.message) from None
    assert partner.id is not None
    return partner.id


async def token_id_of(session: DbSession, ref: str, token_type: TokenType | None) -> int:
    token = await service.find_token(session, ref, None if token_type is None else token_type.value)
    assert token.id is not None
    return token.id


@router.get("")
async def get_distributions(
    session: DbSession, _key: AdminKeyDep, partner: PartnerRef = None
) -> dict[str, Any]:
    """Per-partner distribution table."""
    partner_id = None if partner is None else await partner_id_of(session, partner)
    return {"partners": await partner_summaries(session, partner_id)}


@router.get("/deliveries")
async def get_deliveries(
    session: DbSession,
    _key: AdminKeyDep,
    partner: PartnerRef = None,
    party: PartyRef = None,
    status: DeliveryStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    partner_id = None if partner is None else await partner_id_of(session, partner)
    rows = await list_deliveries(
        session,
        partner_id=partner_id,
        party=None if party is None else _party(party),
        status=None if status is None else status.value,
        limit=limit,
        offset=offset,
    )
    return {"deliveries": rows, "limit": limit, "offset": offset}


@router.get("/tokens/{token}")
async def get_token_distribution(
    token: str, session: DbSession, _key: AdminKeyDep, token_type: TypeQuery = None
) -> dict[str, Any]:
    return await distribution_for_token(session, await token_id_of(session, token, token_type))


@router.post("/retry")
async def retry(
    session: DbSession,
    _key: AdminKeyDep,
    partner: PartnerRef = None,
    token: TokenRef = None,
    token_type: TypeQuery = None,
) -> dict[str, Any]:
    """FAILED rows in the scope become PENDING (attempts reset, due now); only that scope."""
    partner_id = None if partner is None else await partner_id_of(session, partner)
    token_id = None if token is None else await token_id_of(session, token, token_type)
    retried = await ledger.retry_failed(
        session,
        partner_ids=None if partner_id is None else [partner_id],
        token_ids=None if token_id is None else [token_id],
    )
    return {"retried": retried, "scope": {"partner_id": partner_id, "token_id": token_id}}


@router.post("/reconcile")
async def reconcile(
    node: NodeDep,
    _key: AdminKeyDep,
    partner: Annotated[str, Query(min_length=1, max_length=100, description="Partner id or name")],
    sample: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    all_rows: Annotated[bool, Query(alias="all")] = False,
) -> dict[str, Any]:
    """GET the partner's copies of a sample (default: the configured size) or all of its delivered tokens
    back; those that differ or are missing become PENDING."""
    async with node.sessionmaker() as session:  # no transaction stays open across the partner's calls
        partner_id = await partner_id_of(session, partner)
    size = None if all_rows else (sample or node.settings.distribution_reconcile_sample)
    report = await reconcile_partner(node.sessionmaker, node.http, partner_id, sample=size)
    return report.as_dict()
