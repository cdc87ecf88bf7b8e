"""Lead routing set-up: the team's routes in priority order (R-ROUTE-1, R-ROUTE-4), each agent's routing settings
and the lead routing report (R-STATS-1).

Who may do what: the Rainmaker alone creates, edits, orders, pauses and deletes routes, sets an agent's limit and
pauses, and reads the report; any other agent of the team gets 403 there. Every agent of the team may read the
routes (they are offered the leads those routes bring), and their own routing settings. Another team's route or
agent is 404, never 403.
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy import select

from api.access import team_record
from api.deps import CurrentAgent, NowDep, SessionDep
from api.errors import Forbidden, Invalid, InvalidFields, NotFound
from api.paging import PageDep
from api.schemas.routes import (
    AgentFigures,
    LeadRoutingReport,
    Period,
    RouteCreate,
    RouteFigures,
    RouteOrder,
    RoutePublic,
    RouteTotals,
    RouteUpdate,
    RoutingSettings,
    RoutingSettingsUpdate,
)
from db.models import Agent, Team
from db.routing_models import Route
from domain.validation import Violation
from services import routes as service
from services.lead_stats import Tally, agent_states, offer_tallies, period_start
from services.plans import account_schedule

router = APIRouter(tags=["lead routing"])

ROUTES_ROLE = "only the team's Rainmaker creates, edits, orders, pauses and deletes lead routes (R-ROUTE-1)"
SETTINGS_ROLE = "only the team's Rainmaker sets agents' lead limits and pauses (R-STATS-1)"
REPORT_ROLE = "only the team's Rainmaker reads the lead routing report (R-STATS-1)"


def _require_rainmaker(agent: Agent, refusal: str) -> None:
    if agent.role != "rainmaker":
        raise Forbidden(refusal)


async def _route(session: SessionDep, agent: Agent, route_id: str) -> Route:
    route = await service.team_route(session, agent.team_id, route_id)
    if route is None:
        raise NotFound("route", route_id)
    return route


async def _editable(session: SessionDep, agent: Agent, route_id: str) -> Route:
    route = await _route(session, agent, route_id)
    _require_rainmaker(agent, ROUTES_ROLE)
    return route


async def _checked_fields(session: SessionDep, agent: Agent, body: RouteCreate) -> dict[str, Any]:
    """The route's columns from the body, once every rule holds; all refusals at once, nothing written before."""
    violations = body.violations()
    strangers = await service.not_on_team(session, agent.team_id, body.agent_ids)
    if strangers:
        violations.insert(0, Violation("agent_ids", "R-ROUTE-1", f"not agents of your team: {', '.join(strangers)}"))
    if violations:
        raise InvalidFields(violations)
    return {**body.model_dump(exclude={"claim_seconds", "claim_deadline"}), "claim_seconds": body.seconds}


@router.post("/routes", status_code=status.HTTP_201_CREATED, response_model=RoutePublic)
async def create_route(body: RouteCreate, agent: CurrentAgent, session: SessionDep) -> RoutePublic:
    """A new route goes to the top of the list (the highest priority), active; move it with `PUT /routes/order`."""
    _require_rainmaker(agent, ROUTES_ROLE)
    route = await service.add_route(session, agent.team_id, await _checked_fields(session, agent, body))
    return RoutePublic.of(route)


@router.get("/routes", response_model=list[RoutePublic])
async def list_routes(agent: CurrentAgent, session: SessionDep, page: PageDep, request: Request,
                      response: Response) -> list[RoutePublic]:
    """The team's routes, top (highest priority) first, active and paused."""
    routes = await service.team_routes(session, agent.team_id)  # the whole order, as R-ROUTE-4 keeps it
    return [RoutePublic.of(route) for route in page.cut(routes[page.offset:page.offset + page.fetch], request,
                                                         response)]


@router.put("/routes/order", response_model=list[RoutePublic])
async def order_routes(body: RouteOrder, agent: CurrentAgent, session: SessionDep) -> list[RoutePublic]:
    """R-ROUTE-4: the new priority order, top first; `ids` lists every route of the team exactly once."""
    _require_rainmaker(agent, ROUTES_ROLE)
    problem = await service.order_problem(session, agent.team_id, body.ids)
    if problem is not None:
        raise Invalid("ids", "R-ROUTE-4", problem)
    return [RoutePublic.of(route) for route in await service.reorder(session, agent.team_id, body.ids)]


@router.get("/routes/{route_id}", response_model=RoutePublic)
async def get_route(route_id: str, agent: CurrentAgent, session: SessionDep) -> RoutePublic:
    return RoutePublic.of(await _route(session, agent, route_id))


@router.put("/routes/{route_id}", response_model=RoutePublic)
async def update_route(route_id: str, body: RouteUpdate, agent: CurrentAgent, session: SessionDep) -> RoutePublic:
    """Replaces every field; the route keeps its place and active state. New agents (or a new order of them) or a
    new strategy start its rotation afresh; otherwise the rotation continues where the last lead left off."""
    route = await _editable(session, agent, route_id)
    service.replace_route(route, await _checked_fields(session, agent, body))
    await session.flush()
    return RoutePublic.of(route)


