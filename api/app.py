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
from api.nul_guard import NulGuard
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
from gc_tuning import settle_collector
from services.temporal import connect

DESCRIPTION = """Drip plans (SmartPlans) and lead routing for real-estate teams, on Temporal.

Authenticate with `Authorization: Bearer <api key>`. A refusal names the rule it applies (`R-MERGE-1`, …): each
entry of a 422 carries `help`, the section of `docs/rules.md` (in the SmartPlans repository) that explains it."""


# The routers' routes go on the app's own router rather than through `include_router`: since FastAPI 0.137 that
# keeps each router as a nested node, and every request walks those nodes route by route, twice, at about 2 us per
# route passed. Flat, the enrollment POST was found in 5 us instead of 94 and a lead's POST in 12 instead of 125
# (docs/performance.md, "The routers flat on the app"). The routers set nothing but their tags, which their routes
# carry themselves.
# Busiest first (enrolling, then lead intake): no route of one router matches a request meant for another's
# (tests/api/test_route_table.py), so the order only changes how soon a route is found.
ROUTERS = (enrollments, leads, webhooks, contacts, plans, identity, library, triggers, designs, routes, credits)
# The /docs page's sections, in the order a new team meets them (the routing order above is not a reading order).
TAGS = [
    {"name": "identity", "description": "Teams, agents, API keys, the caller and the team's settings; health."},
    {"name": "contacts", "description": "Contacts, their tags and their timeline."},
    {"name": "plans", "description": "SmartPlans: create, edit, activate, duplicate and preview."},
    {"name": "designs", "description": "Email designs: the team's library and each agent's own."},
    {"name": "tags and triggers", "description": "Tags, and the tags that enroll a contact in a plan or remove "
                                                 "it from one."},
    {"name": "enrollments", "description": "A contact in a plan: enroll (one or a batch), progress, removal."},
    {"name": "tasks", "description": "The tasks plans create for agents."},
    {"name": "messages", "description": "Texts and emails, sent and received."},
    {"name": "shared library", "description": "Plans published by every team, to browse and copy."},
    {"name": "leads", "description": "New leads, offers to agents with claim deadlines, and the unassigned pool."},
    {"name": "lead routing", "description": "Routes: which agents are offered which leads, and when."},
    {"name": "credits", "description": "Each agent's email quota and this month's sends."},
    {"name": "webhooks", "description": "Twilio and SendGrid callbacks, and the unsubscribe page."},
]


def create_app(settings: Settings | None = None, *, temporal: Client | None = None,
               sessions: async_sessionmaker[AsyncSession] | None = None,
               clock: Callable[[], Awaitable[datetime]] | None = None) -> FastAPI:
    """Tests pass their own Temporal client, session factory and clock; in production all come from settings and the
    wall clock. Called with nothing, as uvicorn's `--factory` calls it, the app is its process's own: once started,
    it settles the process's garbage collector (`gc_tuning`)."""
    config = settings or get_settings()
    owns_process = settings is None and temporal is None and sessions is None and clock is None

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
        if owns_process:
            settle_collector(config.process_gc_threshold)
        try:
            yield
        finally:
            if engine is not None:
                await engine.dispose()

    app = FastAPI(title="SmartPlans", version="0.1.0", lifespan=lifespan, description=DESCRIPTION, openapi_tags=TAGS,
                  docs_url=None, redoc_url=None)  # served from local assets instead of a CDN: see api/docs.py
    app.add_middleware(BodyLimit)
    app.add_middleware(NulGuard)
    docs.install(app)
    errors.install(app)
    openapi.install(app)
    for module in ROUTERS:
        app.router.routes.extend(module.router.routes)
    return app
