"""A route's business limits (R-ROUTE-1, R-ROUTE-6, R-OFFER-4), each refusal naming the field and the rule.

Everything wrong is reported at once, like a plan's violations (`domain.validation.Violation`), so the API answers
one 422 an editor can show field by field, and routing itself never meets a route it cannot read.
"""

from __future__ import annotations

from domain.routing.matching import normalise_source
from domain.routing.model import MAX_CLAIM_SECONDS, MIN_CLAIM_SECONDS, RouteRule
from domain.validation import Violation

MAX_TITLE = 30  # R-ROUTE-1


def route_problems(rule: RouteRule) -> list[Violation]:
    """Every limit `rule` breaks; empty when it can be saved."""
    out: list[Violation] = []

    def add(field: str, code: str, message: str) -> None:
        out.append(Violation(field, code, message))

    title = rule.title.strip()
    if not title:
        add("title", "R-ROUTE-1", "a route needs a title")
    elif len(title) > MAX_TITLE:
        add("title", "R-ROUTE-1", f"a route's title is at most {MAX_TITLE} characters ({len(title)} given)")
    if not rule.days_of_week:
        add("days_of_week", "R-ROUTE-1", "a route needs at least one day of the week")
    elif any(d not in range(7) for d in rule.days_of_week) or len(set(rule.days_of_week)) < len(rule.days_of_week):
        add("days_of_week", "R-ROUTE-1", "days of the week are 0 (Monday) to 6 (Sunday), each at most once")
    sources = [normalise_source(s) for s in rule.sources]
    if not any(sources):
        add("sources", "R-ROUTE-1", "a route needs at least one lead source")
    elif not all(sources) or len(set(sources)) < len(sources):
        add("sources", "R-ROUTE-1", "each lead source is named, and only once (sources ignore case)")
    if rule.date_from is not None and rule.date_to is not None and rule.date_from > rule.date_to:
        add("date_to", "R-ROUTE-1", f"the date range ends ({rule.date_to}) before it starts ({rule.date_from})")
    out += _agent_problems(rule)
    if not MIN_CLAIM_SECONDS <= rule.claim_seconds <= MAX_CLAIM_SECONDS:
        add("claim_seconds", "R-OFFER-4", f"the claim deadline is {MIN_CLAIM_SECONDS} seconds to 30 days "
            f"({MAX_CLAIM_SECONDS:,} seconds); {rule.claim_seconds:,} given")
    return out


def _agent_problems(rule: RouteRule) -> list[Violation]:
    """R-ROUTE-6: a strategy needs agents (assign to agent exactly one), each once; weights only for weighted
    random, where they cover exactly the route's agents, 1–100 each, and sum to 100."""
    out: list[Violation] = []
    if not rule.agent_ids:
        out.append(Violation("agent_ids", "R-ROUTE-6", "a route needs at least one agent"))
    elif rule.strategy == "assign_to_agent" and len(rule.agent_ids) != 1:
        out.append(Violation("agent_ids", "R-ROUTE-6", f"assign to agent takes exactly one agent "
                             f"({len(rule.agent_ids)} given)"))
    elif len(set(rule.agent_ids)) < len(rule.agent_ids):
        out.append(Violation("agent_ids", "R-ROUTE-6", "each agent is on a route once"))
    if rule.strategy != "weighted_random":
        if rule.weights is not None:
            out.append(Violation("weights", "R-ROUTE-6", "weights are only for the weighted random strategy"))
        return out
    weights = rule.weights or {}
    if not weights:
        out.append(Violation("weights", "R-ROUTE-6", "weighted random needs a percentage for each agent"))
        return out
    missing = [a for a in dict.fromkeys(rule.agent_ids) if a not in weights]
    extra = [a for a in weights if a not in rule.agent_ids]
    if missing or extra:
        parts = ([f"missing for {', '.join(missing)}"] if missing else []) + (
            [f"given for {', '.join(extra)}, not on the route"] if extra else [])
        out.append(Violation("weights", "R-ROUTE-6", f"weights cover exactly the route's agents: {'; '.join(parts)}"))
    out += [Violation(f"weights.{a}", "R-ROUTE-6", f"a weight is a percentage from 1 to 100 ({w} given)")
            for a, w in weights.items() if not 1 <= w <= 100]
    if sum(weights.values()) != 100:
        out.append(Violation("weights", "R-ROUTE-6", f"weights are percentages summing to 100 "
                             f"({sum(weights.values())} given)"))
    return out
