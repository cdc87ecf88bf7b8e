"""Which route a new lead takes (R-ROUTE-2..5), with a verdict for every route so the lead's routing record can say
why it went where it did (R-ROUTE-7).

Days, times and dates are wall clock in the team's zone: the arrival instant is read there once, and every
comparison is on that reading, so "09:00–17:00" means 09:00 on both sides of a daylight-saving change. A window
whose end is at or before its start crosses midnight, and the whole night belongs to the day it *starts*: a Friday
22:00–06:00 route covers Saturday 03:00, and a holiday range 24–26 December covers the night of the 26th into the
27th. A window whose start equals its end is the whole calendar day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.routing.model import APP_OR_SITE_SOURCES, RouteMatch, RouteRule, RouteVerdict
from domain.windows import zone

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NO_SOURCE = "a lead with no source is not routed"


def normalise_source(source: str | None) -> str:
    """Sources are compared trimmed and case-insensitively: 'Zillow ' from one form is 'zillow' on the route."""
    return (source or "").strip().casefold()


def match_route(routes: Sequence[RouteRule], *, source: str | None, arrival: datetime, team_zone: str,
                owner_agent_id: str | None = None) -> RouteMatch:
    """R-ROUTE-2/3/5: the route a lead arriving at `arrival` from `source` takes, or where it goes without one.

    Every route is weighed and listed in priority order (`position`, 0 first) with its verdict. An active
    assign-to-agent route that matches overrides the others whatever its place (R-ROUTE-3; the top-most of several);
    otherwise the top-most matching route wins (R-ROUTE-2). With none, a lead from an agent's own app or site goes
    to that agent and any other to the pool (R-ROUTE-5). `arrival` must be timezone-aware.
    """
    if arrival.tzinfo is None:
        raise ValueError("the arrival must be a timezone-aware instant")
    ordered = sorted(routes, key=lambda r: r.position)  # stable: equal positions keep the caller's order
    wanted = normalise_source(source)
    if not wanted:
        return RouteMatch(outcome="not_routed", reason=NO_SOURCE, considered=[
            RouteVerdict(route_id=r.id, title=r.title, matched=False, reason=f"not weighed: {NO_SOURCE}")
            for r in ordered])
    local = arrival.astimezone(zone(team_zone)).replace(tzinfo=None)
    misses = {r.id: _misses(r, wanted, (source or "").strip(), local) for r in ordered}
    matching = [r for r in ordered if not misses[r.id]]
    winner = next((r for r in matching if r.strategy == "assign_to_agent"), None)
    overriding = winner is not None and winner is not matching[0]
    winner = winner or (matching[0] if matching else None)
    considered = [_verdict(r, misses[r.id], winner, overriding, ordered) for r in ordered]
    if winner is not None:
        why = ("assign to agent, which overrides every other matching route" if overriding
               else "the top-most matching route")
        return RouteMatch(outcome="route", route_id=winner.id, reason=f"route '{winner.title}': {why}",
                          considered=considered)
    none = "no route matched" if routes else "the team has no routes"
    if wanted in APP_OR_SITE_SOURCES and owner_agent_id:
        return RouteMatch(outcome="owner", reason=f"{none}; a lead from an agent's own app or site goes to that "
                          "agent", considered=considered)
    return RouteMatch(outcome="pool", reason=f"{none}; the lead goes to the unassigned pool", considered=considered)


@dataclass(frozen=True)
class _RouteDay:
    """The day whose window an arrival is read against (None between two nights: no day to name), and whether
    the arrival is inside that window."""

    day: date | None
    inside: bool


def _route_day(rule: RouteRule, local: datetime) -> _RouteDay:
    """The day of `rule`'s window that the wall-clock reading `local` falls in. Outside a same-day window it is
    still the reading's own date, so a wrong day can be named beside the wrong hour."""
    clock, start, end = local.time(), rule.start_time, rule.end_time
    if start == end:
        return _RouteDay(local.date(), True)
    if start < end:
        return _RouteDay(local.date(), start <= clock < end)
    if clock >= start:
        return _RouteDay(local.date(), True)
    if clock < end:  # the early hours of a night that started the day before
        return _RouteDay(local.date() - timedelta(days=1), True)
    return _RouteDay(None, False)


def _misses(rule: RouteRule, wanted: str, shown: str, local: datetime) -> list[str]:
    """Every reason `rule` does not cover this lead (empty: it matches). A paused route is only 'paused'."""
    if not rule.active:
        return ["paused"]
    out: list[str] = []
    covering = _route_day(rule, local)
    day, night = covering.day, ""
    if day is not None:
        night = "" if day == local.date() else (
            f" ({DAY_NAMES[local.weekday()]} {_clock(local.time())} belongs to {DAY_NAMES[day.weekday()]} "
            f"night's {_window(rule)})")
        if day.weekday() not in rule.days_of_week:
            out.append(f"not on {DAY_NAMES[day.weekday()]}s{night}")
    if not covering.inside:
        out.append(f"outside {_window(rule)}")
    span = None if day is None else _date_miss(rule, day)
    if span:
        out.append(span + night)
    if wanted not in {normalise_source(s) for s in rule.sources}:
        out.append(f"source '{shown}' not covered")
    return out


def _date_miss(rule: RouteRule, day: date) -> str | None:
    if rule.date_from is not None and rule.date_to is not None:
        inside = rule.date_from <= day <= rule.date_to
        return None if inside else f"outside {rule.date_from.isoformat()}–{rule.date_to.isoformat()}"
    if rule.date_from is not None and day < rule.date_from:
        return f"before {rule.date_from.isoformat()}"
    if rule.date_to is not None and day > rule.date_to:
        return f"after {rule.date_to.isoformat()}"
    return None


def _verdict(rule: RouteRule, misses: list[str], winner: RouteRule | None, overriding: bool,
             ordered: list[RouteRule]) -> RouteVerdict:
    if misses:
        reason = "; ".join(misses)
    elif rule is winner:
        reason = "matched: assign to agent, overrides the other routes" if overriding else "matched: top-most"
    else:
        assert winner is not None  # a route matched, so there is a winner
        above = ordered.index(rule) < ordered.index(winner)
        reason = (f"overridden by '{winner.title}' (assign to agent)" if overriding and above
                  else f"matched, but '{winner.title}' is higher in the list")
    return RouteVerdict(route_id=rule.id, title=rule.title, matched=not misses, reason=reason)


def _window(rule: RouteRule) -> str:
    return f"{_clock(rule.start_time)}–{_clock(rule.end_time)}"


def _clock(value: time) -> str:
    return value.strftime("%H:%M")
