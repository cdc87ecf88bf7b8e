"""Where a lead's offers pick up when its offer workflow starts late (issue 10, item 3): the API committed the lead
`offered` and died before starting the workflow, and the reconciler found it a minute later.

The lead keeps the schedule it would have had: the agents in line take turns of one claim deadline each from the
instant it was routed, so the agent whose turn it is now is offered the lead until that turn's own deadline, the
agents whose turns passed are recorded as missed, and a lead whose every turn has passed goes to the pool. A turn
with less than the shortest claim deadline left (R-OFFER-4) counts as passed: an agent is never alerted about an
offer they could not act on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.routing.model import MIN_CLAIM_SECONDS, _Frozen

MIN_LEFT = timedelta(seconds=MIN_CLAIM_SECONDS)


class OfferResume(_Frozen):
    """The first offer of a late start: the position in line, its deadline, and whose turns passed unoffered."""

    position: int
    deadline: datetime
    missed: list[str]
    late_seconds: int


def resume_offers(line: list[str], *, all_at_once: bool, claim_seconds: int, routed_at: datetime,
                  now: datetime) -> OfferResume | None:
    """None when every turn has passed (the lead belongs in the pool)."""
    turn = timedelta(seconds=claim_seconds)
    turns = 1 if all_at_once else len(line)
    late = max(now - routed_at, timedelta(0))
    position = (late + MIN_LEFT) // turn
    if position >= turns:
        return None
    return OfferResume(position=position, deadline=routed_at + turn * (position + 1), missed=line[:position],
                       late_seconds=int(late.total_seconds()))
