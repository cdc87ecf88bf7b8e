"""Round robin (R-ROUTE-6, R-OFFER-3): first offers go round in the route's order and continue where the last lead
left off; a skipped agent keeps their place, their turn is not handed to the same neighbour twice, and over time
every available agent gets an equal share.

"Equal share", as measured here: for any two agents and any run of consecutive leads during which both were
available, the numbers of first offers each got in that run differ by at most one (`widest_gap`). Over a run in
which the same k agents stay available for m leads, that makes each get m // k or m // k + 1 (`unequal_stretches`).
Leads during which an agent was unavailable give them no share, so coming back brings one owed turn, not a burst.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.routing.model import AgentState, Rotation, RouteRule
from tests.unit.routing_support import (
    ALEX,
    BEA,
    CY,
    DANA,
    EVE,
    History,
    available_only,
    offer,
    rule,
    team,
    unequal_stretches,
    widest_gap,
)

FOUR = [ALEX, BEA, CY, DANA]
FIVE = [ALEX, BEA, CY, DANA, EVE]


def round_robin(route: RouteRule, availability: list[set[str]], rotation: Rotation | None = None) -> History:
    """The first offers of consecutive leads, the rotation stored and read back as JSON between leads."""
    history: History = []
    rotation = rotation or Rotation()
    for available in availability:
        plan = offer(route, available_only(route, available), rotation)
        history.append((frozenset(plan.line), plan.line[0] if plan.line else None))
        rotation = Rotation.model_validate_json(plan.rotation.model_dump_json())
    return history


def firsts(history: History) -> list[str | None]:
    return [first for _, first in history]


def naive_step(order: list[str], cursor: int, available: frozenset[str] | set[str]) -> tuple[str | None, int]:
    """The bug open-source round robins shipped: the cursor moves one past whose turn it was rather than past who
    got the lead, so a skipped agent's turn goes to the agent after them, who then has their own turn as well."""
    turn = order[cursor:] + order[:cursor]
    return next((a for a in turn if a in available), None), (cursor + 1) % len(order)


def naive_round_robin(order: list[str], history: History) -> History:
    cursor, out = 0, []
    for available, _ in history:
        first, cursor = naive_step(order, cursor, available)
        out.append((available, first))
    return out


class TestRRoute6RoundRobin:
    def test_first_offers_go_round_in_the_routes_order_continuing_from_the_last_lead(self) -> None:
        assert firsts(round_robin(rule(), [{ALEX, BEA, CY}] * 7)) == [ALEX, BEA, CY, ALEX, BEA, CY, ALEX]

    def test_the_rest_of_the_line_follows_the_route_from_the_first_wrapping(self) -> None:
        route, rotation = rule(agents=FOUR), Rotation(queue=[CY, DANA, ALEX, BEA])
        assert offer(route, team(*FOUR), rotation).line == [CY, DANA, ALEX, BEA]
        assert offer(route, available_only(route, {ALEX, CY, DANA}), rotation).line == [CY, DANA, ALEX]

    def test_the_reason_names_whose_turn_and_after_whom(self) -> None:
        first = offer(rule(), team(ALEX, BEA, CY))
        assert first.reason == "round robin: Alex Agent's turn (the route's first lead)"
        second = offer(rule(), team(ALEX, BEA, CY), first.rotation)
        assert second.reason == "round robin: Bea Brown's turn (after Alex Agent)"

    def test_the_stored_cursor_names_whose_turn_is_next(self) -> None:
        route, rotation = rule(agents=FOUR), Rotation()
        for _ in range(6):
            rotation = offer(route, team(*FOUR), rotation).rotation
            assert route.agent_ids[rotation.cursor] == rotation.queue[0]

    def test_a_rotation_stored_before_the_queue_starts_at_its_cursor(self) -> None:
        assert firsts(round_robin(rule(), [{ALEX, BEA, CY}] * 4, Rotation(cursor=2))) == [CY, ALEX, BEA, CY]

    def test_agents_new_to_the_route_wait_at_the_back_and_agents_gone_drop_out(self) -> None:
        stored = Rotation(queue=[BEA, CY, ALEX])
        changed = rule(agents=[ALEX, CY, DANA])
        assert firsts(round_robin(changed, [{ALEX, CY, DANA}] * 4, stored)) == [CY, ALEX, DANA, CY]


