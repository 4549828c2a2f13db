"""Objects shared by several OCPI 2.2.1 modules, and `OcpiModel`, the base of every wire model.

Spec: types.asciidoc (section 16: DisplayText, Price, Role) and mod_locations.asciidoc (section 8.4:
GeoLocation, BusinessDetails, Image, EnergyMix, which Credentials, Tariffs and CDRs use as well).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from ocpi.types import URL, CiString4, Number, String2, String64, String100, String512

__all__ = [
    "BusinessDetails",
    "DisplayText",
    "EnergyMix",
    "EnergySource",
    "EnergySourceCategory",
    "EnvironmentalImpact",
    "EnvironmentalImpactCategory",
    "GeoLocation",
    "Image",
    "ImageCategory",
    "Latitude",
    "Longitude",
    "OcpiModel",
    "Price",
    "Role",
]

Latitude = Annotated[str, StringConstraints(max_length=10, pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
"""`string(10)`, decimal degrees, regex `-?[0-9]{1,2}\\.[0-9]{5,7}` (8.4.13)."""

Longitude = Annotated[str, StringConstraints(max_length=11, pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]
"""`string(11)`, decimal degrees, regex `-?[0-9]{1,3}\\.[0-9]{5,7}` (8.4.13)."""


class OcpiModel(BaseModel):
    """Base of every OCPI wire model.

    Unknown fields are ignored (peers may send newer or custom fields). Optional fields default to
    `None` and `*` lists to `None`, so `to_json()` gives back what was received: absent stays absent.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready dict of this object: DateTimes as `...Z` strings, numbers as JSON numbers,
        `None` fields left out."""
        return self.model_dump(mode="json", exclude_none=True)


class Role(StrEnum):
    """Role enum (16.6)."""

    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class DisplayText(OcpiModel):
    """DisplayText class (16.3)."""

    language: String2
    text: String512


class Price(OcpiModel):
    """Price class (16.5)."""

    excl_vat: Number
    incl_vat: Number | None = None


class GeoLocation(OcpiModel):
    """GeoLocation class (8.4.13), WGS 84."""

    latitude: Latitude
    longitude: Longitude


class ImageCategory(StrEnum):
    """ImageCategory enum (8.4.16)."""

    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class Image(OcpiModel):
    """Image class (8.4.15). `width` and `height` are `int(5)`."""

    url: URL
    thumbnail: URL | None = None
    category: ImageCategory
    type: CiString4
    width: Annotated[int, Field(ge=0, le=99999)] | None = None
    height: Annotated[int, Field(ge=0, le=99999)] | None = None


class BusinessDetails(OcpiModel):
    """BusinessDetails class (8.4.2)."""

    name: String100
    website: URL | None = None
    logo: Image | None = None


class EnergySourceCategory(StrEnum):
    """EnergySourceCategory enum (8.4.8)."""

    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnergySource(OcpiModel):
    """EnergySource class (8.4.7): percentage (0-100) of one source in the mix."""

    source: EnergySourceCategory
    percentage: Number


class EnvironmentalImpactCategory(StrEnum):
    """EnvironmentalImpactCategory enum (8.4.10)."""

    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


class EnvironmentalImpact(OcpiModel):
    """EnvironmentalImpact class (8.4.9): amount in g/kWh."""

    category: EnvironmentalImpactCategory
    amount: Number


class EnergyMix(OcpiModel):
    """EnergyMix class (8.4.6), used by Location and Tariff."""

    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String64 | None = None
    energy_product_name: String64 | None = None