@router.delete("/routes/{route_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_route(route_id: str, agent: CurrentAgent, session: SessionDep) -> Response:
    """The routes below move up; leads routed by it keep its id in their history."""
    await service.delete_route(session, await _editable(session, agent, route_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/routes/{route_id}/pause", response_model=RoutePublic)
async def pause_route(route_id: str, agent: CurrentAgent, session: SessionDep) -> RoutePublic:
    """R-ROUTE-4: a paused route never matches; it keeps its place in the list."""
    return await _set_active(session, agent, route_id, active=False)


@router.post("/routes/{route_id}/activate", response_model=RoutePublic)
async def activate_route(route_id: str, agent: CurrentAgent, session: SessionDep) -> RoutePublic:
    return await _set_active(session, agent, route_id, active=True)


async def _set_active(session: SessionDep, agent: Agent, route_id: str, *, active: bool) -> RoutePublic:
    route = await _editable(session, agent, route_id)
    service.set_active(route, active)
    await session.flush()
    return RoutePublic.of(route)


async def _team_zone(session: SessionDep, team_id: str) -> str:
    return account_schedule(await session.get(Team, team_id), None)[0]


async def _routing_settings(session: SessionDep, agent: Agent, now: NowDep) -> RoutingSettings:
    state = (await agent_states(session, agent.team_id, [agent.id], now,
                                await _team_zone(session, agent.team_id)))[agent.id]
    return RoutingSettings(agent_id=agent.id, lead_limit=state.lead_limit, routes_paused=state.routes_paused,
                           leads_paused=state.leads_paused, leads_this_month=state.leads_this_month)


@router.get("/agents/{agent_id}/routing", response_model=RoutingSettings)
async def get_routing_settings(agent_id: str, agent: CurrentAgent, session: SessionDep,
                               now: NowDep) -> RoutingSettings:
    """The agent's lead limit and pauses, and the leads counted against the limit this month (team zone). The
    Rainmaker reads anyone's; an agent their own."""
    target = await team_record(session, Agent, agent_id, agent, "agent")
    if target.id != agent.id:
        _require_rainmaker(agent, "an agent's routing settings are theirs and the Rainmaker's to read (R-STATS-1)")
    return await _routing_settings(session, target, now)


@router.patch("/agents/{agent_id}/routing", response_model=RoutingSettings)
async def update_routing_settings(agent_id: str, body: RoutingSettingsUpdate, agent: CurrentAgent,
                                  session: SessionDep, now: NowDep) -> RoutingSettings:
    """R-STATS-1, R-OFFER-3: routing skips an agent whose leads or routes are paused, or who has reached the
    monthly lead limit. Only the fields sent change."""
    target = await team_record(session, Agent, agent_id, agent, "agent")
    _require_rainmaker(agent, SETTINGS_ROLE)
    await service.update_routing_settings(session, target, body.model_dump(exclude_unset=True))
    return await _routing_settings(session, target, now)


@router.get("/reports/lead-routing", response_model=LeadRoutingReport)
async def lead_routing_report(agent: CurrentAgent, session: SessionDep, now: NowDep,
                              period: Annotated[Period, Query(description="mtd: month to date, ytd: year to date, "
                                                              "all: all time; in the team's zone")] = "mtd",
                              ) -> LeadRoutingReport:
    """R-STATS-1: per agent (with their routing settings) and per route, the offers made in the period and what came
    of them, and the median time from offer to claim. An offer counts in the period it was made in."""
    _require_rainmaker(agent, REPORT_ROLE)
    zone = await _team_zone(session, agent.team_id)
    start = period_start(period, now, zone)
    tallies = await offer_tallies(session, agent.team_id, start, now)
    agents = list(await session.scalars(select(Agent).where(Agent.team_id == agent.team_id)
                                        .order_by(Agent.first_name, Agent.last_name, Agent.id)))
    states = await agent_states(session, agent.team_id, [a.id for a in agents], now, zone)
    routes = await service.team_routes(session, agent.team_id)
    titles: dict[str | None, str] = {route.id: route.title for route in routes}
    places: dict[str | None, tuple[int, int, str]] = {route.id: (0, route.position, "") for route in routes}

    def place(route_id: str | None) -> tuple[int, int, str]:
        return places.get(route_id) or ((1, 0, route_id) if route_id is not None else (2, 0, ""))

    def figures(route_id: str | None, tally: Tally) -> RouteFigures:
        return RouteFigures(route_id=route_id, title=titles.get(route_id), **_figures(tally))

    report_agents = []
    for member in agents:
        state = states[member.id]
        own = sorted((route_id for (agent_id, route_id) in tallies.by_agent_route if agent_id == member.id), key=place)
        report_agents.append(AgentFigures(
            agent_id=member.id, name=f"{member.first_name} {member.last_name}", **_figures(tallies.by_agent[member.id]),
            lead_limit=state.lead_limit, leads_this_month=state.leads_this_month, routes_paused=state.routes_paused,
            leads_paused=state.leads_paused,
            routes=[figures(route_id, tallies.by_agent_route[(member.id, route_id)]) for route_id in own]))
    route_ids = sorted({*places, *tallies.by_route, *tallies.leads_by_route}, key=place)
    totals = [RouteTotals(**figures(route_id, tallies.by_route[route_id]).model_dump(),
                          leads=tallies.leads_by_route.get(route_id or "", 0),
                          deleted=route_id is not None and route_id not in places) for route_id in route_ids]
    local = ZoneInfo(zone)
    return LeadRoutingReport(period=period, from_=start.astimezone(local) if start else None, to=now.astimezone(local),
                             time_zone=zone, agents=report_agents, routes=totals)


def _figures(tally: Tally) -> dict[str, Any]:
    return {"offered": tally.offered, "claimed": tally.outcomes["claimed"], "passed": tally.outcomes["passed"],
            "missed": tally.outcomes["expired"], "open": tally.outcomes["open"],
            "withdrawn": tally.outcomes["withdrawn"], "median_seconds_to_claim": tally.median_seconds_to_claim}
