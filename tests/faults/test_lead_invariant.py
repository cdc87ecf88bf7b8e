"""Issue 10, item 3: a lead is `offered` if and only if its offer workflow runs, whatever crashed in between, kept
without a person. A lead whose workflow start was lost gets its workflow late, at the turn its line has reached (or
the pool, every deadline passed); a workflow terminated by an operator sends its lead to the pool with the reason; a
workflow whose lead is gone or left offer ends without offering; a lead keeps exactly one owner throughout. On the
dev server with the real worker: the closed runs are found through its visibility store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.routing_models import Lead, LeadOffer, Route
from db.session import session_scope
from domain.ids import new_id
from services.lead_intake import admit, give_up_start, ingest
from services.lead_offers import start_offer
from services.leads import send_to_pool, take_ownership
from services.reconcile import reconcile_forever
from services.reconcile_leads import LeadsReconciled, reconcile_leads
from services.reconcile_lookup import GRACE, describe
from tests.factories import Harness, World, eventually, running_worker, seed
from tests.workflows.test_lead_offer import lead_row, offered_to, outcomes
from workflows.lead_offer import LeadOfferWorkflow
from workflows.lead_types import ClaimRequest, LeadOfferInput, LeadOfferResult, lead_workflow_id

Sessions = async_sessionmaker[AsyncSession]
Handle = WorkflowHandle[LeadOfferWorkflow, LeadOfferResult]
LEE = {"first_name": "Lee", "last_name": "Buyer", "email": "lee@example.com"}
NOTHING = LeadsReconciled()


async def add_route(sessions: Sessions, world: World, claim_seconds: int) -> None:
    async with session_scope(sessions) as session:
        session.add(Route(id=new_id("rt"), team_id=world.team_id, title="Everything", position=0,
                          days_of_week=list(range(7)), start_time="00:00", end_time="00:00", sources=["zillow"],
                          strategy="round_robin", agent_ids=[world.agent_id, world.rainmaker_id],
                          claim_seconds=claim_seconds))


async def lost_start(sessions: Sessions, world: World) -> tuple[str, LeadOfferInput]:
    """A lead as the real intake commits it, never started: the API killed between the commit and the start."""
    now = datetime.now(UTC)
    intake, offer = await admit(sessions, team_id=world.team_id, source="zillow", received_at=now,
                                owner_agent_id=None, contact=LEE, tag_ids=[], at=now)
    assert offer is not None
    return intake.lead_id, offer


async def arrives(sessions: Sessions, world: World, env: WorkflowEnvironment, task_queue: str) -> str:
    """A lead through the real intake, its offer workflow started on `task_queue`."""
    now = datetime.now(UTC)
    return (await ingest(sessions, env.client, task_queue, team_id=world.team_id, source="zillow", received_at=now,
                         owner_agent_id=None, contact=LEE, tag_ids=[], at=now)).lead_id


async def backdate(sessions: Sessions, lead_id: str, by: timedelta) -> list[str]:
    """The lead as if routed `by` ago; its line, in order."""
    async with session_scope(sessions) as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        lead.created_at -= by
        lead.routing_record = [{**e, "at": (datetime.fromisoformat(e["at"]) - by).isoformat()}
                               for e in lead.routing_record]
        (line,) = [e["line"] for e in lead.routing_record if e["kind"] == "line"]
        return list(line)


@dataclass
class Offering:
    h: Harness
    world: World
    lead_id: str
    handle: Handle


@asynccontextmanager
async def team_at_work(env: WorkflowEnvironment, sessions: Sessions,
                       claim_seconds: int) -> AsyncIterator[tuple[Harness, World]]:
    """A team with a round-robin route (Alex, then Rita) and the real worker running."""
    world = await seed(sessions)
    await add_route(sessions, world, claim_seconds=claim_seconds)
    async with running_worker(env, sessions) as h:
        yield h, world


@asynccontextmanager
async def on_offer(env: WorkflowEnvironment, sessions: Sessions, claim_seconds: int) -> AsyncIterator[Offering]:
    """A lead through the real intake, offered by the real worker to the first agent in line (Alex)."""
    async with team_at_work(env, sessions, claim_seconds) as (h, world):
        lead_id = await arrives(sessions, world, env, h.task_queue)
        handle = handle_of(env, lead_id)
        await eventually(lambda: offered_to(handle, [world.agent_id]))
        yield Offering(h, world, lead_id, handle)


def handle_of(env: WorkflowEnvironment, lead_id: str) -> Handle:
    return env.client.get_workflow_handle_for(LeadOfferWorkflow.run, lead_workflow_id(lead_id))


async def reconcile(env: WorkflowEnvironment, sessions: Sessions, queue: str, *, later: timedelta = timedelta(0),
                    closed_lookup: bool = True) -> LeadsReconciled:
    return await reconcile_leads(sessions, env.client, queue, now=datetime.now(UTC) + later,
                                 closed_lookup=closed_lookup)


def kinds(lead: Lead) -> list[str]:
    return [entry["kind"] for entry in lead.routing_record]


async def offers(sessions: Sessions, lead_id: str) -> list[LeadOffer]:
    async with session_scope(sessions) as session:
        return list((await session.scalars(select(LeadOffer).where(LeadOffer.lead_id == lead_id))).all())


async def claim_from_pool(sessions: Sessions, lead_id: str, agent_id: str) -> bool:
    async with session_scope(sessions) as session:
        won, _ = await take_ownership(session, lead_id, agent_id, datetime.now(UTC), "pool_claimed")
        return won


class TestIssue10Item3ALostStart:
    async def test_the_lead_gets_its_workflow_late_at_the_turn_its_line_has_reached(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        async with team_at_work(dev_server, sessions, claim_seconds=60) as (h, world):
            lead_id, _ = await lost_start(sessions, world)
            assert await reconcile(dev_server, sessions, h.task_queue) == NOTHING  # a start may still be in flight
            first, second = await backdate(sessions, lead_id, timedelta(seconds=70))  # the first turn is over
            done = await reconcile(dev_server, sessions, h.task_queue)
            assert done.started == [lead_id]
            handle = handle_of(dev_server, lead_id)
            await eventually(lambda: offered_to(handle, [second]))
            assert await outcomes(sessions, lead_id) == [(second, "open")]
            lead = await lead_row(sessions, lead_id)
            (offer,) = await offers(sessions, lead_id)
            routed = datetime.fromisoformat(next(e["at"] for e in lead.routing_record if e["kind"] == "line"))
            assert offer.deadline == routed + timedelta(seconds=120)  # the second turn's own deadline
            assert lead.offer_checked_at is not None
            missed = [e for e in lead.routing_record if e.get("reason") == "turn_passed"]
            assert [e["agent_id"] for e in missed] == [first]
            assert kinds(lead).index("resumed") < kinds(lead).index("offered")
            assert await reconcile(dev_server, sessions, h.task_queue) == NOTHING
            won = await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=second))
            assert won.won
            assert (await handle.result()).owner_agent_id == second

    async def test_a_lead_whose_every_deadline_passed_goes_to_the_pool_saying_why(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        async with team_at_work(dev_server, sessions, claim_seconds=60) as (h, world):
            lead_id, _ = await lost_start(sessions, world)
            await backdate(sessions, lead_id, timedelta(hours=1))
            assert (await reconcile(dev_server, sessions, h.task_queue)).pooled == [lead_id]
            assert await describe(dev_server.client, lead_workflow_id(lead_id)) is None  # nothing started
            lead = await lead_row(sessions, lead_id)
            assert (lead.status, lead.owner_agent_id) == ("pool", None)
            assert lead.routing_record[-1]["detail"] == ("to the unassigned pool: its offer workflow never started, "
                                                         "and every claim deadline passed before it could")
            assert await reconcile(dev_server, sessions, h.task_queue) == NOTHING
            assert await claim_from_pool(sessions, lead_id, world.agent_id)


class TestIssue10Item3AWorkflowEndedByAnOperator:
    async def test_a_terminated_offer_sends_its_lead_to_the_pool_where_one_claim_wins(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        async with on_offer(dev_server, sessions, claim_seconds=300) as o:
            await o.handle.terminate("an operator's mistake")

            async def pooled() -> bool:
                return o.lead_id in (await reconcile(dev_server, sessions, o.h.task_queue)).pooled

            await eventually(pooled, seconds=30)  # visibility lags the close by a moment
        lead = await lead_row(sessions, o.lead_id)
        assert (lead.status, lead.owner_agent_id) == ("pool", None)
        # The agent's offer notification may be recorded after the pool line (its activity outlives the terminate).
        assert pool_lines(lead) == [
            "to the unassigned pool: its offer workflow ended (terminated) while it was on offer"]
        assert await outcomes(sessions, o.lead_id) == [(o.world.agent_id, "withdrawn")]  # no open offer is left
        wins = await asyncio.gather(claim_from_pool(sessions, o.lead_id, o.world.agent_id),
                                    claim_from_pool(sessions, o.lead_id, o.world.rainmaker_id))
        assert sorted(wins) == [False, True]

    async def test_without_the_visibility_lookup_the_lead_goes_once_its_deadline_is_behind(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        """The net for a close the lookback missed (the worker down longer than it)."""
        async with on_offer(dev_server, sessions, claim_seconds=10) as o:
            await o.handle.terminate("an operator's mistake")
            assert await reconcile(dev_server, sessions, o.h.task_queue, closed_lookup=False) == NOTHING
            done = await reconcile(dev_server, sessions, o.h.task_queue, later=timedelta(seconds=60),
                                   closed_lookup=False)
            assert done.pooled == [o.lead_id]
        assert (await lead_row(sessions, o.lead_id)).status == "pool"

    async def test_a_workflow_terminated_before_its_first_offer_sends_its_lead_to_the_pool(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        async with team_at_work(dev_server, sessions, claim_seconds=300) as (h, world):
            lead_id = await arrives(sessions, world, dev_server, f"{h.task_queue}-no-worker")
            await handle_of(dev_server, lead_id).terminate("an operator's mistake")
            done = await reconcile(dev_server, sessions, h.task_queue, later=GRACE, closed_lookup=False)
            assert done.pooled == [lead_id]
        lead = await lead_row(sessions, lead_id)
        assert (lead.status, lead.offer_checked_at is not None) == ("pool", True)
        assert "ended (terminated)" in pool_lines(lead)[0]


class TestIssue10Item3AWorkflowWhoseLeadLeftOffer:
    @pytest.mark.parametrize("left", ["claimed from the pool", "gone"])
    async def test_a_start_landing_late_ends_without_offering(self, dev_server: WorkflowEnvironment,
                                                              sessions: Sessions, left: str) -> None:
        async with team_at_work(dev_server, sessions, claim_seconds=300) as (h, world):
            lead_id, offer = await lost_start(sessions, world)
            await give_up_start(sessions, lead_id, datetime.now(UTC))  # the intake took its start for failed
            if left == "gone":
                async with session_scope(sessions) as session:
                    await session.execute(delete(Lead).where(Lead.id == lead_id))
            else:
                assert await claim_from_pool(sessions, lead_id, world.rainmaker_id)
            await start_offer(dev_server.client, h.task_queue, offer)  # ... but it went through after all
            assert await handle_of(dev_server, lead_id).result() == LeadOfferResult(status="not_offered")
        assert await outcomes(sessions, lead_id) == []
        if left != "gone":
            lead = await lead_row(sessions, lead_id)
            assert (lead.status, lead.owner_agent_id) == ("claimed", world.rainmaker_id)
            assert "offered" not in kinds(lead)

    async def test_a_workflow_already_offering_a_lead_the_intake_sent_to_the_pool_is_stopped(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        async with on_offer(dev_server, sessions, claim_seconds=300) as o:
            await give_up_start(sessions, o.lead_id, datetime.now(UTC))  # its start had timed out, to the intake
            done = await reconcile(dev_server, sessions, o.h.task_queue, later=GRACE, closed_lookup=False)
            assert done.stopped == [o.lead_id]
            with pytest.raises(WorkflowFailureError):
                await o.handle.result()
            assert (await o.handle.describe()).status == WorkflowExecutionStatus.CANCELED
            assert await reconcile(dev_server, sessions, o.h.task_queue, later=GRACE) == NOTHING
        assert await outcomes(sessions, o.lead_id) == [(o.world.agent_id, "withdrawn")]
        assert (await lead_row(sessions, o.lead_id)).status == "pool"


class TestIssue10Item3OneOwner:
    async def test_moving_a_lead_to_the_pool_never_undoes_a_claim_that_won_first(self, sessions: Sessions) -> None:
        world = await seed(sessions)
        await add_route(sessions, world, claim_seconds=300)
        lead_id, _ = await lost_start(sessions, world)
        async with session_scope(sessions) as session:
            won, _ = await take_ownership(session, lead_id, world.agent_id, datetime.now(UTC), "claimed")
            assert won
        async with session_scope(sessions) as session:
            assert await send_to_pool(session, lead_id, datetime.now(UTC), "its offer workflow is gone") is None
        lead = await lead_row(sessions, lead_id)
        assert (lead.status, lead.owner_agent_id) == ("claimed", world.agent_id)


async def test_issue_10_item_3_the_workers_loop_reconciles_leads(dev_server: WorkflowEnvironment,
                                                                  sessions: Sessions) -> None:
    async with team_at_work(dev_server, sessions, claim_seconds=300) as (h, world):
        lead_id, _ = await lost_start(sessions, world)
        first, _ = await backdate(sessions, lead_id, GRACE + timedelta(seconds=5))
        loop = asyncio.create_task(reconcile_forever(sessions, dev_server.client, h.task_queue))
        try:
            async def offered() -> bool:
                return await outcomes(sessions, lead_id) == [(first, "open")]

            await eventually(offered, seconds=20)
        finally:
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop


def pool_lines(lead: Lead) -> list[str]:
    return [str(entry["detail"]) for entry in lead.routing_record
            if str(entry.get("detail", "")).startswith("to the unassigned pool")]
