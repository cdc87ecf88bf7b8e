"""EnrollmentWorkflow: one contact going through one plan, for as long as the plan runs.

The loop asks `domain.schedule.next_step` what runs next and when, waits for that instant with
`wait_condition(..., timeout=...)` so a removal, a reply or an edit ends the wait at once, runs the step's
activity, and records it in the cursor. At each repeat boundary — and whenever the run's history grows past
`max_history_events` — it continues as new carrying the cursor, so an unlimited plan runs for years with a
bounded history. The Temporal UI shows each timer and activity with the plan's own words.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.context import ContextActivities
    from activities.enrollment import EnrollmentActivities
    from activities.messaging.activities import MessagingActivities
    from activities.tasks import TaskActivities
    from activities.timeline import TimelineActivities
    from domain.plan import AddToPlanStep, EmailStep, TextStep, describe_step
    from domain.schedule import Cursor, PendingStep, ScheduledStep, mark_done, next_pass, next_step
    from domain.windows import zone
    from workflows.types import (
        ENROLLMENT_STATUS,
        Channel,
        EndReason,
        EnrollmentContext,
        EnrollmentInput,
        EnrollmentProgress,
        EnrollmentResult,
        EnrollmentStatus,
        FinishInput,
        LoadContextInput,
        PlanChanged,
        RemoveRequest,
        ReplyReceived,
        StepInput,
        StepOutcome,
        TimelineInput,
    )

STEP_TIMEOUT = timedelta(seconds=60)
# A provider outage delays a step (retried with backoff) rather than failing it; after a day the step is
# written off as failed on the timeline and the plan moves on.
STEP_GIVE_UP = timedelta(days=1)
STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                         maximum_interval=timedelta(minutes=5))
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)

_END_DETAILS: dict[EndReason, str] = {
    "completed": "finished the plan",
    "removed": "was removed from the plan",
    "plan_deactivated": "left the plan because it was deactivated",
    "replied_email": "was removed from the plan after replying to its email",
    "replied_text": "was removed from the plan after replying to its text",
    "contact_deleted": "left the plan because the contact was deleted",
}


@workflow.defn
class EnrollmentWorkflow:
    @workflow.init
    def __init__(self, input: EnrollmentInput) -> None:
        self._input = input
        self._cursor: Cursor | None = input.cursor
        self._ctx: EnrollmentContext | None = None
        self._next: ScheduledStep | None = None
        self._status: EnrollmentStatus = "active"
        self._end_reason: EndReason | None = None
        self._end_detail = ""
        self._new_version: int | None = None
        self._replies: list[ReplyReceived] = []
        self._channels: set[Channel] = set(input.channels_sent)
        self._steps_done_total = input.steps_done_total

    @workflow.run
    async def run(self, input: EnrollmentInput) -> EnrollmentResult:
        ctx = await self._load(input.plan_version)
        if self._cursor is None:
            self._cursor = Cursor(pass_started_at=workflow.now())
        if not ctx.plan_active:
            self._end_reason = "plan_deactivated"
        while True:
            if self._replies:
                await self._apply_replies()
            if self._end_reason is not None:
                return await self._end(self._end_reason)
            if self._new_version is not None:
                version, self._new_version = self._new_version, None
                ctx = await self._load(version)
                continue
            cursor = self._cursor
            nxt = next_step(ctx.plan, cursor, ctx.schedule)
            if nxt is None:
                following = next_pass(ctx.plan, cursor, ctx.schedule)
                if following is None:
                    return await self._end("completed")
                await self._continue_as_new(following)
                continue  # a signal arrived first: the loop handles it, then decides again
            self._next = nxt
            self._cursor = cursor.model_copy(
                update={"pending": PendingStep(step_id=nxt.step_id, reached_at=nxt.reached_at)})
            workflow.set_current_details(self._details(ctx, nxt))
            if await self._interrupted_before(nxt, ctx):
                continue
            outcome = await self._run_step(nxt, ctx)
            if outcome.channel is not None:
                self._channels.add(outcome.channel)
            self._steps_done_total += 1
            self._cursor = mark_done(self._cursor, nxt, outcome.status, outcome.detail)
            self._next = None
            if workflow.info().get_current_history_length() >= input.max_history_events:
                await self._continue_as_new(self._cursor)

    @workflow.signal
    def remove(self, request: RemoveRequest) -> None:
        """R-ENR-2 / R-PLAN-8: end at once; nothing scheduled after this is sent."""
        if self._end_reason is None:
            self._end_reason = request.reason
            self._end_detail = request.detail

    @workflow.signal
    def contact_replied(self, reply: ReplyReceived) -> None:
        """R-RULE-5: weighed against the plan's removal rules (read fresh) in the main loop."""
        self._replies.append(reply)

    @workflow.signal
    def plan_changed(self, change: PlanChanged) -> None:
        """R-PLAN-9: follow the new version from the next step on."""
        if change.version != self._input.plan_version:
            self._new_version = change.version

    @workflow.query
    def progress(self) -> EnrollmentProgress:
        cursor = self._cursor
        nxt = self._next
        return EnrollmentProgress(
            status=self._status,
            plan_version=self._input.plan_version,
            repeat=cursor.repeat if cursor else 0,
            day=nxt.day_number if nxt else (cursor.done[-1].day_number if cursor and cursor.done else None),
            next_step_id=nxt.step_id if nxt else None,
            next_step_kind=nxt.step.kind if nxt else None,
            next_step_label=describe_step(nxt.step) if nxt else None,
            next_fire_at=nxt.fire_at if nxt else None,
            steps_done=list(cursor.done) if cursor else [],
            steps_done_total=self._steps_done_total,
        )

    def _pending(self) -> bool:
        return self._end_reason is not None or self._new_version is not None or bool(self._replies)

    async def _interrupted_before(self, nxt: ScheduledStep, ctx: EnrollmentContext) -> bool:
        """Wait until the step is due; True when a signal cut the wait short (the loop re-decides)."""
        delay = nxt.fire_at - workflow.now()
        if delay <= timedelta(0):
            return self._pending()
        try:
            await workflow.wait_condition(self._pending, timeout=delay,
                                          timeout_summary=f"until {self._when(nxt, ctx)}: {describe_step(nxt.step)}")
        except TimeoutError:
            return self._pending()
        return True

    async def _run_step(self, nxt: ScheduledStep, ctx: EnrollmentContext) -> StepOutcome:
        step = nxt.step
        step_input = StepInput(
            enrollment_id=self._input.enrollment_id, workflow_id=workflow.info().workflow_id,
            plan_id=self._input.plan_id, plan_name=ctx.plan_name, plan_version=self._input.plan_version,
            team_plan=ctx.plan.team_plan, contact_id=self._input.contact_id, team_id=self._input.team_id,
            agent_id=self._input.agent_id, repeat=nxt.repeat, day_number=nxt.day_number, step=step,
            scheduled_for=nxt.fire_at, time_zone=ctx.schedule.time_zone,
            idempotency_key=f"{self._input.enrollment_id}:r{nxt.repeat}:{nxt.step_id}",
        )
        method: Callable[[Any, StepInput], Awaitable[StepOutcome]] = TaskActivities.create_task
        if isinstance(step, EmailStep):
            method = MessagingActivities.send_email
        elif isinstance(step, TextStep) and step.mode == "automated":
            method = MessagingActivities.send_text
        elif isinstance(step, AddToPlanStep):
            method = EnrollmentActivities.add_to_plan
        try:
            return await workflow.execute_activity_method(
                method, step_input, start_to_close_timeout=STEP_TIMEOUT, schedule_to_close_timeout=STEP_GIVE_UP,
                retry_policy=STEP_RETRY, summary=f"day {nxt.day_number}: {describe_step(step)}")
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                # The activity already wrote the failure to the timeline (R-EMAIL-3: not retried, plan moves on).
                return StepOutcome(status="failed", detail=cause.message)
            detail = f"{describe_step(step)} failed after retrying for {STEP_GIVE_UP}: {cause or err}"
            await self._timeline("step_failed", detail, step_input.idempotency_key + ":gave-up", nxt.step_id)
            return StepOutcome(status="failed", detail=detail)

    async def _apply_replies(self) -> None:
        replies, self._replies = self._replies, []
        ctx = await self._load(self._input.plan_version)  # removal rules as they are now, not as at start
        for reply in replies:
            wanted = ctx.removal_rules.on_text_reply if reply.channel == "sms" else ctx.removal_rules.on_email_reply
            # Only a reply counts: a message before this plan wrote on that channel does not (R-RULE-5).
            if wanted and reply.channel in self._channels and self._end_reason is None:
                self._end_reason = "replied_text" if reply.channel == "sms" else "replied_email"

    async def _load(self, version: int) -> EnrollmentContext:
        ctx = await workflow.execute_activity_method(
            ContextActivities.load_enrollment_context,
            LoadContextInput(plan_id=self._input.plan_id, contact_id=self._input.contact_id, plan_version=version,
                             workflow_id=workflow.info().workflow_id),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=STEP_RETRY, summary=f"load plan v{version}")
        self._ctx = ctx
        self._input = self._input.model_copy(update={"plan_version": ctx.plan_version})
        return ctx

    async def _end(self, reason: EndReason) -> EnrollmentResult:
        status: EnrollmentStatus = "completed" if reason == "completed" else "removed"
        ctx = self._ctx
        plan_name = ctx.plan_name if ctx else self._input.plan_id
        detail = f"{ctx.contact_name if ctx else 'The contact'} {_END_DETAILS[reason]} '{plan_name}'"
        if self._end_detail:
            detail += f" ({self._end_detail})"
        await workflow.execute_activity_method(
            EnrollmentActivities.finish_enrollment,
            FinishInput(enrollment_id=self._input.enrollment_id, team_id=self._input.team_id,
                        contact_id=self._input.contact_id, plan_id=self._input.plan_id, status=status, reason=reason,
                        detail=detail, at=workflow.now(), idempotency_key=f"{self._input.enrollment_id}:end"),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=STEP_RETRY, summary=detail)
        self._status = status
        self._next = None
        workflow.upsert_search_attributes([ENROLLMENT_STATUS.value_set(status)])
        workflow.set_current_details(detail)
        cursor = self._cursor
        return EnrollmentResult(status=status, reason=reason, repeat=cursor.repeat if cursor else 0,
                                steps_done_total=self._steps_done_total)

    async def _continue_as_new(self, cursor: Cursor) -> None:
        """Carry the state into a new run — unless a signal is waiting: it is handled in this run, never dropped."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._pending():
            return
        workflow.continue_as_new(self._input.model_copy(update={
            "cursor": cursor, "channels_sent": sorted(self._channels), "steps_done_total": self._steps_done_total}))

    async def _timeline(self, kind: str, detail: str, key: str, step_id: str | None = None) -> None:
        await workflow.execute_activity_method(
            TimelineActivities.record_timeline,
            TimelineInput(team_id=self._input.team_id, contact_id=self._input.contact_id,
                          enrollment_id=self._input.enrollment_id, plan_id=self._input.plan_id, step_id=step_id,
                          kind=kind, detail=detail, at=workflow.now(), idempotency_key=key),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=STEP_RETRY)

    def _when(self, nxt: ScheduledStep, ctx: EnrollmentContext) -> str:
        return nxt.fire_at.astimezone(zone(ctx.schedule.time_zone)).strftime("%a %b %-d %Y %H:%M %Z")

    def _details(self, ctx: EnrollmentContext, nxt: ScheduledStep) -> str:
        cursor = self._cursor
        repeat = cursor.repeat if cursor else 0
        return (f"**{ctx.contact_name}** in **{ctx.plan_name}** (version {ctx.plan_version})\n\n"
                f"Pass {repeat + 1}, day {nxt.day_number}. Next: {describe_step(nxt.step)} at "
                f"{self._when(nxt, ctx)}.\n\nSteps done: {self._steps_done_total}.")
