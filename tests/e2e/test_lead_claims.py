"""Refused claims on the real dev server (R-OFFER-2): a second claim, a claim by an agent not holding the offer, a late
jump-ball claim and a claim after the deadline each get the reason at once, and nothing is recorded for them; a
worker restart in the middle of an offer loses nothing. (The time-skipping server answers a rejected update with
"update not found", so these run here.)"""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.factories import eventually, running_worker, seed
from tests.workflows.test_lead_offer import new_lead, offered_to, outcomes, start, third_agent
from workflows.lead_offer import LeadOfferWorkflow
from workflows.lead_types import ClaimRequest

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
