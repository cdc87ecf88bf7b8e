"""Refused claims on the real dev server (R-OFFER-2): a second claim, a claim by an agent not holding the offer, a late
jump-ball claim and a claim after the deadline each get the reason at once, and nothing is recorded for them; a
worker restart in the middle of an offer loses nothing. (The time-skipping server answers a rejected update with
"update not found", so these run here.)"""

from __future__ import annotations

import asyncio
from functools import partial

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.factories import eventually, running_worker, seed
from tests.workflows.test_lead_offer import new_lead, offered_to, outcomes, start, third_agent
from workflows.lead_offer import LeadOfferWorkflow
from workflows.lead_types import ClaimRequest, PassRequest

Sessions = async_sessionmaker[AsyncSession]


def refusal(err: BaseException) -> str:
    """Why a late claim was refused: "already claimed by …" from the workflow's validator, or, from the server,
    "already completed" (the workflow has ended) or "aborted by closing workflow" (it was ending)."""
    text = str(err.cause) if isinstance(err, WorkflowUpdateFailedError) else str(err)
    return "already" if "closing workflow" in text else text


class TestROffer2OneOwner:
    async def test_a_second_claim_and_a_claim_by_an_agent_not_offered_are_refused_with_the_reason(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        sam = await third_agent(sessions, world)
        lead_id = await new_lead(sessions, world)
        async with running_worker(dev_server, sessions) as h:
            handle = await start(dev_server, h.task_queue, world, lead_id, [world.agent_id, world.rainmaker_id])
            await eventually(lambda: offered_to(handle, [world.agent_id]))
            with pytest.raises(WorkflowUpdateFailedError) as stranger:
                await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=sam))
            assert "not offered to you" in str(stranger.value.cause)
            assert (await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.agent_id))).won
            # Claimed: refused by the validator while the workflow finishes, or by the server once it has ended
            # (the API then answers from the lead's row).
            with pytest.raises((WorkflowUpdateFailedError, RPCError)) as again:
                await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.agent_id))
            assert "already" in refusal(again.value)
            assert (await handle.result()).owner_agent_id == world.agent_id
        assert await outcomes(sessions, lead_id) == [(world.agent_id, "claimed")]  # the rainmaker was never offered

    async def test_a_claim_after_the_deadline_is_refused(self, dev_server: WorkflowEnvironment,
                                                         sessions: Sessions) -> None:
        world = await seed(sessions)
        lead_id = await new_lead(sessions, world)
        async with running_worker(dev_server, sessions) as h:
            handle = await start(dev_server, h.task_queue, world, lead_id, [world.rainmaker_id, world.agent_id],
                                 claim_seconds=10)
            await eventually(lambda: offered_to(handle, [world.rainmaker_id]))
            await eventually(lambda: offered_to(handle, [world.agent_id]), seconds=20)  # 10 s later, the next one
            with pytest.raises(WorkflowUpdateFailedError) as late:
                await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.rainmaker_id))
            assert "your offer of this lead ran out at its claim deadline" in str(late.value.cause)
            assert (await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.agent_id))).won
        assert await outcomes(sessions, lead_id) == [(world.rainmaker_id, "expired"), (world.agent_id, "claimed")]


class TestRRoute6JumpBall:
    async def test_every_agent_is_offered_at_once_and_the_first_claim_wins(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        sam = await third_agent(sessions, world)
        lead_id = await new_lead(sessions, world)
        everyone = [world.rainmaker_id, world.agent_id, sam]
        async with running_worker(dev_server, sessions) as h:
            handle = await start(dev_server, h.task_queue, world, lead_id, everyone, all_at_once=True)
            await eventually(lambda: offered_to(handle, everyone))
            assert (await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=sam))).won
            with pytest.raises((WorkflowUpdateFailedError, RPCError)) as late:
                await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.agent_id))
            assert "already" in refusal(late.value)
            assert (await handle.result()).owner_agent_id == sam
        assert dict(await outcomes(sessions, lead_id)) == {world.rainmaker_id: "withdrawn",
                                                           world.agent_id: "withdrawn", sam: "claimed"}


class TestDurability:
    async def test_a_worker_restart_in_the_middle_of_an_offer_loses_nothing(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        lead_id = await new_lead(sessions, world)
        async with running_worker(dev_server, sessions) as h:
            handle = await start(dev_server, h.task_queue, world, lead_id, [world.agent_id, world.rainmaker_id])
            await eventually(lambda: offered_to(handle, [world.agent_id]))
            queue = h.task_queue
        # The first worker is gone; a new one on the same queue picks the offer up where it was.
        async with running_worker(dev_server, sessions, task_queue=queue):
            assert (await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.agent_id))).won
            assert (await handle.result()).owner_agent_id == world.agent_id
        assert await outcomes(sessions, lead_id) == [(world.agent_id, "claimed")]


async def offer_written(sessions: Sessions, lead_id: str, agent_id: str) -> bool:
    """The agent's offer is in the database, so `GET /offers` lists it, however far the workflow has got."""
    return any(agent == agent_id and outcome == "open" for agent, outcome in await outcomes(sessions, lead_id))


class TestROffer2AClaimTheMomentTheOfferIsListed:
    async def test_a_claim_sent_as_soon_as_the_offer_is_listed_wins(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        """The offer is listed once its row is written, a moment before the workflow hears so; a claim in that
        moment waits for it instead of being refused as "not offered to you"."""
        world = await seed(sessions)
        async with running_worker(dev_server, sessions) as h:
            for _ in range(3):
                lead_id = await new_lead(sessions, world)
                handle = await start(dev_server, h.task_queue, world, lead_id, [world.agent_id])
                await eventually(partial(offer_written, sessions, lead_id, world.agent_id), interval=0.005)
                won = await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.agent_id))
                assert won.won
                assert await outcomes(sessions, lead_id) == [(world.agent_id, "claimed")]


class TestROffer2OneDecisionPerAgent:
    async def test_a_claim_and_a_pass_sent_at_once_by_the_offered_agent_decide_once(
            self, dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        async with running_worker(dev_server, sessions) as h:
            for _ in range(3):
                lead_id = await new_lead(sessions, world)
                handle = await start(dev_server, h.task_queue, world, lead_id, [world.agent_id, world.rainmaker_id])
                await eventually(partial(offered_to, handle, [world.agent_id]))
                claimed, passed = await asyncio.gather(
                    handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.agent_id)),
                    handle.execute_update(LeadOfferWorkflow.pass_offer, PassRequest(agent_id=world.agent_id)),
                    return_exceptions=True)
                answered = [r for r in (claimed, passed) if not isinstance(r, BaseException)]
                assert len(answered) == 1, (claimed, passed)
                mine = dict(await outcomes(sessions, lead_id))[world.agent_id]
                assert mine == ("claimed" if answered[0] is claimed else "passed")
                if mine == "passed":
                    await handle.execute_update(LeadOfferWorkflow.claim, ClaimRequest(agent_id=world.rainmaker_id))
                await handle.result()
