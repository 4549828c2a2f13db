"""HTTP header names used by OCPI (spec transport_and_format.asciidoc, 4.1.2-4.1.8 and 4.2)."""

from __future__ import annotations

AUTHORIZATION = "Authorization"
REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"
TOTAL_COUNT = "X-Total-Count"
LIMIT = "X-Limit"
LINK = "Link"
LOCATION = "Location"
TO_COUNTRY_CODE = "OCPI-to-country-code"
TO_PARTY_ID = "OCPI-to-party-id"
FROM_COUNTRY_CODE = "OCPI-from-country-code"
FROM_PARTY_ID = "OCPI-from-party-id"

ROUTING_HEADERS = (TO_COUNTRY_CODE, TO_PARTY_ID, FROM_COUNTRY_CODE, FROM_PARTY_ID)
