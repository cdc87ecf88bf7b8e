"""Which route a lead takes (R-ROUTE-1..5, R-ROUTE-7): priority, the assign-to-agent override, paused routes,
days, times and date ranges read on the team's wall clock (midnight-crossing windows and daylight-saving changes
included), leads without a source, and where a lead goes when no route matches."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.routing import match_route
from domain.routing.model import RouteMatch, RouteRule

CHICAGO = "America/Chicago"
EVERY_DAY = list(range(7))
WEEKDAYS = [0, 1, 2, 3, 4]


def route(title: str, position: int = 0, **changes: Any) -> RouteRule:
    fields: dict[str, Any] = {
        "id": f"rt_{title.lower().replace(' ', '_')}", "title": title, "position": position,
        "days_of_week": EVERY_DAY, "start_time": time(0), "end_time": time(0), "sources": ["zillow"],
        "strategy": "round_robin", "agent_ids": ["ag_alex"], "claim_seconds": 300}
    return RouteRule(**(fields | changes))


def chicago(day: date, hour: int, minute: int = 0) -> datetime:
    """An unambiguous Chicago wall time (not on a daylight-saving change) as an instant."""
    return datetime.combine(day, time(hour, minute), ZoneInfo(CHICAGO)).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def match(routes: list[RouteRule], arrival: datetime, source: str | None = "zillow",
          owner: str | None = None) -> RouteMatch:
    return match_route(routes, source=source, arrival=arrival, team_zone=CHICAGO, owner_agent_id=owner)


def reasons(result: RouteMatch) -> dict[str, str]:
    return {v.title: v.reason for v in result.considered}


def covers(rule: RouteRule, arrival: datetime) -> bool:
    return match([rule], arrival).outcome == "route"


MONDAY, FRIDAY, SATURDAY, SUNDAY = date(2026, 6, 1), date(2026, 6, 5), date(2026, 6, 6), date(2026, 6, 7)


class TestRRoute2Priority:
    def test_the_top_most_of_overlapping_routes_wins(self) -> None:
        weekend = route("Weekend", 0, days_of_week=[5, 6])
        general = route("General", 1)
        result = match([general, weekend], chicago(SATURDAY, 10))
        assert (result.outcome, result.route_id) == ("route", weekend.id)
        assert reasons(result) == {"Weekend": "matched: top-most",
                                   "General": "matched, but 'Weekend' is higher in the list"}

    def test_the_list_is_read_by_position_not_by_the_order_given(self) -> None:
        routes = [route("Third", 2), route("First", 0), route("Second", 1)]
        result = match(routes, chicago(MONDAY, 10))
        assert result.route_id == "rt_first"
        assert [v.title for v in result.considered] == ["First", "Second", "Third"]

    def test_a_higher_route_that_does_not_cover_the_lead_lets_it_fall_through(self) -> None:
        weekend = route("Weekend", 0, days_of_week=[5, 6])
        result = match([weekend, route("General", 1)], chicago(MONDAY, 10))
        assert result.route_id == "rt_general"
        assert result.reason == "route 'General': the top-most matching route"
        assert reasons(result)["Weekend"] == "not on Mondays"

    def test_a_special_source_route_on_top_takes_only_its_source(self) -> None:
        special = route("Open house", 0, sources=["open_house"])
        general = route("General", 1, sources=["zillow", "open_house"])
        assert match([special, general], chicago(MONDAY, 10), source="open_house").route_id == special.id
        result = match([special, general], chicago(MONDAY, 10), source="zillow")
        assert result.route_id == general.id
        assert reasons(result)["Open house"] == "source 'zillow' not covered"


class TestRRoute3AssignOverride:
    @pytest.mark.parametrize("place", [0, 1, 2])
    def test_a_matching_assign_route_wins_whatever_its_place(self, place: int) -> None:
        others = [route("Holiday", 0), route("General", 1)]
        assign = route("Alex only", place, strategy="assign_to_agent")
        routes = [r.model_copy(update={"position": r.position + (r.position >= place)}) for r in others] + [assign]
        result = match(routes, chicago(MONDAY, 10))
        assert (result.outcome, result.route_id) == ("route", assign.id)
        said = reasons(result)
        if place == 0:
            assert said["Alex only"] == "matched: top-most"
        else:
            assert said["Alex only"] == "matched: assign to agent, overrides the other routes"
            assert result.reason == "route 'Alex only': assign to agent, which overrides every other matching route"
        for other in ("Holiday", "General"):
            above = next(r for r in routes if r.title == other).position < place
            assert said[other] == ("overridden by 'Alex only' (assign to agent)" if above
                                   else "matched, but 'Alex only' is higher in the list")

    def test_of_several_matching_assign_routes_the_top_most_wins(self) -> None:
        routes = [route("General", 0), route("Bea only", 1, strategy="assign_to_agent", agent_ids=["ag_bea"]),
                  route("Alex only", 2, strategy="assign_to_agent")]
        result = match(routes, chicago(MONDAY, 10))
        assert result.route_id == "rt_bea_only"
        assert reasons(result)["Alex only"] == "matched, but 'Bea only' is higher in the list"
        assert reasons(result)["General"] == "overridden by 'Bea only' (assign to agent)"

    @pytest.mark.parametrize(("change", "why"), [
        ({"sources": ["open_house"]}, "source 'zillow' not covered"),
        ({"start_time": time(18), "end_time": time(20)}, "outside 18:00–20:00"),
        ({"active": False}, "paused"),
    ])
    def test_an_assign_route_overrides_only_for_its_source_and_time_frame(self, change: dict[str, Any],
                                                                          why: str) -> None:
        routes = [route("General", 0), route("Alex only", 1, strategy="assign_to_agent", **change)]
        result = match(routes, chicago(MONDAY, 10))
        assert result.route_id == "rt_general"
        assert reasons(result) == {"General": "matched: top-most", "Alex only": why}


class TestRRoute4Paused:
    def test_a_paused_route_never_matches_and_reactivated_it_does(self) -> None:
        holiday = route("Holiday", 0, active=False)
        result = match([holiday, route("General", 1)], chicago(MONDAY, 10))
        assert result.route_id == "rt_general"
        assert reasons(result)["Holiday"] == "paused"
        reactivated = holiday.model_copy(update={"active": True})
        assert match([reactivated, route("General", 1)], chicago(MONDAY, 10)).route_id == holiday.id

    def test_with_every_route_paused_the_lead_goes_to_the_pool(self) -> None:
        result = match([route("General", 0, active=False)], chicago(MONDAY, 10))
        assert (result.outcome, result.route_id) == ("pool", None)


class TestRRoute1DaysAndTimes:
    office = route("Office hours", 0, days_of_week=WEEKDAYS, start_time=time(9), end_time=time(17))

    @pytest.mark.parametrize(("arrival", "why"), [
        (chicago(SATURDAY, 10), "not on Saturdays"),
        (chicago(MONDAY, 8, 59), "outside 09:00–17:00"),
        (chicago(MONDAY, 17), "outside 09:00–17:00"),  # the end is exclusive
        (chicago(SUNDAY, 20), "not on Sundays; outside 09:00–17:00"),
    ])
    def test_outside_its_days_or_hours_a_route_says_which(self, arrival: datetime, why: str) -> None:
        result = match([self.office], arrival)
        assert result.outcome == "pool"
        assert reasons(result) == {"Office hours": why}

    @pytest.mark.parametrize("arrival", [chicago(MONDAY, 9), chicago(FRIDAY, 16, 59)])
    def test_inside_its_days_and_hours_it_matches(self, arrival: datetime) -> None:
        assert covers(self.office, arrival)

    @pytest.mark.parametrize("hour", [0, 12, 23])
    def test_a_start_equal_to_its_end_is_the_whole_day(self, hour: int) -> None:
        all_day = route("Sundays", 0, days_of_week=[6], start_time=time(8), end_time=time(8))
        assert covers(all_day, chicago(SUNDAY, hour, 59))
        assert not covers(all_day, chicago(SATURDAY, hour, 59))

    @pytest.mark.parametrize("source", ["Zillow", " zillow ", "ZILLOW"])
    def test_sources_are_compared_trimmed_and_ignoring_case(self, source: str) -> None:
        assert match([route("General", 0, sources=["Zillow"])], chicago(MONDAY, 10), source=source).outcome == "route"

    def test_every_miss_is_named(self) -> None:
        result = match([self.office], chicago(SATURDAY, 20), source="Realtor.com")
        assert reasons(result)["Office hours"] == ("not on Saturdays; outside 09:00–17:00; "
                                                   "source 'Realtor.com' not covered")


class TestRRoute1MidnightWindow:
    """A window ending at or before its start crosses midnight; the night belongs to the day it starts."""

    friday_night = route("Friday night", 0, days_of_week=[4], start_time=time(22), end_time=time(6))

    @pytest.mark.parametrize("arrival", [chicago(FRIDAY, 22), chicago(FRIDAY, 23, 59), chicago(SATURDAY, 0),
                                         chicago(SATURDAY, 3), chicago(SATURDAY, 5, 59)])
    def test_friday_night_covers_both_sides_of_midnight(self, arrival: datetime) -> None:
        assert covers(self.friday_night, arrival)

    @pytest.mark.parametrize(("arrival", "why"), [
        (chicago(FRIDAY, 21, 59), "outside 22:00–06:00"),
        (chicago(SATURDAY, 6), "outside 22:00–06:00"),
        (chicago(SATURDAY, 22), "not on Saturdays"),
        (chicago(FRIDAY, 3), "not on Thursdays (Friday 03:00 belongs to Thursday night's 22:00–06:00)"),
    ])
    def test_outside_friday_night(self, arrival: datetime, why: str) -> None:
        assert reasons(match([self.friday_night], arrival)) == {"Friday night": why}

    def test_a_saturday_night_route_does_not_cover_the_small_hours_of_saturday(self) -> None:
        saturday_night = self.friday_night.model_copy(update={"days_of_week": [5], "title": "Saturday night"})
        assert reasons(match([saturday_night], chicago(SATURDAY, 3))) == {
            "Saturday night": "not on Fridays (Saturday 03:00 belongs to Friday night's 22:00–06:00)"}
        assert covers(saturday_night, chicago(SUNDAY, 3))


class TestRRoute1DateRange:
    """Holiday ranges are inclusive dates in the team's zone, not in UTC; a night belongs to the date it starts."""

    christmas = route("Christmas", 0, date_from=date(2026, 12, 24), date_to=date(2026, 12, 26))

    def test_a_holiday_route_is_read_on_the_teams_calendar(self) -> None:
        routes = [self.christmas, route("General", 1)]
        late_on_the_26th = utc(2026, 12, 27, 4)  # 22:00 on the 26th in Chicago, already the 27th in UTC
        assert match(routes, late_on_the_26th).route_id == self.christmas.id
        late_on_the_23rd = utc(2026, 12, 24, 5)  # 23:00 on the 23rd in Chicago
        result = match(routes, late_on_the_23rd)
        assert result.route_id == "rt_general"
        assert reasons(result)["Christmas"] == "outside 2026-12-24–2026-12-26"

    def test_a_holiday_night_runs_into_the_day_after_the_range(self) -> None:
        nights = self.christmas.model_copy(update={"start_time": time(22), "end_time": time(6)})
        assert covers(nights, chicago(date(2026, 12, 27), 3))  # the night of the 26th
        assert reasons(match([nights], chicago(date(2026, 12, 24), 3))) == {"Christmas": (
            "outside 2026-12-24–2026-12-26 (Thursday 03:00 belongs to Wednesday night's 22:00–06:00)")}

    def test_an_open_ended_range(self) -> None:
        from_new_year = route("2027", 0, date_from=date(2027, 1, 1))
        until_new_year = route("2026", 0, date_to=date(2026, 12, 31))
        new_years_eve = chicago(date(2026, 12, 31), 23)
        assert reasons(match([from_new_year], new_years_eve)) == {"2027": "before 2027-01-01"}
        assert covers(until_new_year, new_years_eve)
        assert reasons(match([until_new_year], chicago(date(2027, 1, 1), 0))) == {"2026": "after 2026-12-31"}


