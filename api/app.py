"""The FastAPI application: resources made in `lifespan`, never at import time; routers; error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api import docs, errors, openapi
from api.body_limit import BodyLimit
from api.deps import AppState, wall_clock
from api.routers import (
    contacts,
    credits,
    designs,
    enrollments,
    identity,
    leads,
    library,
    plans,
    routes,
    triggers,
    webhooks,
)
from config import Settings, get_settings
from db.session import create_engine_for, create_session_factory
from services.temporal import connect

DESCRIPTION = """Drip plans (SmartPlans) and lead routing for real-estate teams, on Temporal.

Authenticate with `Authorization: Bearer <api key>`. A refusal names the rule it applies (`R-MERGE-1`, …): each
entry of a 422 carries `help`, the section of `docs/rules.md` (in the SmartPlans repository) that explains it."""


def create_app(settings: Settings | None = None, *, temporal: Client | None = None,
               sessions: async_sessionmaker[AsyncSession] | None = None,
               clock: Callable[[], Awaitable[datetime]] | None = None) -> FastAPI:
    """Tests pass their own Temporal client, session factory and clock; in production all come from settings and the
    wall clock."""
    config = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config.check_production()
        engine = None
        factory = sessions
        if factory is None:
            engine = create_engine_for(config.database_url, postgres_pool_size=config.api_database_pool_size)
            factory = create_session_factory(engine)
        client = temporal or await connect(config, lazy=True)
        app.state.smartplans = AppState(settings=config, sessions=factory, temporal=client, clock=clock or wall_clock)
        try:
            yield
        finally:
            if engine is not None:
                await engine.dispose()

    app = FastAPI(title="SmartPlans", version="0.1.0", lifespan=lifespan, description=DESCRIPTION,
                  docs_url=None, redoc_url=None)  # served from local assets instead of a CDN: see api/docs.py
    app.add_middleware(BodyLimit)
    docs.install(app)
    errors.install(app)
    openapi.install(app)
    for module in (identity, contacts, plans, library, triggers, designs, enrollments, webhooks, routes, leads,
                   credits):
        app.include_router(module.router)
    return app
