"""The FastAPI app factory. The lifespan builds the engine, the shared HTTP client and the scheduler."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType

from fastapi import FastAPI

from emsp.db import make_engine, make_sessionmaker
from emsp.errors import install_error_handlers
from emsp.gc_policy import freeze_startup_objects
from emsp.logging import configure_logging
from emsp.middleware import RequestIdMiddleware
from emsp.node import Node, make_http_client
from emsp.ocpi_api import VERSION_PATH, ModuleEndpoint
from emsp.ocpi_api import versions as versions_api
from emsp.settings import Settings

log = logging.getLogger("emsp.app")


def ocpi_modules() -> list[ModuleType]:
    """The OCPI module routers we serve under the version path; each lists its ENDPOINTS."""
    from emsp.ocpi_api import credentials
    from emsp.ocpi_api import hubclientinfo as ocpi_hubclientinfo
    from emsp.ocpi_api import locations as ocpi_locations
    from emsp.ocpi_api import sessions as ocpi_sessions
    from emsp.ocpi_api import tariffs as ocpi_tariffs
    from emsp.ocpi_api import tokens as ocpi_tokens

    modules = [credentials, ocpi_tokens]
    modules += [ocpi_locations, ocpi_tariffs, ocpi_sessions, ocpi_hubclientinfo]
    from emsp.ocpi_api import cdrs as ocpi_cdrs

    modules.append(ocpi_cdrs)
    return modules


def admin_modules() -> list[ModuleType]:
    from emsp.admin_api import distributions as admin_distributions
    from emsp.admin_api import partners
    from emsp.admin_api import tokens as admin_tokens

    modules = [partners, admin_tokens]
    modules.append(admin_distributions)
    from emsp.admin_api import billing as admin_billing
    from emsp.admin_api import finance as admin_finance

    modules += [admin_finance, admin_billing]
    from emsp.admin_api import ingest as admin_ingest
    from emsp.admin_api import locations as admin_locations
    from emsp.admin_api import sessions as admin_sessions
    from emsp.admin_api import tariffs as admin_tariffs

    modules += [admin_locations, admin_tariffs, admin_sessions, admin_ingest]
    return modules


def create_app(settings: Settings | None = None, *, start_background: bool | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    run_background = settings.run_worker if start_background is None else start_background

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        http = make_http_client(settings)
        node = Node(settings=settings, engine=engine, sessionmaker=make_sessionmaker(engine), http=http)
        app.state.node = node
        if run_background:
            from emsp.scheduler import start_scheduler

            node.scheduler = start_scheduler(node)
        freeze_startup_objects()
        try:
            yield
        finally:
            if node.scheduler is not None:
                node.scheduler.shutdown(wait=False)
            await node.aclose()

    app = FastAPI(title="eMSP OCPI 2.2.1 node", version="0.1.0", lifespan=lifespan)
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    endpoints: list[ModuleEndpoint] = []
    app.include_router(versions_api.router)
    for module in ocpi_modules():
        app.include_router(module.router, prefix=VERSION_PATH)
        endpoints.extend(module.ENDPOINTS)
    for module in admin_modules():
        app.include_router(module.router, prefix="/admin/v1")
    app.state.ocpi_endpoints = endpoints
    return app