class TestRRoute1DaylightSaving:
    """Chicago springs forward on Sunday 2027-03-14 (02:00 CST → 03:00 CDT) and falls back on Sunday 2027-11-07
    (02:00 CDT → 01:00 CST). Windows are wall clock, so a fixed UTC offset would get one side of each change wrong."""

    saturday_night = route("Saturday night", 0, days_of_week=[5], start_time=time(22), end_time=time(6))
    sunday_office = route("Sunday office", 0, days_of_week=[6], start_time=time(9), end_time=time(17))

    @pytest.mark.parametrize(("arrival", "covered"), [
        (utc(2027, 3, 14, 3, 59), False),  # Saturday 21:59 CST
        (utc(2027, 3, 14, 4), True),  # Saturday 22:00 CST
        (utc(2027, 3, 14, 7, 59), True),  # 01:59 CST, the last minute before the change
        (utc(2027, 3, 14, 8), True),  # 03:00 CDT, the first minute after it
        (utc(2027, 3, 14, 10, 59), True),  # 05:59 CDT
        (utc(2027, 3, 14, 11), False),  # 06:00 CDT (05:00 at the winter offset)
    ])
    def test_spring_forward_night(self, arrival: datetime, covered: bool) -> None:
        assert covers(self.saturday_night, arrival) is covered

    @pytest.mark.parametrize(("arrival", "covered"), [
        (utc(2027, 11, 7, 6, 30), True),  # 01:30 CDT, the first 01:30
        (utc(2027, 11, 7, 7, 30), True),  # 01:30 CST, the second
        (utc(2027, 11, 7, 11), True),  # 05:00 CST (06:00 at the summer offset)
        (utc(2027, 11, 7, 11, 59), True),  # 05:59 CST
        (utc(2027, 11, 7, 12), False),  # 06:00 CST
    ])
    def test_fall_back_night(self, arrival: datetime, covered: bool) -> None:
        assert covers(self.saturday_night, arrival) is covered

    @pytest.mark.parametrize(("arrival", "covered"), [
        (utc(2027, 3, 14, 13, 59), False),  # 08:59 CDT (07:59 at the winter offset)
        (utc(2027, 3, 14, 14), True),  # 09:00 CDT
        (utc(2027, 3, 14, 21, 59), True),  # 16:59 CDT
        (utc(2027, 3, 14, 22), False),  # 17:00 CDT
        (utc(2027, 11, 7, 14, 59), False),  # 08:59 CST (09:59 at the summer offset)
        (utc(2027, 11, 7, 15), True),  # 09:00 CST
        (utc(2027, 11, 7, 22, 59), True),  # 16:59 CST
        (utc(2027, 11, 7, 23), False),  # 17:00 CST
    ])
    def test_a_day_window_on_both_change_days(self, arrival: datetime, covered: bool) -> None:
        assert covers(self.sunday_office, arrival) is covered

    @pytest.mark.parametrize(("arrival", "covered"), [
        (utc(2027, 11, 7, 4, 59), False),  # Saturday 23:59 CDT
        (utc(2027, 11, 7, 5), True),  # Sunday 00:00 CDT
        (utc(2027, 11, 8, 5, 59), True),  # Sunday 23:59 CST: a 25-hour day
        (utc(2027, 11, 8, 6), False),  # Monday 00:00 CST
    ])
    def test_a_one_day_range_on_the_fall_back_day(self, arrival: datetime, covered: bool) -> None:
        day = route("Fall back", 0, date_from=date(2027, 11, 7), date_to=date(2027, 11, 7))
        assert covers(day, arrival) is covered


