"""The OCPI response envelope (spec transport_and_format.asciidoc 4.1.7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from ocpi.status import StatusCode
from ocpi.types import DateTime, String255, format_datetime, utcnow

T = TypeVar("T")


class OcpiResponse(BaseModel, Generic[T]):
    """`{data, status_code, status_message, timestamp}` around every OCPI answer."""

    model_config = ConfigDict(extra="ignore")

    data: T | None = None
    status_code: int
    status_message: String255 | None = None
    timestamp: DateTime


def envelope(
    data: Any = None,
    *,
    status_code: int = StatusCode.SUCCESS,
    status_message: str | None = None,
    timestamp: datetime | None = None,
) -> dict[str, Any]:
    """The envelope as a JSON-ready dict; `data` must already be JSON-ready (or None, which is omitted)."""
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    body["status_code"] = int(status_code)
    if status_message is not None:
        body["status_message"] = status_message[:255]
    body["timestamp"] = format_datetime(timestamp or utcnow())
    return body
