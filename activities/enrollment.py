"""Enrollment bookkeeping the workflow asks for: adding the contact to another plan (R-ADD-1) and ending."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from activities.step_events import step_event
from db.models import Enrollment
from db.queries import write_timeline
from db.session import session_scope
from domain.plan import AddToPlanStep
from services.enrollments import ENROLLMENT_MEMO, EnrollmentRefused, enroll
from workflows.types import FinishInput, StepInput, StepOutcome, enrollment_workflow_id


class EnrollmentActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], client: Client, task_queue: str) -> None:
        self._sessions = session_factory
        self._client = client
        self._task_queue = task_queue

    @activity.defn
    async def add_to_plan(self, step: StepInput) -> StepOutcome:
        spec = step.step
        assert isinstance(spec, AddToPlanStep)
        if await self._earlier_run_closing(spec.target_plan_id, step.contact_id):
            # Its run (the same workflow id) is still writing its end: starting now would fail, so the step tries
            # again in a moment, as for any transient failure, before it writes anything.
            raise ApplicationError(f"the contact's earlier enrollment in plan {spec.target_plan_id} is still ending; "
                                   "trying again in a moment", type="StillLeaving")
        try:
            enrolled = await enroll(self._sessions, self._client, self._task_queue, plan_id=spec.target_plan_id,
                                    contact_id=step.contact_id, source="add_to_plan", at=step.scheduled_for,
                                    source_key=step.idempotency_key)
        except EnrollmentRefused as refused:
            if refused.code == "not_found":
                detail = f"Not added to plan {spec.target_plan_id}: that plan no longer exists"
                await self._timeline(step, "step_failed", detail)
                raise ApplicationError(detail, type="PlanMissing", non_retryable=True) from refused
            if refused.leaving:
                # Its earlier enrollment in that plan is writing its end: the step tries again in a moment, as for
                # any transient failure, and then adds the contact.
                raise ApplicationError(refused.message, type="StillLeaving") from refused
            # R-ADD-1: already in that plan (or it is inactive/empty): nothing happens but a timeline event.
            detail = f"Not added to another plan: {refused.message}"
            await self._timeline(step, "step_skipped", detail)
            return StepOutcome(status="skipped", detail=detail)
        detail = f"Added to plan '{enrolled.plan_name}'"
        await self._timeline(step, "step_executed", detail)
        return StepOutcome(status="executed", detail=detail, record_id=enrolled.enrollment_id)

    @activity.defn
    async def finish_enrollment(self, end: FinishInput) -> None:
        async with session_scope(self._sessions) as session:
            row = await session.get(Enrollment, end.enrollment_id)
            if row is not None and row.status == "active":
                row.status, row.ended_at, row.end_reason = end.status, end.at, end.reason
            await write_timeline(session, team_id=end.team_id, contact_id=end.contact_id,
                                 kind="completed" if end.status == "completed" else "removed", detail=end.detail,
                                 at=end.at, idempotency_key=end.idempotency_key, plan_id=end.plan_id,
                                 enrollment_id=end.enrollment_id, data={"reason": end.reason})

    async def _earlier_run_closing(self, plan_id: str, contact_id: str) -> bool:
        """Whether the contact's earlier enrollment in the plan has ended (its row says so) while its run is still
        open: between writing its end and returning, or a removal's last moment."""
        try:
            run = await self._client.get_workflow_handle(enrollment_workflow_id(plan_id, contact_id)).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                return False
            raise
        if run.status != WorkflowExecutionStatus.RUNNING:
            return False
        enrollment_id = (await run.memo()).get(ENROLLMENT_MEMO)
        async with session_scope(self._sessions) as session:
            row = await session.get(Enrollment, enrollment_id) if isinstance(enrollment_id, str) else None
        return row is not None and row.status != "active"

    async def _timeline(self, step: StepInput, kind: str, detail: str) -> None:
        async with session_scope(self._sessions) as session:
            await step_event(session, step, kind, detail)



