"""Shared by the routing tests: a team of named agents, a route, one lead's plan, and the measures the fairness and
statistics tests apply."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any

from domain.routing import plan_offers
from domain.routing.model import AgentState, OfferPlan, Rotation, RouteRule, Strategy

ALEX, BEA, CY, DANA, EVE = "ag_alex", "ag_bea", "ag_cy", "ag_dana", "ag_eve"
NAMES = {ALEX: "Alex Agent", BEA: "Bea Brown", CY: "Cy Cole", DANA: "Dana Smith", EVE: "Eve Evans"}
# Upper 0.1% points of the chi-square distribution by degrees of freedom: a fair draw exceeds them once in 1,000.
CHI_SQUARE_0_001 = {1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47}

History = list[tuple[frozenset[str], str | None]]  # per lead: who was available, who had the first offer


def rule(strategy: Strategy = "round_robin", agents: Collection[str] = (ALEX, BEA, CY), **changes: Any) -> RouteRule:
    fields: dict[str, Any] = {
        "id": "rt_general", "title": "General", "position": 0, "days_of_week": list(range(7)),
        "start_time": "00:00", "end_time": "00:00", "sources": ["zillow"], "strategy": strategy,
        "agent_ids": list(agents), "claim_seconds": 300}
    return RouteRule(**(fields | changes))


def team(*agent_ids: str, **changes: Any) -> dict[str, AgentState]:
    """Every agent available, each with `changes` applied to the ones named in `changes['only']` (default: none)."""
    only = changes.pop("only", ())
    return {a: AgentState(agent_id=a, **(changes if a in only else {})) for a in agent_ids}


def available_only(route: RouteRule, available: Collection[str]) -> dict[str, AgentState]:
    """The route's agents, those not in `available` with their leads paused."""
    return {a: AgentState(agent_id=a, leads_paused=a not in available) for a in route.agent_ids}


def offer(route: RouteRule, agents: Mapping[str, AgentState], rotation: Rotation | None = None, seed: int = 0,
          **extra: Any) -> OfferPlan:
    return plan_offers(route, agents, rotation or Rotation(), seed=seed, **({"names": NAMES} | extra))


def chi_square(observed: Counter[str], expected_share: Mapping[str, float]) -> float:
    total = sum(observed.values())
    return sum((observed[a] - total * share) ** 2 / (total * share) for a, share in expected_share.items())


def widest_gap(history: History, a: str, b: str) -> int:
    """How many more first offers one of `a`, `b` got than the other over any run of consecutive leads during which
    both were available: within each such run, the range of the running difference of their first offers."""
    widest, run = 0, [0]
    for available, first in history:
        if a in available and b in available:
            run.append(run[-1] + (first == a) - (first == b))
            widest = max(widest, max(run) - min(run))
        else:
            run = [0]
    return widest


def unequal_stretches(history: History) -> list[tuple[frozenset[str], Counter[str]]]:
    """Runs of consecutive leads with the same agents available (k of them, m leads) in which an agent's first
    offers were not m // k or m // k + 1 — the spec's "equal share", where it is defined without doubt."""
    out: list[tuple[frozenset[str], Counter[str]]] = []
    start = 0
    for end in range(1, len(history) + 1):
        if end < len(history) and history[end][0] == history[start][0]:
            continue
        available = history[start][0]
        firsts = Counter(first for _, first in history[start:end] if first is not None)
        if available:
            low = (end - start) // len(available)
            if any(not low <= firsts[a] <= low + 1 for a in available):
                out.append((available, firsts))
        start = end
    return out
