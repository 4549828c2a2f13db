"""Object keys: `(country_code, party_id, id)` compared as the spec's CiString, i.e. case-insensitively.
Keys are stored upper-cased; the original spelling stays in the object's JSON."""

from __future__ import annotations

from dataclasses import dataclass


def ci(value: str) -> str:
    """The stored form of a CiString key."""
    return value.strip().upper()


@dataclass(frozen=True, slots=True)
class ObjectKey:
    """A client-owned object's key (transport_and_format.asciidoc 4.1.5), normalised."""

    country_code: str
    party_id: str
    id: str

    @classmethod
    def of(cls, country_code: str, party_id: str, object_id: str) -> ObjectKey:
        return cls(ci(country_code), ci(party_id), ci(object_id))

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.id}"
