"""A team's lead routes in priority order (R-ROUTE-1, R-ROUTE-4) and its agents' routing settings (R-STATS-1).

Shared by the API and the lead activities: `team_routes` is the list routing reads, `rule_of` turns a row into the
pure `domain.routing` rule. Nothing here commits; the caller's session scope does.

Positions are 0..n-1, 0 the top (highest priority). Every change to the list (a new route, a deletion, a new order)
first locks the team's row, so two such changes at once on PostgreSQL take turns instead of both writing position 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Agent, Team
from db.routing_models import AgentRouting, Route
from domain.ids import new_id
from domain.routing.model import RouteRule


async def team_routes(session: AsyncSession, team_id: str) -> list[Route]:
    """The team's routes, top (position 0, the highest priority) first."""
    rows = await session.scalars(
        select(Route).where(Route.team_id == team_id).order_by(Route.position, Route.created_at, Route.id))
    return list(rows.all())


def rule_of(route: Route) -> RouteRule:
    """The route as `domain.routing` decides with it (times parsed from `HH:MM`)."""
    return RouteRule.model_validate({
        "id": route.id, "title": route.title, "position": route.position, "active": route.active,
        "days_of_week": route.days_of_week, "start_time": time.fromisoformat(route.start_time),
        "end_time": time.fromisoformat(route.end_time), "date_from": route.date_from, "date_to": route.date_to,
        "sources": route.sources, "strategy": route.strategy, "agent_ids": route.agent_ids, "weights": route.weights,
        "claim_seconds": route.claim_seconds})


async def team_route(session: AsyncSession, team_id: str, route_id: str) -> Route | None:
    route = await session.get(Route, route_id)
    return route if route is not None and route.team_id == team_id else None


async def not_on_team(session: AsyncSession, team_id: str, agent_ids: Sequence[str]) -> list[str]:
    """The ids in `agent_ids` that are not agents of the team, in the order given."""
    found = set(await session.scalars(select(Agent.id).where(Agent.team_id == team_id, Agent.id.in_(agent_ids))))
    return [agent_id for agent_id in agent_ids if agent_id not in found]


async def _lock_list(session: AsyncSession, team_id: str) -> None:
    await session.execute(select(Team.id).where(Team.id == team_id).with_for_update())


async def add_route(session: AsyncSession, team_id: str, fields: Mapping[str, Any]) -> Route:
    """A new route goes to the top of the list: special routes are usually added on top of the all-encompassing
    ones below them (R-ROUTE-2)."""
    await _lock_list(session, team_id)
    await session.execute(update(Route).where(Route.team_id == team_id).values(position=Route.position + 1))
    route = Route(id=new_id("rt"), team_id=team_id, position=0, active=True, **fields)
    session.add(route)
    await session.flush()
    return route


def replace_route(route: Route, fields: Mapping[str, Any]) -> None:
    """`PUT`: every field anew; the place in the list and the active state stay. The stored rotation continues unless
    the agents, their order or the strategy change: then it starts afresh, and the version moves on so a routing
    already under way does not store a rotation computed for the old agents (R-ROUTE-6)."""
    if fields["agent_ids"] != route.agent_ids or fields["strategy"] != route.strategy:
        route.rotation = None
        route.rotation_version += 1
    for name, value in fields.items():
        setattr(route, name, value)
    route.updated_at = utcnow()


def set_active(route: Route, active: bool) -> None:
    if route.active != active:
        route.active = active
        route.updated_at = utcnow()


async def delete_route(session: AsyncSession, route: Route) -> None:
    """Leads and offers keep the route's id as history; the routes below move up one place."""
    await _lock_list(session, route.team_id)
    await session.delete(route)
    await session.flush()
    await _renumber(session, [r.id for r in await team_routes(session, route.team_id)])


async def order_problem(session: AsyncSession, team_id: str, ids: Sequence[str]) -> str | None:
    """Why `ids` is not the team's routes each exactly once, or None. Another team's id reads as unknown."""
    await _lock_list(session, team_id)
    current = [route.id for route in await team_routes(session, team_id)]
    repeated = sorted(i for i, times in Counter(ids).items() if times > 1)
    missing = [i for i in current if i not in ids]
    unknown = [i for i in dict.fromkeys(ids) if i not in current]
    parts = ([f"listed twice: {', '.join(repeated)}"] if repeated else []) + \
        ([f"missing: {', '.join(missing)}"] if missing else []) + \
        ([f"not routes of your team: {', '.join(unknown)}"] if unknown else [])
    if not parts:
        return None
    return f"list each of the team's {len(current)} routes exactly once ({'; '.join(parts)})"


async def reorder(session: AsyncSession, team_id: str, ids: Sequence[str]) -> list[Route]:
    """Positions 0..n-1 in the order of `ids` (checked by `order_problem` first)."""
    await _renumber(session, ids)
    return await team_routes(session, team_id)


async def _renumber(session: AsyncSession, ids: Sequence[str]) -> None:
    routes = {route.id: route for route in await session.scalars(select(Route).where(Route.id.in_(ids)))}
    for position, route_id in enumerate(ids):
        if routes[route_id].position != position:
            routes[route_id].position = position
    await session.flush()


async def update_routing_settings(session: AsyncSession, agent: Agent, changes: Mapping[str, Any]) -> AgentRouting:
    """Upsert the agent's settings with the fields sent. The agent's row is locked first, so two first changes at
    once do not both insert."""
    await session.execute(select(Agent.id).where(Agent.id == agent.id).with_for_update())
    settings = await session.get(AgentRouting, agent.id)
    if settings is None:
        settings = AgentRouting(agent_id=agent.id, team_id=agent.team_id, lead_limit=None, routes_paused=False,
                                leads_paused=False)
        session.add(settings)
    for name, value in changes.items():
        setattr(settings, name, value)
    settings.updated_at = utcnow()
    await session.flush()
    return settings
