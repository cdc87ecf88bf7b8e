"""Changes while a contact is enrolled: the row records the version it follows (R-PLAN-9), a reordered plan keeps
the contact's place (R-PLAN-9), and a new contact time zone counts from the next step on (R-TXT-3)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from config import SAMPLES_DIR
from db.models import Contact, Enrollment, Message, Plan, Task, TimelineEvent
from db.session import session_scope
from domain.plan import PlanDefinition
from domain.schedule import preview
from services.plans import current_definition, save_version, schedule_context
from tests.factories import (
    CT,
    add_plan,
    eventually,
    fires_next_at,
    plan_doc,
    running_worker,
    seed,
    task,
    text,
    waiting_for,
)
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import ContextChanged, PlanChanged, enrollment_workflow_id

Sessions = async_sessionmaker[AsyncSession]


async def edit(sessions: Sessions, plan_id: str, *days: tuple[int, list[dict[str, str]]]) -> None:
    async with session_scope(sessions) as session:
        plan = await session.get(Plan, plan_id)
        assert plan is not None
        await save_version(session, plan, plan_doc(*days))


class TestRPlan9VersionsAndPlaces:
    async def test_the_enrollment_row_records_the_version_the_contact_now_follows(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task("a", id="A")]), (3, [task("b", id="B")])))
        async with running_worker(env, sessions) as h:
            await h.advance_to(datetime(2027, 2, 3, 11, tzinfo=CT))
            handle = await h.enroll(plan_id, world.contact_id)
            await eventually(lambda: waiting_for(handle, "B"))
            await edit(sessions, plan_id, (0, [task("a", id="A")]), (3, [task("b, edited", id="B")]))
            await handle.signal(EnrollmentWorkflow.plan_changed, PlanChanged(version=2))

            async def row_on_version_2() -> bool:
                (row,) = await h.rows(Enrollment)
                return bool(row.plan_version == 2)

            await eventually(row_on_version_2)
            await h.finish(handle)
        assert [t.name for t in await h.rows(Task)] == ["a", "b, edited"]

    async def test_moving_a_step_already_run_to_the_end_does_not_skip_the_rest(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc(
            (0, [task("a", id="A")]), (1, [task("b", id="B")]), (1, [task("c", id="C")])))
        async with running_worker(env, sessions) as h:
            await h.advance_to(datetime(2027, 2, 3, 11, tzinfo=CT))
            handle = await h.enroll(plan_id, world.contact_id)
            await eventually(lambda: waiting_for(handle, "B"))
            await edit(sessions, plan_id, (0, [task("b", id="B")]), (1, [task("c", id="C")]),
                       (1, [task("a", id="A")]))
            await handle.signal(EnrollmentWorkflow.plan_changed, PlanChanged(version=2))
            await h.finish(handle)
        # The contact's place is B, the step it waited for: B and C run, A (done) does not run again.
        assert [t.name for t in await h.rows(Task)] == ["a", "b", "c"]


class TestRTxt3ContactTimeZoneChanges:
    START = datetime(2027, 2, 3, 11, tzinfo=CT)
    # Tokyo's 08:00 is 17:00 Central in February: the earliest instant both windows allow on day two.
    DAY_TWO_IN_TOKYO_HOURS = (START + timedelta(days=1)).replace(hour=17)

    async def _moved_to_tokyo(self, env: WorkflowEnvironment, sessions: Sessions, *, tell_workflow: bool) -> datetime:
        """Enroll at 11:00 Central, move the contact to Tokyo before day two's text; when that text was sent."""
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [task("first")]), (1, [text("Day two", id="T")])))
        async with running_worker(env, sessions) as h:
            await h.advance_to(self.START)
            handle = await h.enroll(plan_id, world.contact_id)
            await eventually(lambda: fires_next_at(handle, self.START + timedelta(days=1)))
            async with session_scope(sessions) as session:
                contact = await session.get(Contact, world.contact_id)
                assert contact is not None
                contact.time_zone = "Asia/Tokyo"  # 11:00 Central is 02:00 in Tokyo: quiet hours
            if tell_workflow:
                await handle.signal(EnrollmentWorkflow.context_changed, ContextChanged(what="contact time zone"))
                await eventually(lambda: fires_next_at(handle, self.DAY_TWO_IN_TOKYO_HOURS))
            await h.finish(handle)
        (sent,) = await h.rows(Message)
        sent_at: datetime = sent.created_at.astimezone(CT)
        return sent_at

    async def test_a_new_contact_zone_is_used_from_the_next_step_on(self, env: WorkflowEnvironment,
                                                                    sessions: Sessions) -> None:
        assert await self._moved_to_tokyo(env, sessions, tell_workflow=True) == self.DAY_TWO_IN_TOKYO_HOURS

    async def test_an_attempt_checks_the_contacts_zone_itself_when_no_one_told_the_workflow(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        assert await self._moved_to_tokyo(env, sessions, tell_workflow=False) == self.DAY_TWO_IN_TOKYO_HOURS


class TestRPlan4ThePreviewIsWhatRuns:
    async def test_the_workflow_runs_every_step_of_a_sample_plan_at_its_previewed_instant(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        # A Pacific contact enrolled at 20:05 Central: held texts, tasks held to 08:00, slots on later days.
        world = await seed(sessions, contact={"time_zone": "America/Los_Angeles"})
        definition = PlanDefinition.model_validate_json((SAMPLES_DIR / "8x8-new-lead.json").read_text())
        plan_id = await add_plan(sessions, world, definition)
        async with session_scope(sessions) as session:
            plan = await session.get(Plan, plan_id)
            assert plan is not None
            stored = await current_definition(session, plan)
            ctx = await schedule_context(session, plan, contact_time_zone="America/Los_Angeles",
                                         spread_key=enrollment_workflow_id(plan_id, world.contact_id))
        start = datetime(2027, 2, 3, 20, 5, tzinfo=CT)
        expected = [(s.step_id, s.fire_at) for s in preview(stored, start, ctx)]
        async with running_worker(env, sessions) as h:
            await h.advance_to(start)
            await h.finish(await h.enroll(plan_id, world.contact_id))
            events = [e for e in await h.rows(TimelineEvent, contact_id=world.contact_id)
                      if e.kind in ("step_executed", "step_skipped", "step_failed")]
        assert [(e.step_id, e.at) for e in events] == expected
        assert len(expected) == 10
