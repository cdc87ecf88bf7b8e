"""LeadOfferWorkflow: one routed lead offered to agents in line, each with a claim deadline, until exactly one owns it
or it goes to the unassigned pool (R-OFFER-1..4, R-POOL-1).

The line (the route's agents in offer order, each once) was decided when the lead arrived, with the rotation stored
on the route; this workflow walks it. Each offer is a row written by an activity (which re-checks that the agent is
still available: paused or at the limit since routing means skipped, with the reason) and a deadline timer.
`claim` and `pass` are updates with validators, so an agent learns at once whether they won; a claim after the
deadline, after someone else's, or by an agent not holding the offer is refused by the validator and never enters
history. Ownership itself is one conditional UPDATE in the database, the same one a pool claim uses, so a late
offer claim racing a pool claim still gives one owner. Notifications go out through their own activities and never
hold the offer up.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Literal

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.leads import LeadActivities
    from workflows.lead_types import (
        LEAD_STATUS,
        OFFERED_AGENT_ID,
        ClaimRequest,
        ClaimResult,
        DecideInput,
        LeadOfferInput,
        LeadOfferResult,
        LeadProgress,
        LeadStatus,
        NotifyInput,
        OfferOpened,
        OpenOfferInput,
        OwnershipInput,
        OwnershipResult,
        PassRequest,
        PassResult,
        PoolInput,
        offer_ran_out,
    )

BOOKKEEPING = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                          maximum_interval=timedelta(minutes=1))
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
# An alert that cannot be delivered in a few tries is given up: the offer stands in the API either way (R-OFFER-4).
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=3)
# A claim and a pass by one agent at once both passed their validators (run before either handler) and both were
# recorded; since this, the second is refused. Runs that recorded both replay as they ran.
ONE_DECISION_PER_AGENT = "one-decision-per-agent"


@workflow.defn
class LeadOfferWorkflow:
    @workflow.init
    def __init__(self, input: LeadOfferInput) -> None:
        self._input = input
        self._status: LeadStatus = "offered"
        self._current: list[str] = []
        self._deadline = workflow.now()
        self._passed: set[str] = set()
        self._expired: dict[str, datetime] = {}  # agent -> the deadline their offer ran out at (for their late claim)
        self._owner: str | None = None
        self._claiming = 0
        self._opening: list[str] = []  # agents whose offer is being written: a claim now waits for it
        self._acting: dict[str, str] = {}  # agent -> the claim or pass of theirs being recorded now
        self._offers_made = 0
        self._alerts: list[asyncio.Task[None]] = []
        self._left_in_line = len(input.line)  # agents not yet offered: a pass by the last holder sends it to the pool

    @workflow.run
    async def run(self, input: LeadOfferInput) -> LeadOfferResult:
        resume = input.resume  # a late start (issue 10, item 3): the first offer is the turn the line has reached
        position = resume.position if resume is not None else 0
        while position < len(input.line) and self._owner is None:
            agents = input.line[position:] if input.all_at_once else [input.line[position]]
            position = len(input.line) if input.all_at_once else position + 1
            self._left_in_line = len(input.line) - position
            now = workflow.now()
            deadline = resume.deadline if resume is not None else now + timedelta(seconds=input.claim_seconds)
            self._opening = list(agents)  # their offer is listed (GET /offers) once written, before this run hears
            opened: OfferOpened = await workflow.execute_activity_method(
                LeadActivities.open_offer,
                OpenOfferInput(lead_id=input.lead_id, team_id=input.team_id, route_id=input.route_id,
                               agent_ids=agents, offered_at=now, deadline=deadline, resume=resume),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING,
                summary=f"offer to {self._names(agents)} until {deadline:%H:%M:%S} UTC")
            resume, self._opening = None, []
            if opened.lead_status != "offered":
                return await self._not_offered(opened.lead_status)
            if not opened.offered:
                continue  # every agent of this offer became unavailable since routing: the next in line
            await self._hold_offer(opened.offered, deadline)
        if self._owner is not None:
            return await self._finish(LeadOfferResult(status="claimed", owner_agent_id=self._owner))
        await workflow.execute_activity_method(
            LeadActivities.to_pool,
            PoolInput(lead_id=input.lead_id, at=workflow.now(),
                      reason="no agent in line claimed it" if self._offers_made else "no agent in line was available"),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING, summary="to the unassigned pool")
        self._status = "pool"
        return await self._finish(LeadOfferResult(status="pool"))

    async def _not_offered(self, lead_status: LeadStatus | None) -> LeadOfferResult:
        """Issue 10, item 3: the lead left offer without this workflow (or is gone): nothing is offered any more."""
        self._status = lead_status or self._status
        workflow.upsert_search_attributes([LEAD_STATUS.value_set(lead_status or "gone")])
        workflow.set_current_details(f"**{self._input.lead_name}** was no longer on offer "
                                     f"({lead_status or 'the lead is gone'}): nothing offered")
        await asyncio.gather(*self._alerts)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return LeadOfferResult(status="not_offered")

    async def _hold_offer(self, agents: list[str], deadline: datetime) -> None:
        """Offer to `agents` until one claims, all pass, or the deadline passes; an open claim is always let finish."""
        self._current, self._deadline, self._passed = list(agents), deadline, set()
        self._offers_made += len(agents)
        workflow.upsert_search_attributes([OFFERED_AGENT_ID.value_set(agents), LEAD_STATUS.value_set("offered")])
        workflow.set_current_details(f"**{self._input.lead_name}** ({self._input.source}) offered to "
                                     f"{self._names(agents)} until {deadline:%Y-%m-%d %H:%M:%S} UTC"
                                     + (f" via route '{self._input.route_title}'" if self._input.route_title else ""))
        for agent_id in agents:
            self._alerts.append(asyncio.create_task(self._notify(agent_id, deadline)))
        try:
            await workflow.wait_condition(
                lambda: self._owner is not None or self._passed >= set(self._current),
                timeout=max(deadline - workflow.now(), timedelta(0)),
                timeout_summary=f"claim deadline for {self._names(agents)}")
        except TimeoutError:
            pass
        await workflow.wait_condition(lambda: self._claiming == 0)  # a claim under way decides this offer
        if self._owner is None:
            expired = [a for a in self._current if a not in self._passed]
            if expired:
                self._expired.update(dict.fromkeys(expired, self._deadline))
                await self._decide(expired, "expired")
        self._current = []

    @workflow.update
    async def claim(self, request: ClaimRequest) -> ClaimResult:
        """R-OFFER-2: the agent holding the offer claims it; the database says whether they won."""
        await self._ready(request.agent_id, "claim")
        self._claiming += 1
        try:
            outcome: OwnershipResult = await workflow.execute_activity_method(
                LeadActivities.take_ownership,
                OwnershipInput(lead_id=self._input.lead_id, agent_id=request.agent_id, at=workflow.now(),
                               how="claimed"),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING,
                summary=f"claim by {self._names([request.agent_id])}")
        finally:
            self._claiming -= 1
            self._acting.pop(request.agent_id, None)
        if not outcome.won:
            raise ApplicationError(outcome.detail, type="AlreadyClaimed")
        self._owner = request.agent_id
        others = [a for a in self._current if a != request.agent_id and a not in self._passed]
        if others:
            await self._decide(others, "withdrawn")
        return ClaimResult(lead_id=self._input.lead_id, agent_id=request.agent_id, won=True, detail=outcome.detail)

    @claim.validator
    def _claim_allowed(self, request: ClaimRequest) -> None:
        self._check_holder(request.agent_id, "claim")

    @workflow.update(name="pass")
    async def pass_offer(self, request: PassRequest) -> PassResult:
        """R-OFFER-2: the agent passes; the lead goes to the next agent in line (or, all passed, on)."""
        await self._ready(request.agent_id, "pass")
        self._claiming += 1  # the offer stays as it is until the pass is on record
        try:
            await self._decide([request.agent_id], "passed")
            self._passed.add(request.agent_id)
        finally:
            self._claiming -= 1
            self._acting.pop(request.agent_id, None)
        if self._passed >= set(self._current) and self._left_in_line == 0:
            return PassResult(lead_id=self._input.lead_id, agent_id=request.agent_id, status="pool",
                              detail="passed; no one is left in line, so the lead goes to the unassigned pool")
        return PassResult(lead_id=self._input.lead_id, agent_id=request.agent_id, detail="passed; the lead moves on")

    @pass_offer.validator
    def _pass_allowed(self, request: PassRequest) -> None:
        self._check_holder(request.agent_id, "pass on")

    @workflow.query
    def progress(self) -> LeadProgress:
        status: LeadStatus = "claimed" if self._owner else self._status
        return LeadProgress(status=status, offered_to=list(self._current), deadline=self._deadline if self._current
                            else None, offers_made=self._offers_made, owner_agent_id=self._owner)

    async def _ready(self, agent_id: str, verb: str) -> None:
        """Past the validator, before anything is recorded. An offer still being written (the agent may see it in
        the API already) is waited for, then checked as the validator would; and one agent's claim and pass at once
        decide once: the second is refused (both had passed their validators before either ran)."""
        if agent_id in self._opening:
            await workflow.wait_condition(lambda: agent_id not in self._opening)
            self._check_holder(agent_id, verb)
        first = self._acting.get(agent_id)
        if first is not None and workflow.patched(ONE_DECISION_PER_AGENT):
            raise ApplicationError(f"your {first} of this lead is being recorded; it decides your offer",
                                   type="AlreadyDeciding")
        self._acting[agent_id] = verb

    def _check_holder(self, agent_id: str, verb: str) -> None:
        """Refusals before anything is recorded: the caller gets the reason at once (409 in the API). An agent the
        offer is being written for is let through: the handler waits for the offer, then checks again."""
        if agent_id in self._opening and agent_id not in self._current:
            return
        if self._owner is not None:
            who = "you" if self._owner == agent_id else "another agent"
            raise ApplicationError(f"this lead was already claimed by {who}", type="AlreadyClaimed")
        if agent_id not in self._current and agent_id in self._expired:
            raise ApplicationError(offer_ran_out(self._expired[agent_id]), type="DeadlinePassed")
        if agent_id not in self._current:
            raise ApplicationError(f"this lead is not offered to you now; you cannot {verb} it", type="NotOffered")
        if agent_id in self._passed:
            raise ApplicationError("you already passed on this lead", type="AlreadyPassed")
        if workflow.now() >= self._deadline:
            raise ApplicationError(f"the claim deadline passed at {self._deadline:%Y-%m-%d %H:%M:%S} UTC",
                                   type="DeadlinePassed")

    async def _decide(self, agents: list[str], outcome: Literal["passed", "expired", "withdrawn"]) -> None:
        await workflow.execute_activity_method(
            LeadActivities.decide_offer,
            DecideInput(lead_id=self._input.lead_id, agent_ids=agents, outcome=outcome,
                        at=workflow.now()),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING,
            summary=f"{outcome}: {self._names(agents)}")

    async def _notify(self, agent_id: str, deadline: datetime) -> None:
        try:
            await workflow.execute_activity_method(
                LeadActivities.notify_offer,
                NotifyInput(lead_id=self._input.lead_id, team_id=self._input.team_id, agent_id=agent_id,
                            deadline=deadline, lead_name=self._input.lead_name, source=self._input.source),
                start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=NOTIFY_RETRY,
                summary=f"alert {self._names([agent_id])} by SMS and email")
        except Exception:  # noqa: BLE001 - R-OFFER-4: a failed alert never stops the offer (recorded by the activity)
            return

    async def _finish(self, result: LeadOfferResult) -> LeadOfferResult:
        await asyncio.gather(*self._alerts)
        status: LeadStatus = "claimed" if result.status == "claimed" else "pool"
        workflow.upsert_search_attributes([LEAD_STATUS.value_set(status)])
        who = self._names([result.owner_agent_id]) if result.owner_agent_id else ""
        workflow.set_current_details(f"**{self._input.lead_name}** " +
                                     (f"claimed by {who}" if who else "is in the unassigned pool"))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    def _names(self, agents: list[str]) -> str:
        return ", ".join(self._input.agent_names.get(a, a) for a in agents)
