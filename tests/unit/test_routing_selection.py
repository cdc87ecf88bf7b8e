"""Who a routed lead is offered to (R-ROUTE-6, R-OFFER-3, R-OFFER-4): each strategy's line, skipped agents with
their reasons, nobody offered twice. Round robin's rotation and fairness are in test_routing_fairness.py."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.routing.model import AgentState, Rotation, SkipReason, Strategy
from tests.unit.routing_support import (
    ALEX,
    BEA,
    CHI_SQUARE_0_001,
    CY,
    DANA,
    NAMES,
    available_only,
    chi_square,
    offer,
    rule,
    team,
)

STRATEGIES: list[Strategy] = ["round_robin", "random", "weighted_random", "jump_ball", "assign_to_agent"]
WEIGHTS = {ALEX: 50, BEA: 30, CY: 20}


class TestROffer3Skips:
    @pytest.mark.parametrize(("state", "reason", "detail"), [
        ({"on_team": False}, "not_on_team", "Alex Agent is not on the team"),
        ({"leads_paused": True}, "leads_paused", "Alex Agent's leads are paused"),
        ({"routes_paused": True}, "routes_paused", "Alex Agent's routes are paused"),
        ({"lead_limit": 20, "leads_this_month": 20}, "limit_reached",
         "Alex Agent reached the monthly limit of 20 leads (20 this month)"),
        ({"lead_limit": 1, "leads_this_month": 3}, "limit_reached",
         "Alex Agent reached the monthly limit of 1 lead (3 this month)"),
        ({"lead_limit": 0}, "limit_reached", "Alex Agent reached the monthly limit of 0 leads (0 this month)"),
        ({"leads_paused": True, "lead_limit": 1, "leads_this_month": 1}, "leads_paused",
         "Alex Agent's leads are paused"),
    ])
    @pytest.mark.parametrize("strategy", STRATEGIES)
    def test_an_unavailable_agent_is_skipped_with_the_reason(self, strategy: Strategy, state: dict[str, object],
                                                              reason: SkipReason, detail: str) -> None:
        agents = [ALEX, BEA] if strategy != "assign_to_agent" else [ALEX]
        plan = offer(rule(strategy, agents), team(*agents, only=[ALEX], **state))
        assert ALEX not in plan.line
        assert [(s.agent_id, s.reason, s.detail) for s in plan.skipped] == [(ALEX, reason, detail)]

    def test_an_agent_under_the_limit_is_offered(self) -> None:
        plan = offer(rule(agents=[ALEX]), team(ALEX, only=[ALEX], lead_limit=20, leads_this_month=19))
        assert (plan.line, plan.skipped) == ([ALEX], [])

    def test_an_agent_missing_from_the_team_is_not_on_the_team(self) -> None:
        plan = offer(rule(agents=[ALEX, DANA]), team(ALEX), seed=1)
        assert plan.line == [ALEX]
        assert [(s.agent_id, s.reason, s.detail) for s in plan.skipped] == [
            (DANA, "not_on_team", "Dana Smith is not on the team")]

    def test_without_names_the_detail_uses_the_id(self) -> None:
        plan = offer(rule(agents=[ALEX, BEA]), team(ALEX, BEA, only=[ALEX], routes_paused=True), names={})
        assert plan.skipped[0].detail == "ag_alex's routes are paused"

    @pytest.mark.parametrize("strategy", STRATEGIES)
    def test_with_everyone_skipped_the_lead_goes_to_the_pool(self, strategy: Strategy) -> None:
        agents = [ALEX, BEA] if strategy != "assign_to_agent" else [ALEX]
        before = Rotation(turns={ALEX: 3}, last_first=ALEX, queue=[BEA, ALEX])
        plan = offer(rule(strategy, agents, weights=WEIGHTS if strategy == "weighted_random" else None),
                     team(*agents, only=agents, leads_paused=True), before)
        assert (plan.line, plan.rotation) == ([], before)
        assert plan.reason.endswith("; the lead goes to the pool")
        assert {s.agent_id for s in plan.skipped} == set(agents)


class TestROffer4NeverTwice:
    @pytest.mark.parametrize("strategy", ["round_robin", "random", "weighted_random", "jump_ball"])
    def test_an_agent_listed_twice_is_in_line_once(self, strategy: Strategy) -> None:
        route = rule(strategy, [ALEX, BEA, ALEX, CY], weights=WEIGHTS if strategy == "weighted_random" else None)
        for seed in range(20):
            plan = offer(route, team(ALEX, BEA, CY), seed=seed)
            assert sorted(plan.line) == sorted([ALEX, BEA, CY])

    def test_an_agent_already_offered_is_skipped_and_the_rotation_kept(self) -> None:
        before = Rotation(turns={ALEX: 1}, last_first=ALEX, queue=[BEA, CY, ALEX])
        plan = offer(rule(), team(ALEX, BEA, CY), before, already_offered={ALEX, BEA})
        assert plan.line == [CY]
        assert plan.rotation == before  # the lead already had its first offer
        assert [(s.agent_id, s.reason, s.detail) for s in plan.skipped] == [
            (ALEX, "already_offered", "Alex Agent was already offered this lead"),
            (BEA, "already_offered", "Bea Brown was already offered this lead")]

    @settings(max_examples=300, deadline=None)
    @given(strategy=st.sampled_from(STRATEGIES), seed=st.integers(0, 2**32),
           roster=st.lists(st.sampled_from(sorted(NAMES)), min_size=1, max_size=8),
           paused=st.sets(st.sampled_from(sorted(NAMES))), offered=st.sets(st.sampled_from(sorted(NAMES))),
           queue=st.lists(st.sampled_from(sorted(NAMES)), max_size=6), cursor=st.integers(0, 9))
    def test_the_line_holds_each_available_agent_once(self, strategy: Strategy, seed: int, roster: list[str],
                                                      paused: set[str], offered: set[str], queue: list[str],
                                                      cursor: int) -> None:
        route = rule(strategy, roster, weights=dict.fromkeys(roster, 1) if strategy == "weighted_random" else None)
        rotation = Rotation(queue=queue, cursor=cursor, last_first=queue[0] if queue else None)
        plan = offer(route, available_only(route, set(roster) - paused), rotation, seed, already_offered=offered)
        eligible = [a for a in dict.fromkeys(roster) if a not in paused | offered]
        if strategy == "assign_to_agent":
            eligible = [a for a in roster[:1] if a in eligible]
        assert len(plan.line) == len(set(plan.line))
        assert sorted(plan.line) == sorted(eligible)
        assert {s.agent_id for s in plan.skipped}.isdisjoint(plan.line)
        if strategy == "round_robin" and plan.line and not offered:
            assert sorted(plan.rotation.queue) == sorted(set(roster))
            assert plan.rotation.queue[-1] == plan.line[0]  # served: to the back of the rotation
        else:
            assert plan.rotation.queue == rotation.queue


class TestRRoute6Random:
    def test_the_first_offer_never_goes_to_the_same_agent_twice_in_a_row(self) -> None:
        route, rotation, firsts = rule("random"), Rotation(), []
        for lead in range(3000):
            plan = offer(route, team(ALEX, BEA, CY), rotation, seed=lead)
            firsts.append(plan.line[0])
            rotation = plan.rotation
        assert all(one != two for one, two in zip(firsts, firsts[1:], strict=False))
        assert chi_square(Counter(firsts), dict.fromkeys((ALEX, BEA, CY), 1 / 3)) < CHI_SQUARE_0_001[2]

    def test_no_repeat_holds_while_agents_come_and_go(self) -> None:
        route, rotation, previous = rule("random", [ALEX, BEA, CY, DANA]), Rotation(), None
        repeats_checked = 0
        for lead in range(2000):
            available = {a for i, a in enumerate(route.agent_ids) if (lead * 7 + i * 3) % 5 != 0}
            plan = offer(route, available_only(route, available), rotation, seed=lead)
            if previous in available and len(available) > 1:
                assert plan.line[0] != previous
                repeats_checked += 1
            previous, rotation = plan.line[0], plan.rotation
        assert repeats_checked > 1000

    def test_the_only_available_agent_may_have_it_again(self) -> None:
        route = rule("random")
        plan = offer(route, available_only(route, {BEA}), Rotation(last_first=BEA))
        assert plan.line == [BEA]
        assert plan.reason == "random: Bea Brown drawn first from 1 agent"

    def test_the_line_is_the_first_then_the_others_in_random_order_repeatably(self) -> None:
        route = rule("random", [ALEX, BEA, CY, DANA])
        lines = {tuple(offer(route, team(*route.agent_ids), Rotation(last_first=ALEX), seed).line)
                 for seed in range(200)}
        assert all(line[0] != ALEX and sorted(line) == sorted(route.agent_ids) for line in lines)
        assert len(lines) == 18  # 3 first offers × 3! orders of the rest: every line occurs
        again = offer(route, team(*route.agent_ids), Rotation(last_first=ALEX), 7)
        assert again == offer(route, team(*route.agent_ids), Rotation(last_first=ALEX), 7)
        assert again.reason == (f"random: {NAMES[again.line[0]]} drawn first from 3 agents "
                                "(Alex Agent had the previous lead's first offer)")


class TestRRoute6WeightedRandom:
    def test_first_offers_follow_the_weights(self) -> None:
        route = rule("weighted_random", weights=WEIGHTS)
        firsts = Counter(offer(route, team(ALEX, BEA, CY), seed=seed).line[0] for seed in range(10_000))
        assert chi_square(firsts, {a: w / 100 for a, w in WEIGHTS.items()}) < CHI_SQUARE_0_001[2]
        assert firsts[ALEX] > firsts[BEA] > firsts[CY]

    def test_weights_are_renormalised_over_the_available_agents(self) -> None:
        route = rule("weighted_random", weights=WEIGHTS)
        agents = available_only(route, {ALEX, BEA})
        plans = [offer(route, agents, seed=seed) for seed in range(10_000)]
        firsts = Counter(plan.line[0] for plan in plans)
        assert chi_square(firsts, {ALEX: 50 / 80, BEA: 30 / 80}) < CHI_SQUARE_0_001[1]
        assert all(CY not in plan.line for plan in plans)
        alex_first = next(plan for plan in plans if plan.line[0] == ALEX)
        assert alex_first.reason == ("weighted random: Alex Agent drawn first (62.5% of the weight of the "
                                     "available agents)")

    def test_the_rest_of_the_line_is_drawn_by_weight_too(self) -> None:
        route = rule("weighted_random", weights=WEIGHTS)
        lines = [offer(route, team(ALEX, BEA, CY), seed=seed).line for seed in range(10_000)]
        after_alex = Counter(line[1] for line in lines if line[0] == ALEX)
        assert chi_square(after_alex, {BEA: 30 / 50, CY: 20 / 50}) < CHI_SQUARE_0_001[1]
        assert all(sorted(line) == sorted([ALEX, BEA, CY]) for line in lines)

    def test_a_route_saved_without_weights_draws_evenly(self) -> None:
        route = rule("weighted_random")
        firsts = Counter(offer(route, team(ALEX, BEA, CY), seed=seed).line[0] for seed in range(6000))
        assert chi_square(firsts, dict.fromkeys((ALEX, BEA, CY), 1 / 3)) < CHI_SQUARE_0_001[2]


class TestRRoute6JumpBall:
    def test_every_available_agent_is_offered_at_once(self) -> None:
        before = Rotation(turns={BEA: 2}, last_first=BEA)
        plan = offer(rule("jump_ball", [ALEX, BEA, CY, DANA]),
                     team(ALEX, BEA, CY, DANA, only=[CY], lead_limit=0), before)
        assert (plan.line, plan.all_at_once, plan.assign_at_once) == ([ALEX, BEA, DANA], True, False)
        assert plan.rotation == before  # nobody had a first offer
        assert [s.agent_id for s in plan.skipped] == [CY]
        assert plan.reason == "jump ball: offered to 3 agents at once; the first claim wins"


class TestRRoute6AssignToAgent:
    def test_the_one_agent_is_assigned_at_once(self) -> None:
        plan = offer(rule("assign_to_agent", [DANA]), team(DANA))
        assert (plan.line, plan.assign_at_once, plan.all_at_once) == ([DANA], True, False)
        assert (plan.rotation.turns, plan.rotation.last_first) == ({DANA: 1}, DANA)
        assert plan.reason == "assign to agent: assigned to Dana Smith, no claim step"

    def test_an_unavailable_agent_sends_the_lead_to_the_pool(self) -> None:
        plan = offer(rule("assign_to_agent", [DANA]), {DANA: AgentState(agent_id=DANA, leads_paused=True)})
        assert (plan.line, plan.assign_at_once) == ([], True)
        assert [(s.agent_id, s.reason) for s in plan.skipped] == [(DANA, "leads_paused")]
        assert plan.reason == "assign to agent: Dana Smith's leads are paused; the lead goes to the pool"

    def test_a_route_without_agents_sends_the_lead_to_the_pool(self) -> None:
        plan = offer(rule("assign_to_agent", []), {})
        assert (plan.line, plan.skipped) == ([], [])
        assert plan.reason == "assign to agent: the route has no agents; the lead goes to the pool"