ZONES = ["America/Chicago", "America/New_York", "America/Denver", "Europe/London", "Australia/Sydney"]
CLOCKS = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))


class TestRRoute1WallClockProperty:
    """Against a plain reading of the rule: the arrival's wall time, in the team's zone, lies in [start, end) of a
    window that starts on one of the route's days, within its dates (end on the next day when it crosses midnight)."""

    @settings(max_examples=400, deadline=None)
    @given(start=CLOCKS, end=CLOCKS, days=st.sets(st.integers(0, 6), min_size=1),
           offset=st.integers(0, 365 * 24 * 60 - 1), team_zone=st.sampled_from(ZONES),
           span=st.one_of(st.none(), st.tuples(st.integers(0, 364), st.integers(0, 6))))
    def test_a_route_covers_exactly_its_windows(self, start: time, end: time, days: set[int], offset: int,
                                                team_zone: str, span: tuple[int, int] | None) -> None:
        first = date(2027, 1, 1)
        date_from, date_to = (None, None) if span is None else (
            first + timedelta(days=span[0]), first + timedelta(days=span[0] + span[1]))
        rule = route("Any", 0, days_of_week=sorted(days), start_time=start, end_time=end, date_from=date_from,
                     date_to=date_to)
        arrival = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(minutes=offset)
        local = arrival.astimezone(ZoneInfo(team_zone)).replace(tzinfo=None)
        expected = False
        for day in (local.date() - timedelta(days=1), local.date()):
            if start == end:
                opens, closes = datetime.combine(day, time(0)), datetime.combine(day + timedelta(days=1), time(0))
            else:
                opens = datetime.combine(day, start)
                closes = datetime.combine(day + timedelta(days=int(end <= start)), end)
            in_dates = (date_from is None or day >= date_from) and (date_to is None or day <= date_to)
            expected = expected or (day.weekday() in days and in_dates and opens <= local < closes)
        result = match_route([rule], source="zillow", arrival=arrival, team_zone=team_zone)
        assert (result.outcome == "route") is expected
        assert result.considered[0].matched is expected


