"""Who a routed lead is offered to, in what order (R-ROUTE-6, R-OFFER-1..4), and the rotation the route stores for
its next lead.

Round robin is a queue of the route's agents, the one who has waited longest for a first offer in front. A lead's
first offer goes to the front-most *available* agent, who then moves to the back; the agents in front of them were
skipped and stay where they are (R-OFFER-3). That one rule gives the three things the spec asks for:
- a skipped agent keeps their place: back from a pause, they are first again;
- their turn is not handed to the same neighbour twice: whoever took it went to the back, so the next skip of the
  same agent goes to someone else;
- fairness over time without catch-up bursts: any two agents who are both available for a run of leads get first
  offers alternately over that run (their counts never differ by more than one), and an agent back from a week's
  pause gets the one turn they were waiting for, not a week's worth.
Counting turns and serving the fewest instead would either give a returning agent a burst (raw counts) or, with
counts raised to the others' on return, let two agents swap order between rounds and one get two leads in a row
while the other waits. A share of 1/k per lead for each of k available agents cannot be kept within one lead at
all: when the agent just served pauses after every lead, the agents left behind accrue ~ln(k) unpaid leads.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from domain.routing.model import AgentState, OfferPlan, Rotation, RouteRule, SkippedAgent, SkipReason, Strategy

STRATEGY_NAMES: dict[Strategy, str] = {"round_robin": "round robin", "random": "random",
                                       "weighted_random": "weighted random", "jump_ball": "jump ball",
                                       "assign_to_agent": "assign to agent"}

Namer = Callable[[str], str]


def unavailable_reason(state: AgentState | None) -> SkipReason | None:
    """Why an agent cannot be offered a lead now (R-OFFER-3), or None when they can. The first reason that applies,
    in the order a Rainmaker would fix them: on the team, leads paused, routes paused, monthly limit."""
    if state is None or not state.on_team:
        return "not_on_team"
    if state.leads_paused:
        return "leads_paused"
    if state.routes_paused:
        return "routes_paused"
    if state.lead_limit is not None and state.leads_this_month >= state.lead_limit:
        return "limit_reached"
    return None


def skip_detail(name: str, reason: SkipReason, state: AgentState | None) -> str:
    """The sentence the routing record shows for a skipped agent (R-ROUTE-7)."""
    if reason == "limit_reached" and state is not None and state.lead_limit is not None:
        plural = "" if state.lead_limit == 1 else "s"
        return (f"{name} reached the monthly limit of {state.lead_limit} lead{plural} "
                f"({state.leads_this_month} this month)")
    return {"not_on_team": f"{name} is not on the team", "leads_paused": f"{name}'s leads are paused",
            "routes_paused": f"{name}'s routes are paused", "limit_reached": f"{name} reached the monthly limit",
            "already_offered": f"{name} was already offered this lead"}[reason]


def plan_offers(route: RouteRule, agents: Mapping[str, AgentState], rotation: Rotation, *, seed: int,
                names: Mapping[str, str] | None = None, already_offered: Collection[str] = ()) -> OfferPlan:
    """R-ROUTE-6 / R-OFFER-1..4: the line of agents to offer a lead on `route` to, the agents skipped and why, and
    the rotation to store for the route's next lead.

    `agents` holds the state of the route's agents (one missing is not on the team); `seed` makes random draws
    repeatable (the workflow derives it from the lead); `names` words the reasons. Each agent is in the line at most
    once, and never when in `already_offered` (R-OFFER-4): a plan made again for a lead already being offered is not
    a new lead, so it returns `rotation` unchanged. An empty line sends the lead to the pool.
    """
    def name(agent_id: str) -> str:
        return (names or {}).get(agent_id, agent_id)

    roster = list(dict.fromkeys(route.agent_ids))  # a repeated id is offered once (R-OFFER-4)
    if route.strategy == "assign_to_agent":
        roster = roster[:1]
    available: list[str] = []
    skipped: list[SkippedAgent] = []
    for agent_id in roster:
        state = agents.get(agent_id)
        reason = "already_offered" if agent_id in already_offered else unavailable_reason(state)
        if reason is None:
            available.append(agent_id)
        else:
            skipped.append(SkippedAgent(agent_id=agent_id, reason=reason, detail=skip_detail(name(agent_id), reason,
                                                                                              state)))
    label = STRATEGY_NAMES[route.strategy]
    flags = {"all_at_once": route.strategy == "jump_ball", "assign_at_once": route.strategy == "assign_to_agent"}
    if not available:
        why = ("the route has no agents" if not roster else skipped[0].detail if len(roster) == 1
               else "no agent available")
        return OfferPlan(line=[], skipped=skipped, rotation=rotation, **flags,
                         reason=f"{label}: {why}; the lead goes to the pool")
    pick = _PICKERS[route.strategy](_Draw(route, roster, available, rotation, random.Random(seed), name))
    return OfferPlan(line=pick.line, skipped=skipped, rotation=rotation if already_offered else pick.rotation,
                     reason=f"{label}: {pick.reason}", **flags)


@dataclass(frozen=True)
class _Draw:
    route: RouteRule
    roster: list[str]  # the route's agents, in its order, each once
    available: list[str]  # those who can be offered the lead, in the route's order
    rotation: Rotation
    rng: random.Random
    name: Namer


@dataclass(frozen=True)
class _Pick:
    line: list[str]
    rotation: Rotation
    reason: str


def rotation_queue(roster: list[str], rotation: Rotation) -> list[str]:
    """The round-robin queue for the route's current agents: the stored one without agents who left the route, and
    agents new to it at the back (they wait one round). A rotation stored without a queue starts at `cursor`."""
    if not rotation.queue:
        start = rotation.cursor % len(roster) if roster else 0
        return roster[start:] + roster[:start]
    kept = [a for a in dict.fromkeys(rotation.queue) if a in roster]
    return kept + [a for a in roster if a not in kept]


def _round_robin(draw: _Draw) -> _Pick:
    queue = rotation_queue(draw.roster, draw.rotation)
    first = next(a for a in queue if a in draw.available)
    waiting = queue[:queue.index(first)]  # skipped at their turn: they stay in front
    queue = [a for a in queue if a != first] + [first]
    at = draw.roster.index(first)
    rest = [a for a in draw.roster[at + 1:] + draw.roster[:at] if a in draw.available]
    rotation = _served(draw.rotation, first, queue=queue, cursor=draw.route.agent_ids.index(queue[0]))
    after = f"after {draw.name(draw.rotation.last_first)}" if draw.rotation.last_first else "the route's first lead"
    if waiting:
        verb = "keeps their place" if len(waiting) == 1 else "keep their places"
        after += f"; {_people([draw.name(a) for a in waiting])} skipped, {verb}"
    return _Pick([first, *rest], rotation, f"{draw.name(first)}'s turn ({after})")


def _random(draw: _Draw) -> _Pick:
    last = draw.rotation.last_first
    candidates = [a for a in draw.available if a != last] or draw.available
    first = candidates[draw.rng.randrange(len(candidates))]
    rest = [a for a in draw.available if a != first]
    draw.rng.shuffle(rest)
    plural = "" if len(candidates) == 1 else "s"
    reason = f"{draw.name(first)} drawn first from {len(candidates)} agent{plural}"
    if last is not None and last in draw.available and len(draw.available) > 1:
        reason += f" ({draw.name(last)} had the previous lead's first offer)"
    return _Pick([first, *rest], _served(draw.rotation, first), reason)


def _weighted_random(draw: _Draw) -> _Pick:
    """Drawn by weight without replacement: the first offer with the route's percentages renormalised over the
    available agents, each later place among those left. Agents without weight follow in the route's order once
    every weighted agent is drawn; with no weight at all, everyone weighs the same (a route saved without weights)."""
    given = draw.route.weights or {}
    weights = {a: max(0, given.get(a, 0)) for a in draw.available}
    if not any(weights.values()):
        weights = dict.fromkeys(draw.available, 1)
    total = sum(weights.values())
    left = list(draw.available)
    line: list[str] = []
    while any(weights[a] for a in left):
        point, reached = draw.rng.randrange(sum(weights[a] for a in left)), 0
        for agent_id in left:
            reached += weights[agent_id]
            if point < reached:
                line.append(agent_id)
                left.remove(agent_id)
                break
    line += left
    first = line[0]
    share = f"{weights[first] * 100 / total:.1f}".removesuffix(".0")
    return _Pick(line, _served(draw.rotation, first), f"{draw.name(first)} drawn first ({share}% of the weight "
                 "of the available agents)")


def _jump_ball(draw: _Draw) -> _Pick:
    count = len(draw.available)
    return _Pick(list(draw.available), draw.rotation,
                 f"offered to {count} agent{'' if count == 1 else 's'} at once; the first claim wins")


def _assign_to_agent(draw: _Draw) -> _Pick:
    agent_id = draw.available[0]
    return _Pick([agent_id], _served(draw.rotation, agent_id), f"assigned to {draw.name(agent_id)}, no claim step")


_PICKERS: dict[Strategy, Callable[[_Draw], _Pick]] = {
    "round_robin": _round_robin, "random": _random, "weighted_random": _weighted_random, "jump_ball": _jump_ball,
    "assign_to_agent": _assign_to_agent}


def _served(rotation: Rotation, first: str, **changes: object) -> Rotation:
    turns = {**rotation.turns, first: rotation.turns.get(first, 0) + 1}
    return rotation.model_copy(update={"turns": turns, "last_first": first, **changes})


def _people(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