class TestROffer3SkippedAgentKeepsTheirPlace:
    def test_back_from_a_pause_the_skipped_agent_is_next(self) -> None:
        route = rule(agents=FOUR)
        skipped = offer(route, available_only(route, {BEA, CY, DANA}))
        assert skipped.line[0] == BEA
        assert skipped.reason == ("round robin: Bea Brown's turn (the route's first lead; Alex Agent skipped, keeps "
                                  "their place)")
        later = round_robin(route, [set(FOUR)] * 5, skipped.rotation)
        assert firsts(later) == [ALEX, CY, DANA, BEA, ALEX]

    def test_their_turn_is_not_handed_to_the_same_neighbour_twice(self) -> None:
        """Alex is unavailable every other time his turn comes: those turns go to each of the others in rotation,
        never to the same neighbour twice in a row (the naive rotation gives every one of them to Bea)."""
        route, rotation, takers, naive_takers = rule(agents=FOUR), Rotation(), [], []
        alex_turns = naive_alex_turns = cursor = 0
        for _ in range(60):
            alex_turn = offer(route, team(*FOUR), rotation).line[0] == ALEX  # were everyone available
            alex_turns += alex_turn
            away = alex_turn and alex_turns % 2 == 1
            plan = offer(route, available_only(route, set(FOUR) - {ALEX} if away else FOUR), rotation)
            takers += [plan.line[0]] if away else []
            rotation = plan.rotation
            naive_alex_turns += cursor == 0
            naive_away = cursor == 0 and naive_alex_turns % 2 == 1
            naive_first, cursor = naive_step(FOUR, cursor, set(FOUR) - {ALEX} if naive_away else set(FOUR))
            naive_takers += [naive_first] if naive_away else []
        assert len(takers) >= 6
        assert all(one != two for one, two in zip(takers, takers[1:], strict=False))
        assert set(takers) == {BEA, CY, DANA}
        assert set(naive_takers) == {BEA}

    def test_a_long_pause_gives_back_the_one_turn_owed_not_a_burst(self) -> None:
        route = rule(agents=FOUR)
        away = round_robin(route, [{BEA, CY, DANA}] * 200)
        assert sorted(Counter(firsts(away)).values()) == [66, 67, 67]
        rotation = Rotation()
        for available, _ in away:
            rotation = offer(route, available_only(route, available), rotation).rotation
        back = firsts(round_robin(route, [set(FOUR)] * 8, rotation))
        assert back[0] == ALEX
        assert Counter(back[:4]) == Counter(FOUR)
        assert Counter(back) == Counter(FOUR * 2)

    def test_an_agent_at_the_limit_keeps_their_place_until_next_month(self) -> None:
        route = rule()
        at_limit = team(ALEX, BEA, CY, only=[ALEX], lead_limit=5, leads_this_month=5)
        rotation, taken = Rotation(), []
        for _ in range(4):
            plan = offer(route, at_limit, rotation)
            taken.append(plan.line[0])
            rotation = plan.rotation
        assert taken == [BEA, CY, BEA, CY]
        next_month = team(ALEX, BEA, CY, only=[ALEX], lead_limit=5, leads_this_month=0)
        assert offer(route, next_month, rotation).line[0] == ALEX


def simulate(seed: int, leads: int = 1000) -> tuple[History, Counter[str]]:
    """A month is 100 leads. Agents pause and resume their leads or routes at random, each month brings new limits
    (some tight), and each lead is claimed by the first agent in line who wants it, counting toward their limit."""
    rng, route, rotation = random.Random(seed), rule(agents=FIVE), Rotation()
    states = {a: AgentState(agent_id=a) for a in FIVE}
    history: History = []
    skips: Counter[str] = Counter()
    for lead in range(leads):
        for agent_id, state in states.items():
            changes: dict[str, object] = {}
            if lead % 100 == 0:
                changes |= {"leads_this_month": 0, "lead_limit": rng.choice([None, None, 4, 8, 15])}
            if rng.random() < 0.04:
                changes["leads_paused"] = not state.leads_paused
            if rng.random() < 0.02:
                changes["routes_paused"] = not state.routes_paused
            states[agent_id] = state.model_copy(update=changes)
        plan = offer(route, states, rotation, seed=lead)
        rotation = Rotation.model_validate_json(plan.rotation.model_dump_json())
        history.append((frozenset(plan.line), plan.line[0] if plan.line else None))
        skips.update(s.reason for s in plan.skipped)
        claimer = next((a for a in plan.line if rng.random() < 0.6), None)
        if claimer is not None:
            state = states[claimer]
            states[claimer] = state.model_copy(update={"leads_this_month": state.leads_this_month + 1})
    return history, skips


class TestROffer3RoundRobinFairness:
    def test_over_a_thousand_leads_with_random_pauses_and_limits_shares_stay_within_one(self) -> None:
        for seed in range(5):
            history, skips = simulate(seed)
            assert all(skips[reason] >= 50 for reason in ("leads_paused", "routes_paused", "limit_reached"))
            assert set(firsts(history)) >= set(FIVE)
            gaps = {(a, b): widest_gap(history, a, b) for a, b in itertools.combinations(FIVE, 2)}
            assert max(gaps.values()) <= 1, gaps
            assert unequal_stretches(history) == []
            # The measure is not blind: replayed on the same availability, the naive rotation breaks it.
            naive = naive_round_robin(FIVE, history)
            assert max(widest_gap(naive, a, b) for a, b in itertools.combinations(FIVE, 2)) >= 2

    @settings(max_examples=200, deadline=None)
    @given(stretches=st.lists(st.tuples(st.frozensets(st.sampled_from(FIVE)), st.integers(1, 12)), min_size=1,
                              max_size=30),
           queue=st.permutations(FIVE))
    def test_whatever_the_availability_shares_stay_within_one(self, stretches: list[tuple[frozenset[str], int]],
                                                               queue: list[str]) -> None:
        availability = [set(available) for available, length in stretches for _ in range(length)]
        history = round_robin(rule(agents=FIVE), availability, Rotation(queue=queue))
        assert [set(line) for line, _ in history] == availability
        assert all(widest_gap(history, a, b) <= 1 for a, b in itertools.combinations(FIVE, 2))
        assert unequal_stretches(history) == []
