"""Lead routes (R-ROUTE-1, R-ROUTE-4, R-ROUTE-6, R-OFFER-4), an agent's routing settings and the routing report
(R-STATS-1).

Each field's own limits are pydantic constraints, so the OpenAPI schema states them and a refusal names the field
and its rule (`shape_violation`); rules between fields (dates in order, weights matching the agents, one agent for
`assign_to_agent`, one form of the claim deadline) are `RouteCreate.violations()`, checked before anything is
written.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from api.schemas.common import Public, Request, WholeNumber
from api.schemas.identity import SlotTime
from db.routing_models import Route
from domain.json_types import AS_WHOLE
from domain.routing import route_problems
from domain.routing.matching import normalise_source
from domain.routing.model import MAX_CLAIM_SECONDS, MIN_CLAIM_SECONDS, RouteRule, Strategy
from domain.validation import Violation

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY = {**{name: i for i, name in enumerate(DAY_NAMES)}, **{name: i for i, name in enumerate(_FULL_DAY_NAMES)}}


def _day(value: Any) -> int:
    if isinstance(value, bool):
        raise PydanticCustomError("day_of_week", "{value} is not a day of the week but a boolean: 0 (Monday) to 6 "
                                  "(Sunday), or mon, tue, wed, thu, fri, sat, sun", {"value": str(value).lower()})
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema's integer: 2.0 is 2
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value.strip().lower() in _DAY:
        return _DAY[value.strip().lower()]
    raise PydanticCustomError("day_of_week", "{value} is not a day of the week: 0 (Monday) to 6 (Sunday), or "
                              "mon, tue, wed, thu, fri, sat, sun", {"value": value})


def _as_set(days: list[int]) -> list[int]:
    return sorted(set(days))


def _no_repeats(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise PydanticCustomError("listed_twice", "{value} is listed twice; list each agent once",
                                      {"value": value})
        seen.add(value)
    return values


def _first_of_each(values: list[str]) -> list[str]:
    """Each source once, as it was first spelt: sources match trimmed and without case, so `zillow` after `Zillow`
    is a repeat."""
    first: dict[str, str] = {}
    for value in values:
        first.setdefault(normalise_source(value), value)
    return list(first.values())


def _a_week_at_most(days: Any) -> Any:
    # Before the days are read, so the count is of what was sent, and the answer says why (a day listed twice counts
    # once; eight entries cannot be seven different days), not pydantic's "after validation".
    if isinstance(days, list) and len(days) > 7:
        raise PydanticCustomError("too_long", "at most 7 days, each day of the week once ({count} given)",
                                  {"count": len(days)})
    return days


DayOfWeek = Annotated[int, PlainValidator(_day), WithJsonSchema({"oneOf": [
    {"type": "integer", "minimum": 0, "maximum": 6}, {"type": "string", "enum": list(DAY_NAMES)}]})]
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
# Limits before `AS_WHOLE` (see `domain.json_types`): after it, a member of a union or a dict's values would state
# them as `ge`/`le`, which JSON Schema does not know, and a client would read no limit at all.
# 1–100: an agent on a weighted route has a share of its leads; one who should get none belongs off the route.
Weight = Annotated[int, Strict(), Field(ge=1, le=100), AS_WHOLE]
ClaimSeconds = Annotated[int, Strict(), Field(ge=MIN_CLAIM_SECONDS, le=MAX_CLAIM_SECONDS), AS_WHOLE]


def _unit(limit: int) -> Any:
    return Field(default=0, ge=0, le=limit)


class ClaimDeadline(Request):
    """The claim deadline in parts, as the route editor shows it; the parts add up (90 minutes is fine), to at least
    10 seconds (a day, an hour, a minute or 10 seconds in one of them) and at most 30 days."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["days"], "properties": {"days": {"minimum": 1}}},
        {"required": ["hours"], "properties": {"hours": {"minimum": 1}}},
        {"required": ["minutes"], "properties": {"minutes": {"minimum": 1}}},
        {"required": ["seconds"], "properties": {"seconds": {"minimum": MIN_CLAIM_SECONDS}}}]})

    days: WholeNumber = _unit(30)
    hours: WholeNumber = _unit(30 * 24)
    minutes: WholeNumber = _unit(30 * 24 * 60)
    seconds: WholeNumber = _unit(MAX_CLAIM_SECONDS)

    @property
    def total(self) -> int:
        return ((self.days * 24 + self.hours) * 60 + self.minutes) * 60 + self.seconds

    @classmethod
    def of(cls, seconds: int) -> ClaimDeadline:
        minutes, second = divmod(seconds, 60)
        hours, minute = divmod(minutes, 60)
        days, hour = divmod(hours, 24)
        return cls(days=days, hours=hour, minutes=minute, seconds=second)


