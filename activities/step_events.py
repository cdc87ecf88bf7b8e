"""A step's own timeline event (R-ENR-3): what ran, was skipped or failed, at the step's instant, in which plan and at
which step. One writer for every step activity (tasks, messages, add-to-plan), keyed by the step's idempotency key
so a retry finds the first attempt's event instead of writing a second."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.exceptions import ApplicationError

from db.queries import write_timeline
from workflows.types import EndReason, StepInput, StepOutcome


async def step_event(session: AsyncSession, step: StepInput, kind: str, detail: str,
                     data: dict[str, object] | None = None) -> None:
    await write_timeline(session, team_id=step.team_id, contact_id=step.contact_id, kind=kind, detail=detail,
                         at=step.scheduled_for, idempotency_key=step.idempotency_key, plan_id=step.plan_id,
                         step_id=step.step.id, enrollment_id=step.enrollment_id,
                         data={**(data or {}), "day": step.day_number, "repeat": step.repeat})


async def step_skipped(session: AsyncSession, step: StepInput, detail: str,
                       ends: EndReason | None = None) -> StepOutcome:
    await step_event(session, step, "step_skipped", detail)
    return StepOutcome(status="skipped", detail=detail, ends=ends)


async def step_failed(session: AsyncSession, step: StepInput, error_type: str, detail: str) -> ApplicationError:
    """Write the failure to the timeline and return the non-retryable error to raise once it is committed."""
    await step_event(session, step, "step_failed", detail, {"error": error_type})
    return ApplicationError(detail, type=error_type, non_retryable=True)
