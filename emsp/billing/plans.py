"""Which MSP tariff plan applies to a CDR (see `emsp.billing.tables` for the precedence rule).

One query reads every assignment that could apply (all levels, the driver's subscription or none) with its
plan; the most specific wins: `EVSE > LOCATION > LOCATION_GROUP > CPO_PARTY > SUBSCRIPTION > DEFAULT`, and
within one level a rule limited to the driver's subscription beats one for everybody.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlmodel import col

import cdr_pricing
from emsp.billing.tables import (
    SCOPE_PRECEDENCE,
    AssignmentScope,
    MspContract,
    MspLocationGroupMember,
    MspPlanAssignment,
    MspTariffPlan,
)

if TYPE_CHECKING:
    from emsp.cdrs.reads import PricingReads


@dataclass(frozen=True)
class SiteKey:
    """Where and by whom a CDR was charged, normalised like the assignment keys."""

    country_code: str  # the CPO's, upper-case
    party_id: str
    location_id: str  # lower-case
    evse_uid: str
    contract_id: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The columns of a plan that pricing reads."""

    id: int
    code: str
    kind: str
    currency: str
    tariff_json: str | None
    markup_percent: Decimal | None
    markup_fixed: Decimal | None
    version: int


@dataclass(frozen=True, slots=True)
class Rule:
    """The assignment that chose the plan."""

    id: int
    scope: str
    subscription: str
    country_code: str
    party_id: str
    location_id: str
    evse_uid: str
    location_group: str


@dataclass(frozen=True)
class PlanChoice:
    plan: Plan
    assignment: Rule
    subscription: str | None

    @property
    def rule(self) -> str:
        a = self.assignment
        keys = [a.country_code, a.party_id, a.location_id, a.evse_uid, a.location_group]
        where = "/".join(k for k in keys if k)
        sub = f" for {a.subscription}" if a.subscription else ""
        return f"{a.scope}{' ' + where if where else ''}{sub} (#{a.id})"[:120]


A, P = MspPlanAssignment.__table__, MspTariffPlan.__table__  # type: ignore[attr-defined]
_RULE_COLS = [A.c[name] for name in Rule.__slots__]  # type: ignore[attr-defined]
_PLAN_COLS = [P.c[name] for name in Plan.__slots__]  # type: ignore[attr-defined]
_SUBSCRIPTION = (
    select(MspContract.subscription)  # type: ignore[call-overload]
    .where(col(MspContract.contract_id_norm) == bindparam("contract"))
    .scalar_subquery()
)


def _candidates() -> Any:
    """Every assignment that could apply, with its plan and the driver's subscription: one statement,
    built once (bound parameters: cc, pid, location, evse, contract)."""
    party = and_(A.c.country_code == bindparam("cc"), A.c.party_id == bindparam("pid"))
    location = and_(party, A.c.location_id == bindparam("location"))
    groups = select(MspLocationGroupMember.location_group).where(  # type: ignore[call-overload]
        col(MspLocationGroupMember.country_code) == bindparam("cc"),
        col(MspLocationGroupMember.party_id) == bindparam("pid"),
        col(MspLocationGroupMember.location_id) == bindparam("location"),
    )
    subscription = func.coalesce(_SUBSCRIPTION, "")
    levels = or_(
        and_(A.c.scope == AssignmentScope.EVSE.value, location, A.c.evse_uid == bindparam("evse")),
        and_(A.c.scope == AssignmentScope.LOCATION.value, location),
        and_(A.c.scope == AssignmentScope.LOCATION_GROUP.value, A.c.location_group.in_(groups)),
        and_(A.c.scope == AssignmentScope.CPO_PARTY.value, party),
        and_(A.c.scope == AssignmentScope.SUBSCRIPTION.value, A.c.subscription == subscription),
        A.c.scope == AssignmentScope.DEFAULT.value,
    )
    for_driver = or_(A.c.subscription == "", A.c.subscription == subscription)
    return (
        select(*_RULE_COLS, *_PLAN_COLS, _SUBSCRIPTION.label("driver_subscription"))
        .select_from(A.join(P, P.c.id == A.c.plan_id))
        .where(levels, for_driver)
    )


CANDIDATES = _candidates()


def _rank(rule: Rule) -> tuple[int, int]:
    return SCOPE_PRECEDENCE.index(AssignmentScope(rule.scope)), 0 if rule.subscription else 1


def candidate_params(site: SiteKey) -> dict[str, str]:
    return {
        "cc": site.country_code,
        "pid": site.party_id,
        "location": site.location_id,
        "evse": site.evse_uid,
        "contract": site.contract_id,
    }


async def resolve_plan(reads: PricingReads, site: SiteKey) -> PlanChoice | None:
    rows = await reads.plan_rows(site)
    if not rows:
        return None
    n = len(_RULE_COLS)
    choices = [(Rule(*row[:n]), Plan(*row[n : n + len(_PLAN_COLS)]), row[-1]) for row in rows]
    rule, plan, subscription = min(choices, key=lambda choice: _rank(choice[0]))
    return PlanChoice(plan=plan, assignment=rule, subscription=subscription)


@lru_cache(maxsize=256)
def _compiled(plan_id: int, version: int, tariff_json: str) -> cdr_pricing.CompiledTariff:
    return cdr_pricing.compile_tariff(cdr_pricing.tariff_from_ocpi(json.loads(tariff_json)))


def plan_tariff(plan: Plan) -> cdr_pricing.CompiledTariff:
    """The plan's OCPI Tariff, parsed and compiled once per plan version (a pure cache: same input, same
    value, so nodes never disagree)."""
    assert plan.id is not None and plan.tariff_json is not None
    return _compiled(plan.id, plan.version, plan.tariff_json)
