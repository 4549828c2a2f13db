"""The OCPI endpoints we serve, one module per OCPI module. Each exposes `router` and `ENDPOINTS`, the
(identifier, role, path) entries that our version details list; the app factory collects them, so the
version details name exactly what is implemented."""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "2.2.1"
BASE_PATH = "/ocpi"
VERSION_PATH = f"{BASE_PATH}/{VERSION}"


@dataclass(frozen=True)
class ModuleEndpoint:
    identifier: str
    role: str  # SENDER or RECEIVER (spec InterfaceRole)
    path: str  # relative to the version path