# The rules between a route's fields that JSON Schema can state (`violations()` checks them all, and the rest): one
# form of the claim deadline, weights for weighted_random alone, one agent for assign_to_agent.
_BETWEEN_FIELDS: dict[str, Any] = {"allOf": [
    {"oneOf": [{"required": ["claim_seconds"], "properties": {"claim_seconds": {"type": "integer"}}},
               {"required": ["claim_deadline"], "properties": {"claim_deadline": {"type": "object"}}}]},
    {"if": {"properties": {"strategy": {"const": "weighted_random"}}},
     "then": {"required": ["weights"], "properties": {"weights": {"type": "object"}}},
     "else": {"properties": {"weights": {"type": "null"}}}},
    {"if": {"properties": {"strategy": {"const": "assign_to_agent"}}},
     "then": {"properties": {"agent_ids": {"maxItems": 1}}}},
]}


_ROUTE_RULES = {
    **dict.fromkeys(("title", "days_of_week", "start_time", "end_time", "date_from", "date_to", "sources",
                     "agent_ids"), "R-ROUTE-1"),
    "strategy": "R-ROUTE-6", "weights": "R-ROUTE-6",
    "claim_seconds": "R-OFFER-4", "claim_deadline": "R-OFFER-4",
}


class RouteCreate(Request):
    """A route (R-ROUTE-1). Days and times are read in the team's time zone: an `end_time` before `start_time`
    crosses midnight (22:00–06:00), an equal one covers the whole day. Dates are inclusive; either may be left out.
    Give the claim deadline as `claim_seconds` or as `claim_deadline` parts, not both (R-OFFER-4: 10 s to 30 days)."""

    model_config = ConfigDict(json_schema_extra=_BETWEEN_FIELDS)
    field_rules = _ROUTE_RULES
    nested_fields = ("weights", "claim_deadline")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)]
    days_of_week: Annotated[list[DayOfWeek], Field(min_length=1, max_length=7, description="0 = Monday … 6 = Sunday, "
                                                   "or mon … sun; kept as a sorted set"),
                            BeforeValidator(_a_week_at_most), AfterValidator(_as_set)]
    start_time: SlotTime
    end_time: SlotTime
    date_from: date | None = None
    date_to: date | None = None
    sources: Annotated[list[Source], Field(min_length=1, max_length=50, description="Lead sources, trimmed; a "
                                           "source listed twice is kept once"), AfterValidator(_first_of_each)]
    strategy: Strategy
    agent_ids: Annotated[list[Annotated[str, Field(min_length=1, max_length=40)]],
                         Field(min_length=1, max_length=200, json_schema_extra={"uniqueItems": True},
                               description="Agents of your team, in rotation order, each once"),
                         AfterValidator(_no_repeats)]
    weights: dict[str, Weight] | None = Field(default=None, description="weighted_random only: a percentage per "
                                              "agent of the route, adding up to 100")
    claim_seconds: ClaimSeconds | None = None
    claim_deadline: ClaimDeadline | None = None


    @property
    def seconds(self) -> int:
        """The claim deadline in seconds, once `violations()` is empty."""
        if self.claim_seconds is not None:
            return self.claim_seconds
        assert self.claim_deadline is not None
        return self.claim_deadline.total

    def violations(self) -> list[Violation]:
        """The rules between fields, all at once: the route's own (`domain.routing.route_problems`, which routing
        shares), and the one form of the claim deadline this body takes."""
        found = []
        seconds = MIN_CLAIM_SECONDS  # a stand-in while the deadline's own problem is reported
        if (self.claim_seconds is None) == (self.claim_deadline is None):
            found.append(Violation("claim_seconds", "R-OFFER-4", "give the claim deadline once: claim_seconds or "
                                   "claim_deadline {days, hours, minutes, seconds}"))
        elif self.claim_deadline is not None and not MIN_CLAIM_SECONDS <= self.claim_deadline.total \
                <= MAX_CLAIM_SECONDS:
            found.append(Violation("claim_deadline", "R-OFFER-4", f"the claim deadline is 10 seconds to 30 days; "
                                   f"this one is {self.claim_deadline.total} seconds"))
        else:
            seconds = self.seconds
        rule = RouteRule(id="", title=self.title, position=0, days_of_week=self.days_of_week,
                         start_time=time.fromisoformat(self.start_time), end_time=time.fromisoformat(self.end_time),
                         date_from=self.date_from, date_to=self.date_to, sources=self.sources, strategy=self.strategy,
                         agent_ids=self.agent_ids, weights=self.weights, claim_seconds=seconds)
        return route_problems(rule) + found


