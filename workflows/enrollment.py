"""EnrollmentWorkflow: one contact going through one plan, for as long as the plan runs.

The loop asks `domain.schedule.next_step` what runs next and when, waits for that instant with `wait_condition(...,
timeout=...)` so a removal, a reply or an edit ends the wait at once, and runs one *attempt* of the step's activity.
Attempts are decided here, not by Temporal's retry policy: a failed send is tried again after a backoff that the
schedule moves into the step's window (a text whose provider is down across 19:00 goes out in the next day's window,
R-TXT-3), each attempt re-checks opt-out and the enrollment (R-TXT-4, R-ENR-2), and a removal cancels an attempt not
yet started (one already running is let finish). At each repeat boundary — and whenever the run's history grows past
`max_history_events` — it continues as new carrying the cursor, so an unlimited plan runs for years with a bounded
history. The Temporal UI shows each timer and activity in the plan's words, rendered for the contact.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.context import ContextActivities
    from activities.enrollment import EnrollmentActivities
    from activities.messaging.activities import MessagingActivities
    from activities.tasks import TaskActivities
    from activities.timeline import TimelineActivities
    from domain.plan import AddToPlanStep, EmailStep, TextStep, describe_step
    from domain.rezone import rezoned
    from domain.schedule import (
        Cursor,
        PendingStep,
        ScheduledStep,
        mark_done,
        next_pass,
        next_step,
        runs_at,
        start_cursor,
    )
    from domain.windows import zone
    from workflows.types import (
        ENROLLMENT_STATUS,
        KEYWORD_LABEL_LIMIT,
        NEXT_STEP,
        NEXT_STEP_AT,
        Channel,
        ContextChanged,
        EndReason,
        EnrollmentContext,
        EnrollmentInput,
        EnrollmentProgress,
        EnrollmentResult,
        EnrollmentStatus,
        FinishInput,
        LoadContextInput,
        PlanChanged,
        RemovalDone,
        RemoveRequest,
        ReplyReceived,
        StepInput,
        StepOutcome,
        TimelineInput,
    )

STEP_TIMEOUT = timedelta(seconds=60)
# An attempt that goes quiet this long (its worker is gone) fails now rather than at STEP_TIMEOUT; a send heartbeats
# before calling its provider. The database steps are quick and do not heartbeat at all: a heartbeat is an RPC, and a
# removal cannot reach them through one anyway — a cancellation comes back only on a heartbeat sent after it.
STEP_HEARTBEAT = timedelta(seconds=10)
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
# A provider outage delays a step (tried again with backoff, inside its window) rather than failing it; after a
# day of failed attempts the step is written off as failed on the timeline and the plan moves on.
STEP_GIVE_UP = timedelta(days=1)
RETRY_FIRST = timedelta(seconds=2)
RETRY_MAX = timedelta(minutes=10)
BOOKKEEPING_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                                maximum_interval=timedelta(minutes=5))
BOOKKEEPING_TIMEOUT = timedelta(seconds=30)
# A removal by hand that a step found marked on the row before the removal's own request reached the workflow: the
# request follows within moments (the API sends it right after the mark commits) and says who removed the contact,
# which the end's timeline event names. Waited for this long at most; past it the enrollment ends without the name.
TELLING_GRACE = timedelta(seconds=15)
# Runs started before it loaded their context as a normal activity. Runs started since say so in their input
# (`EnrollmentInput.first_load_local`) instead of asking for the patch; runs in between asked, and still do.
FIRST_LOAD_LOCAL = "first-context-load-local"
# A database step cannot hear a cancellation (it never heartbeats), so a removal during one waits for it instead of
# asking the server to cancel it; runs that asked before this keep asking on replay. The request was useless, and the
# time-skipping test server wedges a run whose activity completes in the same workflow task as the request
# (temporalio/sdk-java#2391).
CANCEL_SENDS_ONLY = "cancel-sends-only"
# A new account zone moves the dates a run has set (`domain.rezone`); runs that read them in the new zone before this
# (a day-1 step run at once) keep doing so on replay.
REZONE_DATES = "rezone-dates"

# The timeline's words for an end, `{plan}` standing for the plan's quoted name.
_END_DETAILS: dict[EndReason, str] = {
    "completed": "finished the plan {plan}",
    "removed": "was removed from the plan {plan}",
    "plan_deactivated": "left the plan {plan} because it was deactivated",
    "replied_email": "was removed from the plan {plan} after replying to its email",
    "replied_text": "was removed from the plan {plan} after replying to its text",
    "contact_deleted": "left the plan {plan} because the contact was deleted",
    "schedule_failed": "left the plan {plan} because its schedule could not be computed",
    "enrollment_ended": "left the plan {plan} because its enrollment had already ended",
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
        self._ended = False
        self._untold_removal = False  # a step found a removal by hand on the row before its request came
        self._new_version: int | None = None
        self._reload = False
        self._replies: list[ReplyReceived] = []
        self._channels: set[Channel] = set(input.channels_sent)
        self._steps_done_total = input.steps_done_total
        self._shown: tuple[str, datetime] | None = None

    @workflow.run
    async def run(self, input: EnrollmentInput) -> EnrollmentResult:
        ctx = await self._load(input.plan_version, first=True)
        if self._cursor is None:
            self._cursor = start_cursor(input.enrolled_at or workflow.now(), ctx.schedule)
        if not ctx.plan_active:
            self._end_reason = "plan_deactivated"
        if not ctx.enrollment_active:
            self._end_reason = "enrollment_ended"
        while True:
            if self._replies:
                await self._apply_replies()
            if self._end_reason is not None:
                if self._untold_removal:
                    await self._await_telling()
                return await self._end(self._end_reason)
            if self._new_version is not None or self._reload:
                version = self._new_version or self._input.plan_version
                self._new_version, self._reload = None, False
                ctx = await self._load(version)
                continue
            cursor = self._cursor
            try:
                nxt = next_step(ctx.plan, cursor, ctx.schedule)
                following = next_pass(ctx.plan, cursor, ctx.schedule) if nxt is None else None
            except Exception as err:  # noqa: BLE001 - the schedule is total; a bug must end, not loop for ever
                self._end_reason, self._end_detail = "schedule_failed", f"{type(err).__name__}: {err}"
                continue
            if nxt is None:
                if following is None:
                    return await self._end("completed")
                await self._continue_as_new(following)
                continue  # a signal arrived first: the loop handles it, then decides again
            await self._take(nxt, ctx)
            if workflow.info().get_current_history_length() >= input.max_history_events:
                await self._continue_as_new(self._cursor)

    async def _take(self, nxt: ScheduledStep, ctx: EnrollmentContext) -> None:
        """Wait for `nxt`, then record its verdict or run one attempt of it; the cursor says what came of it."""
        cursor = self._cursor
        assert cursor is not None
        pending = cursor.pending
        if pending is None or pending.step_id != nxt.step_id:
            pending = PendingStep(step_id=nxt.step_id, day_date=nxt.day_date)
        self._cursor = cursor = cursor.model_copy(update={"pending": pending})
        self._next = nxt
        workflow.set_current_details(self._details(ctx, nxt))
        self._show_next(nxt, ctx)
        if await self._interrupted_before(nxt, ctx):
            return
        now = workflow.now()
        if nxt.verdict is not None:
            kind = "step_skipped" if nxt.verdict == "skipped" else "step_failed"
            await self._timeline(kind, nxt.reason, self._step_key(nxt), nxt.step_id)
            self._done(nxt, StepOutcome(status=nxt.verdict, detail=nxt.reason))
            return
        if not runs_at(nxt, now, ctx.schedule):
            # Woken late (a worker was down): the window is checked at the attempt, not only when planned.
            self._cursor = cursor.model_copy(update={"pending": pending.model_copy(update={"not_before": now})})
            return
        outcome = await self._attempt(nxt, ctx, pending, now)
        if outcome is None:
            return  # a removal cancelled the attempt before the provider had anything
        if outcome.status != "deferred":
            self._done(nxt, outcome)
            return
        transient = not (outcome.as_task or outcome.reload_context)
        self._reload = self._reload or outcome.reload_context
        self._cursor = cursor.model_copy(update={"pending": pending.model_copy(update={
            "not_before": outcome.resume_at or now, "as_task": pending.as_task or outcome.as_task,
            "attempts": pending.attempts + (1 if transient else 0),
            "first_attempt_at": pending.first_attempt_at or now})})

    def _done(self, nxt: ScheduledStep, outcome: StepOutcome) -> None:
        """The step is behind the contact; it counts as fired at its planned instant, so the workflow's calendar stays
        the preview's to the millisecond."""
        if outcome.channel is not None:
            self._channels.add(outcome.channel)
        if outcome.ends is not None and self._end_reason is None:
            self._end_reason = outcome.ends  # the row said so before the signal came, or instead of it
            self._untold_removal = outcome.ends == "removed"
        self._steps_done_total += 1
        assert self._cursor is not None
        self._cursor = mark_done(self._cursor, nxt, outcome.status, outcome.detail)
        self._next = None

    @workflow.signal
    def remove(self, request: RemoveRequest) -> None:
        """R-ENR-2 / R-PLAN-8: end at once; nothing scheduled after this is sent."""
        if self._end_reason is None or (self._untold_removal and request.reason == self._end_reason):
            self._end_reason = request.reason
            self._end_detail = request.detail
            self._untold_removal = False

    @workflow.update
    async def remove_now(self, request: RemoveRequest) -> RemovalDone:
        """R-ENR-2: like `remove`, but answers once the enrollment has ended (row and timeline written), so the
        caller can say "removed" and mean it."""
        self.remove(request)
        await workflow.wait_condition(lambda: self._ended)
        return RemovalDone(status=self._status, reason=self._end_reason)

    @workflow.signal
    def contact_replied(self, reply: ReplyReceived) -> None:
        """R-RULE-5: weighed against the plan's removal rules (read fresh) in the main loop."""
        self._replies.append(reply)

    @workflow.signal
    def plan_changed(self, change: PlanChanged) -> None:
        """R-PLAN-9: follow the new version from the next step on."""
        if change.version != self._input.plan_version:
            self._new_version = change.version

    @workflow.signal
    def context_changed(self, change: ContextChanged) -> None:
        """The contact's time zone (or the account's timing) changed: used from the next step on."""
        self._reload = True

    @workflow.query
    def progress(self) -> EnrollmentProgress:
        cursor = self._cursor
        nxt = self._next
        ctx = self._ctx
        return EnrollmentProgress(
            status=self._status,
            plan_version=self._input.plan_version,
            repeat=cursor.repeat if cursor else 0,
            day=nxt.day_number if nxt else (cursor.done[-1].day_number if cursor and cursor.done else None),
            next_step_id=nxt.step_id if nxt else None,
            next_step_kind=nxt.step.kind if nxt else None,
            next_step_label=(ctx.label(nxt) if ctx else describe_step(nxt.step, None, nxt.repeat)) if nxt else None,
            next_fire_at=nxt.fire_at if nxt else None,
            steps_done=list(cursor.done) if cursor else [],
            steps_done_total=self._steps_done_total,
        )

    def _pending(self) -> bool:
        return (self._end_reason is not None or self._new_version is not None or self._reload
                or bool(self._replies))

    async def _interrupted_before(self, nxt: ScheduledStep, ctx: EnrollmentContext) -> bool:
        """Wait until the step is due; True when a signal cut the wait short (the loop re-decides)."""
        delay = nxt.fire_at - workflow.now()
        if delay <= timedelta(0):
            return self._pending()
        try:
            await workflow.wait_condition(self._pending, timeout=delay,
                                          timeout_summary=f"until {self._when(nxt, ctx)}: {self._label(nxt, ctx)}")
        except TimeoutError:
            return self._pending()
        return True

    async def _attempt(self, nxt: ScheduledStep, ctx: EnrollmentContext, pending: PendingStep,
                       now: datetime) -> StepOutcome | None:
        """One attempt of the step's activity. None when a removal cancelled it first; a transient failure comes
        back `deferred` to a backoff instant (the schedule then moves it into the step's window)."""
        step = nxt.step
        step_input = StepInput(
            enrollment_id=self._input.enrollment_id, workflow_id=workflow.info().workflow_id,
            plan_id=self._input.plan_id, plan_name=ctx.plan_name, plan_version=self._input.plan_version,
            team_plan=ctx.plan.team_plan, contact_id=self._input.contact_id, team_id=self._input.team_id,
            agent_id=self._input.agent_id, repeat=nxt.repeat, day_number=nxt.day_number, step=step,
            scheduled_for=nxt.fire_at, time_zone=ctx.schedule.time_zone, attempt_at=now,
            attempt=pending.attempts + 1, spread_key=ctx.schedule.spread_key, idempotency_key=self._step_key(nxt),
        )
        method: Callable[[Any, StepInput], Awaitable[StepOutcome]] = TaskActivities.create_task
        sends = False  # only a send heartbeats, so only a send can hear a cancellation
        if nxt.as_task:
            pass  # R-TXT-5: the designated sender has no Twilio; a text task for them, in the task window
        elif isinstance(step, EmailStep):
            method, sends = MessagingActivities.send_email, True
        elif isinstance(step, TextStep) and step.mode == "automated":
            method, sends = MessagingActivities.send_text, True
        elif isinstance(step, AddToPlanStep):
            method = EnrollmentActivities.add_to_plan
        handle = workflow.start_activity_method(
            method, step_input, start_to_close_timeout=STEP_TIMEOUT, heartbeat_timeout=STEP_HEARTBEAT,
            retry_policy=ONE_ATTEMPT, cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            summary=f"day {nxt.day_number}: {self._label(nxt, ctx)}"
                    + (f" (attempt {pending.attempts + 1})" if pending.attempts else ""))
        await workflow.wait_condition(lambda: handle.done() or self._end_reason is not None)
        if not handle.done() and (sends or not workflow.patched(CANCEL_SENDS_ONLY)):
            handle.cancel()
        try:
            return await handle
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, CancelledError):
                return None
            if isinstance(cause, ApplicationError) and cause.non_retryable:
                # The activity already wrote the failure to the timeline (R-EMAIL-3: not retried, plan moves on).
                return StepOutcome(status="failed", detail=cause.message)
            first = pending.first_attempt_at or now
            if now - first >= STEP_GIVE_UP:
                label = self._label(nxt, ctx)
                reason = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
                detail = f"{label[:1].upper()}{label[1:]} failed after a day of attempts: {reason}"
                await self._timeline("step_failed", detail, self._step_key(nxt) + ":gave-up", nxt.step_id)
                return StepOutcome(status="failed", detail=detail)
            backoff = min(RETRY_FIRST * (2 ** min(pending.attempts, 16)), RETRY_MAX)
            return StepOutcome(status="deferred", detail=f"attempt {pending.attempts + 1} failed: {cause or err}",
                               resume_at=now + backoff)

    async def _await_telling(self) -> None:
        """The removal's own request, for who removed the contact; a request that never comes (the API stopped
        between the mark and the request) does not keep the enrollment from ending."""
        try:
            await workflow.wait_condition(lambda: not self._untold_removal, timeout=TELLING_GRACE,
                                          timeout_summary="waiting for the removal's request, to say who removed")
        except TimeoutError:
            self._untold_removal = False

    async def _apply_replies(self) -> None:
        replies, self._replies = self._replies, []
        # Replies recorded before the API decided are weighed here, as they were, on one load for the lot (so their
        # histories replay): the removal rules as they are now, not as at start.
        rules = (await self._load(self._input.plan_version)).removal_rules \
            if any(reply.removes is None for reply in replies) else None
        for reply in replies:
            if reply.removes is not None:
                # The API decided, and marked the row so that no step deciding since has sent (R-ENR-2's order).
                removes = reply.removes
            else:
                assert rules is not None
                wanted = rules.on_text_reply if reply.channel == "sms" else rules.on_email_reply
                # Only a reply counts: a message before this plan wrote on that channel does not (R-RULE-5).
                removes = wanted and reply.channel in self._channels
            if removes and self._end_reason is None:
                self._end_reason = "replied_text" if reply.channel == "sms" else "replied_email"

    async def _load(self, version: int, *, first: bool = False) -> EnrollmentContext:
        request = LoadContextInput(plan_id=self._input.plan_id, contact_id=self._input.contact_id, plan_version=version,
                                   workflow_id=workflow.info().workflow_id, enrollment_id=self._input.enrollment_id)
        if first and (self._input.first_load_local or workflow.patched(FIRST_LOAD_LOCAL)):
            # A run's first load is a local activity: it runs inside the run's first workflow task, so starting an
            # enrollment costs the server one workflow task instead of two plus an activity task (issue 11).
            ctx = await workflow.execute_local_activity_method(
                ContextActivities.load_enrollment_context, request, start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                retry_policy=BOOKKEEPING_RETRY, summary=f"load plan v{version}")
        else:
            ctx = await workflow.execute_activity_method(
                ContextActivities.load_enrollment_context, request, start_to_close_timeout=BOOKKEEPING_TIMEOUT,
                retry_policy=BOOKKEEPING_RETRY, summary=f"load plan v{version}")
        self._ctx = ctx
        self._input = self._input.model_copy(update={"plan_version": ctx.plan_version})
        cursor = self._cursor
        moves = cursor is not None and cursor.time_zone not in (None, ctx.schedule.time_zone)
        if cursor is not None and (not moves or workflow.patched(REZONE_DATES)):
            self._cursor = rezoned(cursor, ctx.schedule)
        return ctx

    async def _end(self, reason: EndReason) -> EnrollmentResult:
        status: EnrollmentStatus = "completed" if reason == "completed" else "removed"
        ctx = self._ctx
        plan_name = ctx.plan_name if ctx else self._input.plan_id
        repr_plan = f"'{plan_name}'"
        detail = f"{ctx.contact_name if ctx else 'The contact'} {_END_DETAILS[reason].replace('{plan}', repr_plan)}"
        if self._end_detail:
            detail += f" ({self._end_detail})"
        await workflow.execute_activity_method(
            EnrollmentActivities.finish_enrollment,
            FinishInput(enrollment_id=self._input.enrollment_id, team_id=self._input.team_id,
                        contact_id=self._input.contact_id, plan_id=self._input.plan_id, status=status, reason=reason,
                        detail=detail, at=workflow.now(), idempotency_key=f"{self._input.enrollment_id}:end"),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY, summary=detail)
        self._status, self._end_reason, self._ended = status, reason, True
        self._next = None
        # NextStepAt keeps the last planned instant (unsetting a datetime breaks `describe` on the test server);
        # the list filters on EnrollmentStatus, and NextStep says there is none.
        workflow.upsert_search_attributes([ENROLLMENT_STATUS.value_set(status),
                                           NEXT_STEP.value_set(f"none: {status}")])
        workflow.set_current_details(detail)
        await workflow.wait_condition(workflow.all_handlers_finished)  # `remove_now` callers get their answer
        cursor = self._cursor
        return EnrollmentResult(status=status, reason=reason, repeat=cursor.repeat if cursor else 0,
                                steps_done_total=self._steps_done_total)

    async def _continue_as_new(self, cursor: Cursor | None) -> None:
        """Carry the state into a new run — unless a signal or update is waiting: it is handled in this run,
        never dropped (a `remove_now` waits for the end, so it must not be waited out here)."""
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self._pending())
        if self._pending():
            return
        workflow.continue_as_new(self._input.model_copy(update={
            "cursor": cursor, "channels_sent": sorted(self._channels), "steps_done_total": self._steps_done_total,
            "first_load_local": True}))

    async def _timeline(self, kind: str, detail: str, key: str, step_id: str | None = None) -> None:
        await workflow.execute_activity_method(
            TimelineActivities.record_timeline,
            TimelineInput(team_id=self._input.team_id, contact_id=self._input.contact_id,
                          enrollment_id=self._input.enrollment_id, plan_id=self._input.plan_id, step_id=step_id,
                          kind=kind, detail=detail, at=workflow.now(), idempotency_key=key),
            start_to_close_timeout=BOOKKEEPING_TIMEOUT, retry_policy=BOOKKEEPING_RETRY, summary=detail)

    def _show_next(self, nxt: ScheduledStep, ctx: EnrollmentContext) -> None:
        """The next step and its instant as search attributes, so the Temporal UI's list can show them as columns
        and filter on them (`NextStepAt < "2026-12-01T00:00:00Z"`); written only when they change."""
        label = f"day {nxt.day_number}: {self._label(nxt, ctx)}"[:KEYWORD_LABEL_LIMIT]
        if self._shown == (label, nxt.fire_at):
            return
        self._shown = (label, nxt.fire_at)
        workflow.upsert_search_attributes([NEXT_STEP.value_set(label), NEXT_STEP_AT.value_set(nxt.fire_at)])

    def _step_key(self, nxt: ScheduledStep) -> str:
        return f"{self._input.enrollment_id}:r{nxt.repeat}:{nxt.step_id}"

    def _label(self, nxt: ScheduledStep, ctx: EnrollmentContext) -> str:
        return ctx.label(nxt)

    def _when(self, nxt: ScheduledStep, ctx: EnrollmentContext) -> str:
        try:
            return nxt.fire_at.astimezone(zone(ctx.schedule.time_zone)).strftime("%a %b %-d %Y %H:%M %Z")
        except Exception:  # noqa: BLE001 - an unusable account zone still gets a readable label
            return nxt.fire_at.strftime("%a %b %-d %Y %H:%M UTC")

    def _details(self, ctx: EnrollmentContext, nxt: ScheduledStep) -> str:
        cursor = self._cursor
        repeat = cursor.repeat if cursor else 0
        verdict = f" It will be {nxt.verdict}: {nxt.reason}." if nxt.verdict else ""
        return (f"**{ctx.contact_name}** in **{ctx.plan_name}** (version {ctx.plan_version})\n\n"
                f"Pass {repeat + 1}, day {nxt.day_number}. Next: {self._label(nxt, ctx)} at "
                f"{self._when(nxt, ctx)}.{verdict}\n\nSteps done: {self._steps_done_total}.")
