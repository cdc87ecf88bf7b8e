"""An active enrollment row exists if and only if its workflow runs, whatever crashed in between (R-ENR-1 kept
without a person): a row whose workflow start was lost gets its workflow; a workflow closed without ending its row
(terminated by an operator) ends the row, so the contact can be enrolled again; a workflow whose row ended before
it ran ends itself."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from db.models import Enrollment, Plan, TimelineEvent
from db.session import session_scope
from domain.ids import new_id
from services.enrollments import ENROLLMENT_MEMO, start_workflow
from services.reconcile import reconcile_enrollments
from services.reconcile_lookup import GRACE
from tests.factories import Harness, add_plan, eventually, plan_doc, running_worker, seed, task
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import enrollment_workflow_id

Sessions = async_sessionmaker[AsyncSession]


async def lost_start(h: Harness, plan_id: str, contact_id: str, team_id: str, *, status: str = "active") -> str:
    """The row as the API commits it, with no workflow: the API died before starting one."""
    now = await h.env.get_current_time()
    async with session_scope(h.sessions) as session:
        plan = await session.get(Plan, plan_id)
        assert plan is not None
        row = Enrollment(id=new_id("en"), team_id=team_id, plan_id=plan_id, contact_id=contact_id,
                         plan_version=plan.current_version, workflow_id=enrollment_workflow_id(plan_id, contact_id),
                         status=status, source="manual", started_at=now - GRACE - timedelta(seconds=1),
                         end_reason=None if status == "active" else "start_failed")
        session.add(row)
    return row.id


async def row(h: Harness, enrollment_id: str) -> Enrollment:
    (found,) = await h.rows(Enrollment, id=enrollment_id)
    assert isinstance(found, Enrollment)
    return found


class TestALostStart:
    async def test_the_row_gets_its_workflow_which_confirms_it(self, env: WorkflowEnvironment,
                                                               sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task(id="T")]), (30, [task("Later", id="L")])))
        async with running_worker(env, sessions) as h:
            enrollment_id = await lost_start(h, plan_id, world.contact_id, world.team_id)
            now = await env.get_current_time()
            done = await reconcile_enrollments(sessions, env.client, h.task_queue, now=now, closed_lookup=False)
            assert done.started == [enrollment_id]
            handle = env.client.get_workflow_handle_for(EnrollmentWorkflow.run,
                                                        enrollment_workflow_id(plan_id, world.contact_id))
            assert (await (await handle.describe()).memo())[ENROLLMENT_MEMO] == enrollment_id

            async def confirmed() -> bool:
                return (await row(h, enrollment_id)).confirmed_at is not None

            await eventually(confirmed)
            again = await reconcile_enrollments(sessions, env.client, h.task_queue, now=now, closed_lookup=False)
            assert (again.started, again.confirmed, again.ended) == ([], [], [])
            assert (await row(h, enrollment_id)).status == "active"

    async def test_a_row_younger_than_the_grace_is_left_to_its_start_in_flight(self, env: WorkflowEnvironment,
                                                                              sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task(id="T")])))
        async with running_worker(env, sessions) as h:
            await lost_start(h, plan_id, world.contact_id, world.team_id)
            early = await env.get_current_time() - GRACE
            done = await reconcile_enrollments(sessions, env.client, h.task_queue, now=early, closed_lookup=False)
            assert done.started == []


class TestAWorkflowWithoutItsRow:
    async def test_a_workflow_whose_row_had_already_ended_ends_itself(self, env: WorkflowEnvironment,
                                                                     sessions: Sessions) -> None:
        """The API gave up on a start (it answered an error and ended the row) that went through after all."""
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task(id="T")])))
        async with running_worker(env, sessions) as h:
            enrollment_id = await lost_start(h, plan_id, world.contact_id, world.team_id, status="removed")
            async with session_scope(sessions) as session:
                ended = await session.get(Enrollment, enrollment_id)
                plan = await session.get(Plan, plan_id)
                assert ended is not None
                assert plan is not None
                await start_workflow(env.client, h.task_queue, ended, plan, "Dana Smith")
            handle = env.client.get_workflow_handle_for(EnrollmentWorkflow.run, ended.workflow_id)
            assert (await h.finish(handle)).reason == "enrollment_ended"
            assert await h.rows(TimelineEvent, kind="step_executed") == []
            assert (await row(h, enrollment_id)).end_reason == "start_failed"  # the row keeps why it ended


async def test_a_terminated_workflow_ends_its_row_and_the_contact_can_enroll_again(
        dev_server: WorkflowEnvironment, sessions: Sessions) -> None:
    """On the dev server: the closed run is found through visibility."""
    world = await seed(sessions)
    plan_id = await add_plan(sessions, world, plan_doc((0, [task(id="T")]), (30, [task("Later", id="L")])))
    async with running_worker(dev_server, sessions) as h:
        handle = await h.enroll(plan_id, world.contact_id)
        (enrolled,) = await h.rows(Enrollment)

        async def confirmed() -> bool:
            return (await row(h, enrolled.id)).confirmed_at is not None

        await eventually(confirmed)
        await handle.terminate("an operator's mistake")

        async def reconciled() -> bool:
            now = await dev_server.get_current_time()
            done = await reconcile_enrollments(sessions, dev_server.client, h.task_queue, now=now)
            return enrolled.id in done.ended or (await row(h, enrolled.id)).status != "active"

        await eventually(reconciled, seconds=30)  # visibility lags the close by a moment
        ended = await row(h, enrolled.id)
        assert (ended.status, ended.end_reason) == ("removed", "workflow_terminated")
        (event,) = await h.rows(TimelineEvent, kind="removed")
        assert "its workflow ended without finishing (terminated)" in event.detail
        again = await h.enroll(plan_id, world.contact_id)
        assert (await again.describe()).status is not None