class RouteUpdate(RouteCreate):
    """The route's new fields, all of them (`PUT` replaces). Its place in the list and its active state stay;
    changing its agents (or their order) or its strategy starts the rotation afresh."""


class RouteOrder(Request):
    field_rules = {"ids": "R-ROUTE-4"}
    ids: list[str] = Field(max_length=1000, json_schema_extra={"uniqueItems": True},
                           description="Every route of the team exactly once, top (highest priority) first")


class RoutePublic(Public):
    id: str
    title: str
    position: int = Field(description="0 is the top of the list: the highest priority")
    active: bool
    days_of_week: list[int]
    start_time: str
    end_time: str
    date_from: date | None
    date_to: date | None
    sources: list[str]
    strategy: str
    agent_ids: list[str]
    weights: dict[str, int] | None
    claim_seconds: int
    claim_deadline: ClaimDeadline
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def of(cls, route: Route) -> RoutePublic:
        return cls(id=route.id, title=route.title, position=route.position, active=route.active,
                   days_of_week=route.days_of_week, start_time=route.start_time, end_time=route.end_time,
                   date_from=route.date_from, date_to=route.date_to, sources=route.sources, strategy=route.strategy,
                   agent_ids=route.agent_ids, weights=route.weights, claim_seconds=route.claim_seconds,
                   claim_deadline=ClaimDeadline.of(route.claim_seconds), created_at=route.created_at,
                   updated_at=route.updated_at)


class RoutingSettingsUpdate(Request):
    """Only the fields sent change. `lead_limit` is leads per calendar month in the team's zone; null: no limit."""

    field_rules = dict.fromkeys(("lead_limit", "routes_paused", "leads_paused"), "R-STATS-1")

    lead_limit: Annotated[int, Strict(), Field(ge=0, le=100_000), AS_WHOLE] | None = None
    routes_paused: Annotated[bool, Field(strict=True)] = False
    leads_paused: Annotated[bool, Field(strict=True)] = False


class RoutingSettings(Public):
    agent_id: str
    lead_limit: int | None = Field(description="Leads per calendar month (team zone); null: no limit")
    routes_paused: bool = Field(description="Offered no leads by any route")
    leads_paused: bool = Field(description="Offered no leads at all")
    leads_this_month: int = Field(description="Leads the agent came to own this calendar month (team zone)")


class Figures(Public):
    offered: int = Field(description="Offers made: leads received")
    claimed: int
    passed: int
    missed: int = Field(description="Offers whose claim deadline ran out")
    open: int = Field(description="Offers still waiting for an answer")
    withdrawn: int = Field(description="Offers ended by someone else's claim (jump ball, the pool)")
    median_seconds_to_claim: float | None = Field(description="Speed to lead: from offer to claim, over the claimed "
                                                  "offers; null without any")


class RouteFigures(Figures):
    route_id: str | None = Field(description="null: offers made without a route")
    title: str | None = Field(description="null once the route is deleted")


class RouteTotals(RouteFigures):
    leads: int = Field(description="Leads that took this route, received in the period")
    deleted: bool


class AgentFigures(Figures):
    agent_id: str
    name: str
    lead_limit: int | None
    leads_this_month: int
    routes_paused: bool
    leads_paused: bool
    routes: list[RouteFigures]


Period = Literal["mtd", "ytd", "all"]


class LeadRoutingReport(Public):
    period: Period
    from_: datetime | None = Field(serialization_alias="from", description="Start of the period in the team's zone "
                                   "(null: all time)")
    to: datetime
    time_zone: str
    agents: list[AgentFigures]
    routes: list[RouteTotals]
