"""Real-time authorization (spec mod_tokens.asciidoc 12.2.2.2 POST, 12.3.1 AuthorizationInfo, 12.4.1 Allowed).

The decision, from the stored token alone (no opening hours or EVSE status, which the spec forbids us to
judge), in this order, the first that applies:

1. INACTIVE (deactivated) → NOT_ALLOWED; BLOCKED → BLOCKED; EXPIRED, or `valid_until` passed → EXPIRED;
   `valid_from` not reached yet → NOT_ALLOWED. (The token itself is not usable: that answer wins.)
2. Credit hold (`tokens.credit_hold`, set by finance or an operator) → NO_CREDIT, wherever the driver is:
   no LocationReferences are needed for it.
3. Location restriction: a token may carry an allow-list (`allowed_locations`: location ids, each with all
   or only some of its EVSE uids; ids compared case-insensitively). Without a list the token may charge
   anywhere, including unpublished private chargers (the spec's expectation). With a list: no
   LocationReferences in the request → OCPI 2002 (not enough information, spec 12.2.2.2); a location not
   on the list, or none of the asked EVSEs allowed → NOT_ALLOWED.
4. Otherwise ALLOWED, with a fresh `authorization_reference` (a UUID without dashes, 32 characters) and the
   location echoed with only the EVSEs the driver may use (spec 12.3.1 `location`).

This node keeps no credit balance: NO_CREDIT comes only from a hold (`emsp.tokens.service.hold_credit`).

`info` carries a short English text for the driver when the answer is not ALLOWED.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Protocol

from emsp.tokens.ocpi_map import TokenLike, to_ocpi
from emsp.tokens.tables import TokenStatus
from ocpi.errors import NotEnoughInformation
from ocpi.models.tokens import AllowedType, LocationReferences

_INFO = {
    AllowedType.BLOCKED: "This card is blocked. Please contact your charging service provider.",
    AllowedType.EXPIRED: "This card has expired. Please contact your charging service provider.",
    AllowedType.NO_CREDIT: "No credit on this account. Please contact your charging service provider.",
    AllowedType.NOT_ALLOWED: "This card may not be used to charge here.",
}


class AuthorizingToken(TokenLike, Protocol):
    """A token as authorization reads it (a `Token`, or a row of `queries.AUTHORIZE_COLUMNS`)."""

    credit_hold: bool


def _status_outcome(token: AuthorizingToken, now: datetime) -> AllowedType:
    if token.status == TokenStatus.INACTIVE:
        return AllowedType.NOT_ALLOWED
    if token.status == TokenStatus.BLOCKED:
        return AllowedType.BLOCKED
    if token.status == TokenStatus.EXPIRED or (token.valid_until is not None and now >= token.valid_until):
        return AllowedType.EXPIRED
    if token.valid_from is not None and now < token.valid_from:
        return AllowedType.NOT_ALLOWED
    if token.credit_hold:
        return AllowedType.NO_CREDIT
    return AllowedType.ALLOWED


def _allowed_evses(rules_json: str, location: LocationReferences) -> list[str] | None:
    """EVSEs of `location` the token may use ([] for none); None: the location with all its EVSEs."""
    wanted = location.location_id.casefold()
    for rule in json.loads(rules_json):
        if rule["location_id"].casefold() != wanted:
            continue
        allowed: list[str] | None = rule.get("evse_uids")
        if allowed is None:
            return None
        if location.evse_uids is None:
            return list(allowed)
        keys = {e.casefold() for e in allowed}
        return [e for e in location.evse_uids if e.casefold() in keys]
    return []


def _location_outcome(
    rules_json: str | None, location: LocationReferences | None
) -> tuple[AllowedType, dict[str, Any] | None]:
    if location is None:
        if rules_json is not None:
            raise NotEnoughInformation(
                "This token may charge only at some locations: send LocationReferences in the body"
            )
        return AllowedType.ALLOWED, None
    echoed = location.to_json()
    if rules_json is None:
        return AllowedType.ALLOWED, echoed
    evses = _allowed_evses(rules_json, location)
    if evses is None:
        return AllowedType.ALLOWED, echoed
    if not evses:
        return AllowedType.NOT_ALLOWED, None
    echoed["evse_uids"] = evses
    return AllowedType.ALLOWED, echoed


def authorization_info(
    token: AuthorizingToken, allowed_locations: str | None, location: LocationReferences | None, now: datetime
) -> dict[str, Any]:
    """The AuthorizationInfo object, JSON-ready. Raises `NotEnoughInformation` (2002) as described above."""
    allowed = _status_outcome(token, now)
    echoed: dict[str, Any] | None = None
    if allowed == AllowedType.ALLOWED:
        allowed, echoed = _location_outcome(allowed_locations, location)
    info: dict[str, Any] = {"allowed": allowed.value, "token": to_ocpi(token, now)}
    if echoed is not None:
        info["location"] = echoed
    if allowed == AllowedType.ALLOWED:
        info["authorization_reference"] = uuid.uuid4().hex
    else:
        info["info"] = {"language": "en", "text": _INFO[allowed]}
    return info
