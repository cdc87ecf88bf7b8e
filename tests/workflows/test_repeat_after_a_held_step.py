"""R-PLAN-7 on the time-skipping server: a pass whose last step was held by its window restarts on the last day's
date, not on the date the held step went out."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from db.models import Enrollment, Message
from domain.schedule import ScheduleContext, preview
from domain.windows import spread_offset
from tests.factories import add_plan, email, next_local, plan_doc, run_histories, running_worker, seed, text

Sessions = async_sessionmaker[AsyncSession]


class TestRPlan7RepeatAfterAHeldStep:
    async def test_pass_two_keeps_the_last_days_date_when_the_last_text_was_held_overnight(
            self, env: WorkflowEnvironment, sessions: Sessions) -> None:
        world = await seed(sessions)
        definition = plan_doc((0, [email("Welcome", id="E")]), (1, [text("Checking in", id="T")]),
                              repeat={"times": 1, "delay_days": 0})
        plan_id = await add_plan(sessions, world, definition)
        async with running_worker(env, sessions) as h:
            start = await next_local(h, 20)
            await h.advance_to(start)
            handle = await h.enroll(plan_id, world.contact_id)
            result = await h.finish(handle)
            sent = [(m.step_id, m.created_at) for m in await h.rows(Message)]
            (enrollment,) = await h.rows(Enrollment)
            runs = await run_histories(env, handle.id)

        def held_to(days_later: int) -> datetime:
            """R-TXT-3: a text due at 20:00 goes the next morning at 10:00 Central plus the enrollment's spread."""
            return (start + timedelta(days=days_later)).replace(hour=10) + spread_offset(handle.id)

        enrolled = enrollment.started_at  # 20:00 and the few milliseconds the test server moved on
        assert enrolled - start < timedelta(seconds=1)
        assert (result.status, result.repeat) == ("completed", 1)
        assert sent == [
            ("E", enrolled),  # pass 1, day 1: at once
            ("T", held_to(2)),  # pass 1, day 2 at 20:00: held to the next morning
            # Pass 2 starts on day 2's date plus 0 days at 20:00, before the held text went: its email goes right
            # after the text (steps run in order), and its day 2 is the plan's day 3, not day 4.
            ("E", held_to(2)),
            ("T", held_to(3)),
        ]
        assert sent == [(s.step_id, s.fire_at) for s in preview(definition, enrolled, ScheduleContext(
            spread_key=handle.id))]  # the preview says what ran
        assert len(runs) == 2  # continue-as-new at the repeat boundary
