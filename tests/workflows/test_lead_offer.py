"""The lead-offer workflow on the time-skipping server (R-OFFER-1..4, R-POOL-1): pass and deadline move the lead to
the next agent, the last one to the pool; an unclaimed jump ball goes to the pool; an agent unavailable since routing
is skipped with the reason. Refused claims and a worker restart mid-offer are proven on the dev server
(`tests/e2e/test_lead_claims.py`): the time-skipping server answers a rejected update with "update not found"
instead of the rejection, and holds an update sent after a worker restart."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from db.models import Agent, Contact
from db.routing_models import AgentRouting, Lead, LeadOffer
from db.session import session_scope
from domain.ids import new_id
from tests.factories import World, eventually, running_worker, seed
from workflows.lead_offer import LeadOfferWorkflow
from workflows.lead_types import (
    ClaimRequest,
    LeadOfferInput,
    LeadOfferResult,
    PassRequest,
    PassResult,
    lead_workflow_id,
)

Sessions = async_sessionmaker[AsyncSession]
Handle = WorkflowHandle[LeadOfferWorkflow, LeadOfferResult]
CLAIM_SECONDS = 300


async def third_agent(sessions: Sessions, world: World) -> str:
    async with session_scope(sessions) as session:
        agent = Agent(id=new_id("ag"), team_id=world.team_id, first_name="Sam", last_name="Third",
                      email="sam@example.com", role="member", permission="basic", phone="+15125550102")
        session.add(agent)
    return agent.id


async def new_lead(sessions: Sessions, world: World) -> str:
    async with session_scope(sessions) as session:
        contact = await session.get(Contact, world.contact_id)
        assert contact is not None
        contact.assignee_id = None
        lead = Lead(id=new_id("ld"), team_id=world.team_id, contact_id=world.contact_id, source="zillow",
                    received_at=contact.created_at, status="offered", routing_record=[], tag_ids=[])
        session.add(lead)
    return lead.id


async def start(env: WorkflowEnvironment, task_queue: str, world: World, lead_id: str, line: list[str],
                all_at_once: bool = False, claim_seconds: int = CLAIM_SECONDS) -> Handle:
    return await env.client.start_workflow(
        LeadOfferWorkflow.run,
        LeadOfferInput(lead_id=lead_id, team_id=world.team_id, route_id="rt_test", route_title="Weekdays",
                       line=line, all_at_once=all_at_once, claim_seconds=claim_seconds, lead_name="Dana Smith",
                       source="zillow"),
        id=lead_workflow_id(lead_id) + uuid.uuid4().hex[:6], task_queue=task_queue)


async def offered_to(handle: Handle, agents: list[str]) -> bool:
    return (await handle.query(LeadOfferWorkflow.progress)).offered_to == agents


async def outcomes(sessions: Sessions, lead_id: str) -> list[tuple[str, str]]:
    """Each offer's agent and outcome, in the order they were offered."""
    async with session_scope(sessions) as session:
        offers = (await session.scalars(select(LeadOffer).where(LeadOffer.lead_id == lead_id)
                                        .order_by(LeadOffer.offered_at, LeadOffer.id))).all()
        return [(o.agent_id, o.outcome) for o in offers]


async def lead_row(sessions: Sessions, lead_id: str) -> Lead:
    async with session_scope(sessions) as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return lead


class TestROffer2Escalation:
    async def test_a_pass_offers_the_lead_to_the_next_agent_and_a_claim_wins_it(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        lead_id = await new_lead(sessions, world)
        async with running_worker(env, sessions) as h:
            handle = await start(env, h.task_queue, world, lead_id, [world.rainmaker_id, world.agent_id])
            await eventually(lambda: offered_to(handle, [world.rainmaker_id]))
            passed = await handle.execute_update("pass", PassRequest(agent_id=world.rainmaker_id),
                                                 result_type=PassResult)
            assert passed.agent_id == world.rainmaker_id
            await eventually(lambda: offered_to(handle, [world.agent_id]))
            won = await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.agent_id))
            assert won.won
            assert (await handle.result()) == LeadOfferResult(status="claimed", owner_agent_id=world.agent_id)
        assert await outcomes(sessions, lead_id) == [(world.rainmaker_id, "passed"), (world.agent_id, "claimed")]
        lead = await lead_row(sessions, lead_id)
        assert (lead.status, lead.owner_agent_id, lead.owned_how) == ("claimed", world.agent_id, "claimed")
        async with session_scope(sessions) as session:
            contact = await session.get(Contact, world.contact_id)
            assert contact is not None
            assert contact.assignee_id == world.agent_id  # the lead is now that agent's contact
        kinds = [entry["kind"] for entry in lead.routing_record]
        assert [k for k in kinds if k != "alerted"] == ["offered", "passed", "offered", "owned"]
        assert kinds.count("alerted") == 2  # each offered agent was alerted (R-OFFER-4)

    async def test_a_missed_deadline_moves_on_and_the_last_agent_missing_it_sends_the_lead_to_the_pool(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        lead_id = await new_lead(sessions, world)
        async with running_worker(env, sessions) as h:
            handle = await start(env, h.task_queue, world, lead_id, [world.rainmaker_id, world.agent_id])
            await eventually(lambda: offered_to(handle, [world.rainmaker_id]))
            await env.sleep(timedelta(seconds=CLAIM_SECONDS + 1))
            await eventually(lambda: offered_to(handle, [world.agent_id]))
            await env.sleep(timedelta(seconds=CLAIM_SECONDS + 1))
            assert (await handle.result()).status == "pool"
        assert sorted(await outcomes(sessions, lead_id)) == sorted([(world.rainmaker_id, "expired"),
                                                                    (world.agent_id, "expired")])
        lead = await lead_row(sessions, lead_id)
        assert (lead.status, lead.owner_agent_id) == ("pool", None)
        assert lead.routing_record[-1]["kind"] == "pool"


class TestRRoute6JumpBall:
    async def test_at_the_deadline_an_unclaimed_jump_ball_goes_to_the_pool(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        lead_id = await new_lead(sessions, world)
        async with running_worker(env, sessions) as h:
            handle = await start(env, h.task_queue, world, lead_id, [world.rainmaker_id, world.agent_id],
                                 all_at_once=True)
            await eventually(lambda: offered_to(handle, [world.rainmaker_id, world.agent_id]))
            await env.sleep(timedelta(seconds=CLAIM_SECONDS + 1))
            assert (await handle.result()).status == "pool"


class TestROffer3AvailabilityAtOfferTime:
    async def test_an_agent_paused_since_routing_is_skipped_with_the_reason(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        lead_id = await new_lead(sessions, world)
        async with session_scope(sessions) as session:
            session.add(AgentRouting(agent_id=world.rainmaker_id, team_id=world.team_id, leads_paused=True))
        async with running_worker(env, sessions) as h:
            handle = await start(env, h.task_queue, world, lead_id, [world.rainmaker_id, world.agent_id])
            await eventually(lambda: offered_to(handle, [world.agent_id]))
            await handle.terminate("test over")
        skipped = [e for e in (await lead_row(sessions, lead_id)).routing_record if e["kind"] == "skipped"]
        assert [(e["agent_id"], e["detail"]) for e in skipped] == [(world.rainmaker_id, "Rita Rain's leads are paused")]
