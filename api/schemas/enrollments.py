"""Enrollments, tasks and messages: what the API takes and answers (API.md "Enrollments and tasks")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from api.schemas.common import Public, Request
from services.enrollments import Outcome
from workflows.types import EnrollmentStatus

StepOutcome = Literal["executed", "skipped", "failed"]


ContactId = Annotated[str, Field(min_length=1, max_length=40)]


class EnrollmentCreate(Request):
    field_rules = {"contact_id": "R-ENR-1"}

    contact_id: ContactId


class EnrollmentCreated(Public):
    id: str
    workflow_id: str = Field(description="The Temporal workflow running this enrollment (find it in the Temporal UI).")


BATCH_LIMIT = 1000


class EnrollmentBatch(Request):
    field_rules = {"contact_ids": "R-ENR-1"}

    contact_ids: list[ContactId] = Field(min_length=1, max_length=BATCH_LIMIT,
                                         description=f"Up to {BATCH_LIMIT:,} contacts of your team to enroll")


class BatchEnrollment(Public):
    """What came of one entry of a batch, in the order they were sent."""

    contact_id: str
    id: str | None = Field(default=None, description="The new enrollment, when `outcome` is `enrolled`")
    outcome: Outcome | Literal["duplicate"] = Field(
        description="enrolled; already_enrolled (in this plan now, or still leaving it); not_found (no such contact "
                    "in your team); start_failed (its workflow could not be started, so it was not enrolled: try "
                    "again); duplicate (listed earlier in the same batch, which has its outcome)")
    detail: str


class StepDone(Public):
    """One step this enrollment executed, skipped or failed, as written to the contact's timeline (R-ENR-3)."""

    step_id: str | None
    outcome: StepOutcome
    at: datetime
    detail: str


class EnrollmentPublic(Public):
    """R-ENR-4. The row's fields come from the database; `repeat`, `day` and `next_*` are live from the workflow
    while the enrollment is active (`live: true`) and null once it has ended or when Temporal did not answer."""

    id: str
    plan_id: str
    contact_id: str
    status: EnrollmentStatus
    plan_version: int
    repeat: int | None
    day: int | None
    next_step_id: str | None
    next_step_kind: str | None
    next_step_label: str | None
    next_fire_at: datetime | None
    steps_done: list[StepDone] = Field(description="What ran so far, oldest first (all passes), from the timeline.")
    steps_done_total: int
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    live: bool = Field(description="Whether the live part was read from the running workflow just now.")


class TaskComplete(Request):
    field_rules = {"notes": "R-CALL-1"}

    notes: str | None = Field(default=None, max_length=5000)


class TaskPublic(Public):
    id: str
    contact_id: str
    assignee_id: str
    kind: str
    name: str
    description: str | None
    link: str | None
    priority: str
    contact_task: bool
    due_at: datetime
    status: str
    notes: str | None
    created_at: datetime
    completed_at: datetime | None
    plan_id: str | None
    step_id: str | None
    enrollment_id: str | None


class MessagePublic(Public):
    id: str
    contact_id: str | None
    agent_id: str | None
    channel: str
    direction: str
    status: str
    provider: str
    provider_id: str | None
    to_address: str
    from_address: str
    subject: str | None
    body: str
    error_code: str | None
    error_message: str | None
    created_at: datetime
    sent_at: datetime | None = Field(description="When the provider accepted it; null for the local outbox, which "
                                                "sends nothing (status `recorded`), and for inbound messages")
    plan_id: str | None
    step_id: str | None
    enrollment_id: str | None
