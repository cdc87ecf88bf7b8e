"""Dependencies, declared once as `Annotated` aliases: the session (commits on success, rolls back on error),
settings, the Temporal client, and who is calling."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from api.errors import Forbidden, TooManyBadKeys, Unauthorized
from api.key_guard import BadKeyGuard
from api.security import hash_api_key, same_secret
from config import Settings
from db.models import Agent
from db.session import session_scope


async def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AppState:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    temporal: Client
    # When an enrollment starts: the plan's clock. Tests on the time-skipping server pass its clock, so the API and
    # the workflows agree on "now" there as they do in production.
    clock: Callable[[], Awaitable[datetime]] = wall_clock
    bad_keys: BadKeyGuard = field(default_factory=BadKeyGuard)


# Dependencies are `async def` even when they only read a field: FastAPI runs a plain `def` dependency in its
# thread pool, a hand-off to a thread and back for each one on every request (issue 11).
async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.smartplans
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


async def get_temporal(state: StateDep) -> Client:
    return state.temporal


async def get_sessions(state: StateDep) -> async_sessionmaker[AsyncSession]:
    return state.sessions


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with session_scope(state.sessions) as session:
        yield session


async def get_now(state: StateDep) -> datetime:
    return await state.clock()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
NowDep = Annotated[datetime, Depends(get_now)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
# Function scope: the transaction commits before the response is sent, so a commit that fails (the database gone,
# a constraint) answers as an error instead of after a 2xx the client already has.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
# For services that run their own transactions (enrolling commits before it starts a workflow).
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]

_bearer = HTTPBearer(auto_error=False, description="An agent's API key, or the bootstrap admin key")


@dataclass(frozen=True)
class Principal:
    agent: Agent | None  # None: the bootstrap admin

    @property
    def is_admin(self) -> bool:
        return self.agent is None


# Built once, the key's hash bound per request: building the select cost about a sixth of the lookup (issue 11).
_AGENT_BY_KEY = select(Agent).where(Agent.api_key_hash == bindparam("key_hash"))


async def get_principal(request: Request, session: SessionDep, state: StateDep,
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    key = credentials.credentials
    if same_secret(key, state.settings.smartplans_admin_key):
        return Principal(agent=None)
    agent = await session.scalar(_AGENT_BY_KEY, {"key_hash": hash_api_key(key)})
    if agent is not None:
        return Principal(agent=agent)
    client = request.client.host if request.client else "unknown"
    wait = state.bad_keys.retry_after(client)
    if wait is not None:
        raise TooManyBadKeys(wait)
    state.bad_keys.failed(client)
    raise Unauthorized("invalid API key")


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_current_agent(principal: PrincipalDep) -> Agent:
    if principal.agent is None:
        raise Forbidden("the admin key only creates teams and their agents; use an agent's API key")
    return principal.agent


CurrentAgent = Annotated[Agent, Depends(get_current_agent)]


def can_manage_team(agent: Agent) -> bool:
    """R-TEAM-1: the Rainmaker and `enhanced`/`unlimited` members manage team plans and team settings."""
    return agent.role == "rainmaker" or agent.permission in ("enhanced", "unlimited")