class TestRRoute5NoRoute:
    @pytest.mark.parametrize("source", [None, "", "   "])
    def test_a_lead_with_no_source_is_not_routed(self, source: str | None) -> None:
        result = match([route("General", 0)], chicago(MONDAY, 10), source=source)
        assert (result.outcome, result.route_id) == ("not_routed", None)
        assert result.reason == "a lead with no source is not routed"
        assert [(v.matched, v.reason) for v in result.considered] == [
            (False, "not weighed: a lead with no source is not routed")]

    def test_with_no_routes_a_lead_goes_to_the_pool(self) -> None:
        result = match([], chicago(MONDAY, 10))
        assert (result.outcome, result.considered) == ("pool", [])
        assert result.reason == "the team has no routes; the lead goes to the unassigned pool"

    def test_with_no_route_matching_a_lead_goes_to_the_pool(self) -> None:
        result = match([route("Open house", 0, sources=["open_house"])], chicago(MONDAY, 10), owner="ag_alex")
        assert result.outcome == "pool"
        assert result.reason == "no route matched; the lead goes to the unassigned pool"

    @pytest.mark.parametrize("source", ["agent_app", " Agent_Site "])
    def test_an_unrouted_lead_from_an_agents_app_or_site_goes_to_that_agent(self, source: str) -> None:
        result = match([route("General", 0)], chicago(MONDAY, 10), source=source, owner="ag_bea")
        assert (result.outcome, result.route_id) == ("owner", None)
        assert result.reason == "no route matched; a lead from an agent's own app or site goes to that agent"
        assert match([], chicago(MONDAY, 10), source=source, owner=None).outcome == "pool"

    def test_an_app_lead_still_takes_a_route_that_covers_it(self) -> None:
        app_route = route("App leads", 0, sources=["agent_app"])
        assert match([app_route], chicago(MONDAY, 10), source="agent_app", owner="ag_bea").route_id == app_route.id

    def test_a_naive_arrival_is_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            match([route("General", 0)], datetime(2026, 6, 1, 10))


class TestRRoute7EveryRouteWeighed:
    def test_each_route_is_listed_once_in_priority_order_with_its_verdict(self) -> None:
        routes = [route("General", 3), route("Paused", 0, active=False), route("Weekend", 1, days_of_week=[5, 6]),
                  route("Open house", 2, sources=["open_house"])]
        result = match(routes, chicago(MONDAY, 10))
        assert [(v.title, v.matched, v.reason) for v in result.considered] == [
            ("Paused", False, "paused"), ("Weekend", False, "not on Mondays"),
            ("Open house", False, "source 'zillow' not covered"), ("General", True, "matched: top-most")]
        assert [v.route_id for v in result.considered] == ["rt_paused", "rt_weekend", "rt_open_house", "rt_general"]
