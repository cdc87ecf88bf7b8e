"""A route's limits (R-ROUTE-1, R-ROUTE-6, R-OFFER-4): each problem names its field and rule, all reported at once."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from domain.routing import route_problems
from domain.routing.model import MAX_CLAIM_SECONDS, MIN_CLAIM_SECONDS
from tests.unit.routing_support import ALEX, BEA, CY, rule


def problems(**changes: Any) -> list[tuple[str, str, str]]:
    return [(v.field, v.rule, v.message) for v in route_problems(rule(**changes))]


class TestRRoute1RouteShape:
    def test_a_complete_route_has_no_problems(self) -> None:
        assert problems(title="x" * 30, date_from=date(2026, 12, 24), date_to=date(2026, 12, 24)) == []

    @pytest.mark.parametrize(("title", "message"), [
        ("x" * 31, "a route's title is at most 30 characters (31 given)"),
        ("   ", "a route needs a title"),
    ])
    def test_the_title(self, title: str, message: str) -> None:
        assert problems(title=title) == [("title", "R-ROUTE-1", message)]

    @pytest.mark.parametrize(("days", "message"), [
        ([], "a route needs at least one day of the week"),
        ([0, 7], "days of the week are 0 (Monday) to 6 (Sunday), each at most once"),
        ([2, 2], "days of the week are 0 (Monday) to 6 (Sunday), each at most once"),
    ])
    def test_the_days(self, days: list[int], message: str) -> None:
        assert problems(days_of_week=days) == [("days_of_week", "R-ROUTE-1", message)]

    @pytest.mark.parametrize(("sources", "message"), [
        ([], "a route needs at least one lead source"),
        ([" "], "a route needs at least one lead source"),
        (["Zillow", "zillow "], "each lead source is named, and only once (sources ignore case)"),
        (["zillow", ""], "each lead source is named, and only once (sources ignore case)"),
    ])
    def test_the_sources(self, sources: list[str], message: str) -> None:
        assert problems(sources=sources) == [("sources", "R-ROUTE-1", message)]

    def test_a_date_range_ends_on_or_after_its_start(self) -> None:
        assert problems(date_from=date(2026, 12, 26), date_to=date(2026, 12, 24)) == [
            ("date_to", "R-ROUTE-1", "the date range ends (2026-12-24) before it starts (2026-12-26)")]

    def test_every_problem_is_reported_at_once(self) -> None:
        found = problems(title="", days_of_week=[], sources=[], agent_ids=[], claim_seconds=0)
        assert [(field, code) for field, code, _ in found] == [
            ("title", "R-ROUTE-1"), ("days_of_week", "R-ROUTE-1"), ("sources", "R-ROUTE-1"),
            ("agent_ids", "R-ROUTE-6"), ("claim_seconds", "R-OFFER-4")]


class TestRRoute6Agents:
    @pytest.mark.parametrize("strategy", ["round_robin", "random", "jump_ball", "assign_to_agent"])
    def test_a_strategy_needs_agents(self, strategy: str) -> None:
        assert problems(strategy=strategy, agent_ids=[]) == [
            ("agent_ids", "R-ROUTE-6", "a route needs at least one agent")]

    def test_assign_to_agent_takes_exactly_one(self) -> None:
        assert problems(strategy="assign_to_agent", agent_ids=[ALEX]) == []
        assert problems(strategy="assign_to_agent", agent_ids=[ALEX, BEA]) == [
            ("agent_ids", "R-ROUTE-6", "assign to agent takes exactly one agent (2 given)")]

    def test_an_agent_is_on_a_route_once(self) -> None:
        assert problems(agent_ids=[ALEX, BEA, ALEX]) == [("agent_ids", "R-ROUTE-6", "each agent is on a route once")]

    def test_weights_only_for_weighted_random(self) -> None:
        assert problems(weights={ALEX: 50, BEA: 30, CY: 20}) == [
            ("weights", "R-ROUTE-6", "weights are only for the weighted random strategy")]

    @pytest.mark.parametrize(("weights", "found"), [
        ({ALEX: 50, BEA: 30, CY: 20}, []),
        (None, [("weights", "weighted random needs a percentage for each agent")]),
        ({ALEX: 50, BEA: 50}, [("weights", "weights cover exactly the route's agents: missing for ag_cy")]),
        ({ALEX: 50, BEA: 30, CY: 10, "ag_zed": 10}, [
            ("weights", "weights cover exactly the route's agents: given for ag_zed, not on the route")]),
        ({ALEX: 50, BEA: 30, CY: 30}, [("weights", "weights are percentages summing to 100 (110 given)")]),
        ({ALEX: 100, BEA: 0, CY: 0}, [("weights.ag_bea", "a weight is a percentage from 1 to 100 (0 given)"),
                                      ("weights.ag_cy", "a weight is a percentage from 1 to 100 (0 given)")]),
    ])
    def test_weighted_random_weights(self, weights: dict[str, int] | None, found: list[tuple[str, str]]) -> None:
        assert problems(strategy="weighted_random", weights=weights) == [
            (field, "R-ROUTE-6", message) for field, message in found]


class TestROffer4ClaimDeadline:
    @pytest.mark.parametrize(("seconds", "allowed"), [
        (MIN_CLAIM_SECONDS - 1, False), (MIN_CLAIM_SECONDS, True), (MAX_CLAIM_SECONDS, True),
        (MAX_CLAIM_SECONDS + 1, False)])
    def test_ten_seconds_to_thirty_days(self, seconds: int, allowed: bool) -> None:
        found = problems(claim_seconds=seconds)
        assert found == ([] if allowed else [("claim_seconds", "R-OFFER-4", (
            f"the claim deadline is 10 seconds to 30 days (2,592,000 seconds); {seconds:,} given"))])
