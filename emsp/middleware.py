"""Pure ASGI middleware: read or make `X-Request-ID` / `X-Correlation-ID`, echo them, expose them to logs."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emsp.logging import correlation_id_var, request_id_var

_MAX_ID = 100


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1").strip()
            return text[:_MAX_ID] if text else None
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _header(scope, b"x-request-id") or str(uuid.uuid4())
        correlation_id = _header(scope, b"x-correlation-id") or request_id
        scope.setdefault("state", {})
        scope["state"]["request_id"] = request_id
        scope["state"]["correlation_id"] = correlation_id
        # Not reset afterwards: each request runs in its own task context, and the outermost error
        # handler (which logs unexpected errors) runs after this middleware returns.
        request_id_var.set(request_id)
        correlation_id_var.set(correlation_id)

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[Any] = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers.append((b"x-correlation-id", correlation_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_ids)
