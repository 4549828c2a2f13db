"""Admin API for billing configuration (`/admin/v1/...`): MSP tariff plans, plan assignments, drivers'
subscriptions (contracts), location groups, VAT rates per country, exchange rates.

- `GET|PUT /msp-plans/{code}`, `GET /msp-plans`: a PUT that changes a plan bumps its `version`; MSP CDRs
  priced with it keep the version they used; repricing afterwards adds revisions.
- `GET|POST /msp-plan-assignments`, `DELETE /msp-plan-assignments/{id}` (precedence: `emsp.billing.tables`).
- `GET /msp-contracts`, `PUT|DELETE /msp-contracts/{contract_id}`: contract id → subscription.
- `GET /location-groups/{group}`, `PUT|DELETE /location-groups/{group}/members/{cc}/{pid}/{location_id}`.
- `GET /vat-rates`, `PUT /vat-rates/{country}` (alpha-2 or alpha-3; stored alpha-2), one row per valid_from.
- `GET|POST /fx-rates`: 1 base = rate quote, from valid_from.

Errors: bad input 400 (nothing stored), unknown object 404, a clash or a plan still in use 409.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import delete, exists
from sqlmodel import col, select

from emsp.billing.schemas import (
    AssignmentIn,
    ContractIn,
    FxRateIn,
    GroupMemberIn,
    PlanIn,
    VatRateIn,
    checked_country,
)
from emsp.billing.tables import (
    FxRate,
    MspContract,
    MspLocationGroupMember,
    MspPlanAssignment,
    MspTariffPlan,
    VatRate,
)
from emsp.cdrs.queries import pick_fields
from emsp.deps import AdminKeyDep, DbSession
from emsp.errors import AdminError
from ocpi.types import utcnow

router = APIRouter(tags=["admin: billing"])

PLAN_FIELDS = ["id", "code", "name", "kind", "currency", "markup_percent", "markup_fixed", "version",
               "created_at", "updated_at"]  # fmt: skip
ASSIGNMENT_FIELDS = ["id", "scope", "subscription", "country_code", "party_id", "location_id", "evse_uid",
                     "location_group", "created_at"]  # fmt: skip


def plan_view(plan: MspTariffPlan) -> dict[str, Any]:
    view = pick_fields(plan, PLAN_FIELDS)
    view["tariff"] = None if plan.tariff_json is None else json.loads(plan.tariff_json)
    return view


async def _plan(session: DbSession, code: str) -> MspTariffPlan:
    plan = (await session.exec(select(MspTariffPlan).where(col(MspTariffPlan.code) == code))).first()
    if plan is None:
        raise AdminError(404, "not_found", f"No MSP tariff plan {code!r}")
    return plan


@router.get("/msp-plans")
async def get_plans(session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    plans = (await session.exec(select(MspTariffPlan).order_by(col(MspTariffPlan.code)))).all()
    return {"items": [plan_view(p) for p in plans]}


@router.get("/msp-plans/{code}")
async def get_plan(code: str, session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    return plan_view(await _plan(session, code))


@router.put("/msp-plans/{code}")
async def put_plan(
    code: str, body: PlanIn, session: DbSession, _key: AdminKeyDep, response: Response
) -> dict[str, Any]:
    """Create or replace plan `code`; its version goes up when anything that prices changes."""
    if not 1 <= len(code) <= 40:
        raise AdminError(400, "invalid_request", "plan code: 1 to 40 characters")
    values = {
        "name": body.name,
        "kind": body.kind.value,
        "currency": body.currency or "",
        "tariff_json": None if body.tariff is None else json.dumps(body.tariff, sort_keys=True),
        "markup_percent": body.markup_percent,
        "markup_fixed": body.markup_fixed,
    }
    plan = (await session.exec(select(MspTariffPlan).where(col(MspTariffPlan.code) == code))).first()
    if plan is None:
        plan = MspTariffPlan(code=code, **values)
        response.status_code = 201
    else:
        pricing = ("kind", "currency", "tariff_json", "markup_percent", "markup_fixed")
        if any(getattr(plan, k) != values[k] for k in pricing):
            plan.version += 1
        for name, value in values.items():
            setattr(plan, name, value)
        plan.updated_at = utcnow()
    session.add(plan)
    await session.flush()
    return plan_view(plan)


def assignment_view(assignment: MspPlanAssignment, plan_code: str) -> dict[str, Any]:
    return {**pick_fields(assignment, ASSIGNMENT_FIELDS), "plan": plan_code}


@router.get("/msp-plan-assignments")
async def get_assignments(session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    stmt = (
        select(MspPlanAssignment, MspTariffPlan.code)
        .join(MspTariffPlan, col(MspTariffPlan.id) == col(MspPlanAssignment.plan_id))
        .order_by(col(MspPlanAssignment.id))
    )
    return {"items": [assignment_view(a, code) for a, code in (await session.exec(stmt)).all()]}


@router.post("/msp-plan-assignments", status_code=201)
async def post_assignment(body: AssignmentIn, session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    plan = await _plan(session, body.plan)
    assert plan.id is not None
    assignment = MspPlanAssignment(
        plan_id=plan.id,
        scope=body.scope.value,
        subscription=body.subscription or "",
        country_code=(body.country_code or "").upper(),
        party_id=(body.party_id or "").upper(),
        location_id=(body.location_id or "").lower(),
        evse_uid=(body.evse_uid or "").lower(),
        location_group=body.location_group or "",
    )
    key = [col(getattr(MspPlanAssignment, k)) == getattr(assignment, k) for k in ASSIGNMENT_FIELDS[1:8]]
    if (await session.exec(select(MspPlanAssignment.id).where(*key))).first() is not None:
        raise AdminError(409, "conflict", "An assignment with this scope and keys exists; delete it first")
    session.add(assignment)
    await session.flush()
    return assignment_view(assignment, plan.code)


@router.delete("/msp-plan-assignments/{assignment_id}", status_code=204)
async def delete_assignment(assignment_id: int, session: DbSession, _key: AdminKeyDep) -> Response:
    found = await session.get(MspPlanAssignment, assignment_id)
    if found is None:
        raise AdminError(404, "not_found", f"No assignment {assignment_id}")
    await session.delete(found)
    return Response(status_code=204)


@router.get("/msp-contracts")
async def get_contracts(
    session: DbSession, _key: AdminKeyDep, subscription: Annotated[str | None, Query(max_length=40)] = None
) -> dict[str, Any]:
    stmt = select(MspContract).order_by(col(MspContract.contract_id_norm))
    if subscription:
        stmt = stmt.where(col(MspContract.subscription) == subscription)
    fields = ["contract_id", "subscription", "customer_ref", "updated_at"]
    return {"items": [pick_fields(c, fields) for c in (await session.exec(stmt)).all()]}


@router.put("/msp-contracts/{contract_id}")
async def put_contract(
    contract_id: str, body: ContractIn, session: DbSession, _key: AdminKeyDep
) -> dict[str, Any]:
    if not 1 <= len(contract_id) <= 36:
        raise AdminError(400, "invalid_request", "contract_id: 1 to 36 characters")
    stmt = select(MspContract).where(col(MspContract.contract_id_norm) == contract_id.lower())
    contract = (await session.exec(stmt)).first() or MspContract(
        contract_id=contract_id, contract_id_norm=contract_id.lower(), subscription=body.subscription
    )
    contract.subscription, contract.customer_ref, contract.updated_at = (
        body.subscription,
        body.customer_ref,
        utcnow(),
    )
    session.add(contract)
    await session.flush()
    return pick_fields(contract, ["contract_id", "subscription", "customer_ref", "updated_at"])


@router.delete("/msp-contracts/{contract_id}", status_code=204)
async def delete_contract(contract_id: str, session: DbSession, _key: AdminKeyDep) -> Response:
    stmt = delete(MspContract).where(col(MspContract.contract_id_norm) == contract_id.lower())
    await session.exec(stmt)  # type: ignore[call-overload]
    return Response(status_code=204)


@router.get("/location-groups/{group}")
async def get_group(group: str, session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    stmt = select(MspLocationGroupMember).where(col(MspLocationGroupMember.location_group) == group)
    members = (await session.exec(stmt.order_by(col(MspLocationGroupMember.id)))).all()
    return {
        "group": group,
        "members": [pick_fields(m, ["country_code", "party_id", "location_id"]) for m in members],
    }


@router.put("/location-groups/{group}/members", status_code=201)
async def put_group_member(
    group: str, body: GroupMemberIn, session: DbSession, _key: AdminKeyDep
) -> dict[str, Any]:
    if not 1 <= len(group) <= 40:
        raise AdminError(400, "invalid_request", "group: 1 to 40 characters")
    member = MspLocationGroupMember(
        location_group=group,
        country_code=body.country_code.upper(),
        party_id=body.party_id.upper(),
        location_id=body.location_id.lower(),
    )
    same = select(MspLocationGroupMember.id).where(
        col(MspLocationGroupMember.location_group) == group,
        col(MspLocationGroupMember.country_code) == member.country_code,
        col(MspLocationGroupMember.party_id) == member.party_id,
        col(MspLocationGroupMember.location_id) == member.location_id,
    )
    if not (await session.exec(select(exists(same)))).one():
        session.add(member)
        await session.flush()
    return await get_group(group, session, _key)


@router.delete("/location-groups/{group}/members/{country_code}/{party_id}/{location_id}", status_code=204)
async def delete_group_member(
    group: str, country_code: str, party_id: str, location_id: str, session: DbSession, _key: AdminKeyDep
) -> Response:
    stmt = delete(MspLocationGroupMember).where(
        col(MspLocationGroupMember.location_group) == group,
        col(MspLocationGroupMember.country_code) == country_code.upper(),
        col(MspLocationGroupMember.party_id) == party_id.upper(),
        col(MspLocationGroupMember.location_id) == location_id.lower(),
    )
    await session.exec(stmt)  # type: ignore[call-overload]
    return Response(status_code=204)


VAT_FIELDS = ["id", "country_code", "rate_percent", "valid_from", "created_at"]
FX_FIELDS = ["id", "base_currency", "quote_currency", "rate", "valid_from", "source", "created_at"]


@router.get("/vat-rates")
async def get_vat_rates(session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    stmt = select(VatRate).order_by(col(VatRate.country_code), col(VatRate.valid_from))
    return {"items": [pick_fields(v, VAT_FIELDS) for v in (await session.exec(stmt)).all()]}


@router.put("/vat-rates/{country}")
async def put_vat_rate(
    country: str, body: VatRateIn, session: DbSession, _key: AdminKeyDep
) -> dict[str, Any]:
    """The VAT percent of `country` from `valid_from` (default: always); the same `valid_from` replaces."""
    try:
        alpha2 = checked_country(country)
    except ValueError as exc:
        raise AdminError(400, "invalid_request", str(exc)) from None
    stmt = select(VatRate).where(
        col(VatRate.country_code) == alpha2, col(VatRate.valid_from) == body.valid_from
    )
    rate = (await session.exec(stmt)).first() or VatRate(
        country_code=alpha2, rate_percent=body.rate_percent, valid_from=body.valid_from
    )
    rate.rate_percent = body.rate_percent
    session.add(rate)
    await session.flush()
    return pick_fields(rate, VAT_FIELDS)


@router.get("/fx-rates")
async def get_fx_rates(
    session: DbSession,
    _key: AdminKeyDep,
    base: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
    quote: Annotated[str | None, Query(min_length=3, max_length=3)] = None,
) -> dict[str, Any]:
    stmt = select(FxRate).order_by(
        col(FxRate.base_currency), col(FxRate.quote_currency), col(FxRate.valid_from)
    )
    if base:
        stmt = stmt.where(col(FxRate.base_currency) == base.upper())
    if quote:
        stmt = stmt.where(col(FxRate.quote_currency) == quote.upper())
    return {"items": [pick_fields(r, FX_FIELDS) for r in (await session.exec(stmt)).all()]}


@router.post("/fx-rates", status_code=201)
async def post_fx_rate(body: FxRateIn, session: DbSession, _key: AdminKeyDep) -> dict[str, Any]:
    """A rate from `valid_from`; a second rate for the same pair and moment is refused (409): MSP CDRs may
    already have used it."""
    same = select(FxRate.id).where(
        col(FxRate.base_currency) == body.base_currency,
        col(FxRate.quote_currency) == body.quote_currency,
        col(FxRate.valid_from) == body.valid_from,
    )
    if (await session.exec(same)).first() is not None:
        raise AdminError(409, "conflict", "A rate for this pair and valid_from exists")
    rate = FxRate(**body.model_dump())
    session.add(rate)
    await session.flush()
    return pick_fields(rate, FX_FIELDS)
