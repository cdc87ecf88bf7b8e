"""What crosses the workflow boundary: workflow input/result, signals, the progress query, activity inputs/outputs.

One model in and one model out for every workflow, activity, signal and query, so each can gain fields without
breaking running histories. Everything here is plain pydantic over `domain` types: safe to import in the
workflow sandbox and in activities alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field
from temporalio.common import SearchAttributeKey

from domain.plan import PlanDefinition, Step, describe_step
from domain.schedule import Cursor, DoneStep, ScheduleContext, ScheduledStep
from domain.team import StepParties

Channel = Literal["sms", "email"]
EnrollmentStatus = Literal["active", "completed", "removed"]
EndReason = Literal["completed", "removed", "plan_deactivated", "replied_email", "replied_text", "contact_deleted",
                    "schedule_failed", "enrollment_ended"]
StepStatus = Literal["executed", "skipped", "failed"]
# What one attempt of a step came to: done (one of the above), or `deferred` to a later instant (the send window,
# a team text turned into a text task).
AttemptStatus = Literal["executed", "skipped", "failed", "deferred"]

# Search attributes: find a contact's workflows in the Temporal UI (`ContactId = "ct_…"`), and columns that make its
# list read as "who is in which plan and what happens next" (PlanName, ContactName, NextStep, NextStepAt).
# The worker registers them (and `make dev` on its dev server).
PLAN_ID = SearchAttributeKey.for_keyword("PlanId")
CONTACT_ID = SearchAttributeKey.for_keyword("ContactId")
TEAM_ID = SearchAttributeKey.for_keyword("TeamId")
ENROLLMENT_STATUS = SearchAttributeKey.for_keyword("EnrollmentStatus")
PLAN_NAME = SearchAttributeKey.for_keyword("PlanName")
CONTACT_NAME = SearchAttributeKey.for_keyword("ContactName")
# Text, not Keyword: a SQL-visibility server (the dev server, a PostgreSQL-backed Temporal) allows 10 Keyword
# attributes per namespace, and the lead workflow needs four of its own.
NEXT_STEP = SearchAttributeKey.for_text("NextStep")
NEXT_STEP_AT = SearchAttributeKey.for_datetime("NextStepAt")
SEARCH_ATTRIBUTE_KEYS = (PLAN_ID, CONTACT_ID, TEAM_ID, ENROLLMENT_STATUS, PLAN_NAME, CONTACT_NAME,
                         NEXT_STEP, NEXT_STEP_AT)
# A keyword holds at most a couple of KB and the UI shows one line: labels are cut to this.
KEYWORD_LABEL_LIMIT = 120


def enrollment_workflow_id(plan_id: str, contact_id: str) -> str:
    return f"enrollment-{plan_id}-{contact_id}"


class EnrollmentInput(BaseModel):
    enrollment_id: str
    plan_id: str
    contact_id: str
    team_id: str
    agent_id: str | None = None  # the plan's owner (personal plans); None for team plans
    plan_version: int
    # The enrollment row's instant: the plan's clock starts here (not when a worker first picks the workflow up), so
    # the API can tell the first step and its time from the row alone.
    enrolled_at: datetime | None = None
    # Carried across continue-as-new: None on the first run.
    cursor: Cursor | None = None
    channels_sent: list[Channel] = Field(default_factory=list)
    steps_done_total: int = 0
    # Continue-as-new once a run's history reaches this many events, so an unlimited plan runs for years: well under
    # 4,096 (a step adds about a dozen), and few enough runs that starting one (reloading the plan) stays rare.
    max_history_events: int = 3000
    # True for runs started by this code (and every run after a continue-as-new): the first context load is a local
    # activity without asking `workflow.patched`, whose marker and `TemporalChangeVersion` upsert cost each start two
    # events and a visibility write. False (the default) in runs started before: they keep asking, as they did.
    first_load_local: bool = False


class EnrollmentResult(BaseModel):
    status: EnrollmentStatus
    reason: EndReason
    repeat: int
    steps_done_total: int


RemovalReason = Literal["removed", "plan_deactivated", "contact_deleted"]
# What a removal marked on the row before its workflow hears of it may say (`services.enrollments.request_removal`).
MarkedRemoval = RemovalReason | Literal["replied_text", "replied_email"]


class RemoveRequest(BaseModel):
    reason: RemovalReason = "removed"
    detail: str = ""


class ReplyReceived(BaseModel):
    channel: Channel
    message_id: str | None = None
    # Whether this reply removes the contact (R-RULE-5), as the API decided and marked on the row when it recorded
    # the reply; the workflow follows it. None in replies sent before the API decided: the workflow weighs those.
    removes: bool | None = None


class PlanChanged(BaseModel):
    version: int


class ContextChanged(BaseModel):
    """Something that decides timing changed (the contact's time zone, the account's slots): reload it."""

    what: str = ""


class RemovalDone(BaseModel):
    """The answer to the `remove_now` update: the enrollment has ended (its row and timeline are written)."""

    status: EnrollmentStatus
    reason: EndReason | None


class EnrollmentProgress(BaseModel):
    """R-ENR-4: where a contact is, what is next and when, what ran so far (this pass)."""

    status: EnrollmentStatus
    plan_version: int
    repeat: int
    day: int | None
    next_step_id: str | None
    next_step_kind: str | None
    next_step_label: str | None
    next_fire_at: datetime | None
    steps_done: list[DoneStep]
    steps_done_total: int


class RemovalRules(BaseModel):
    on_email_reply: bool = False
    on_text_reply: bool = False


class LoadContextInput(BaseModel):
    plan_id: str
    contact_id: str
    plan_version: int
    workflow_id: str
    # The enrollment whose row records the version it now runs (R-PLAN-9).
    enrollment_id: str | None = None


class EnrollmentContext(BaseModel):
    """The plan version and the settings that decide timing, loaded at the start of each run and on edits."""

    plan: PlanDefinition
    plan_version: int
    plan_name: str
    plan_active: bool
    # False when the enrollment's row has ended (or is gone) without this workflow: a start the API gave up on
    # that went through after all. The workflow then ends rather than run without its row.
    enrollment_active: bool = True
    schedule: ScheduleContext
    removal_rules: RemovalRules
    contact_name: str
    # R-MERGE-1: labels a person reads (progress, Temporal UI summaries) are rendered for the contact and, step by
    # step, the agent the step acts as (R-TEAM-2). Runs recorded before `parties` have only `merge_values`, one set
    # for every step; their labels read as they did.
    merge_values: dict[str, str] = Field(default_factory=dict)
    parties: StepParties | None = None

    def label(self, nxt: ScheduledStep) -> str:
        """The step as a person reads it: rendered for its contact and agent, a text task said so (R-TXT-5)."""
        values = self.parties.merge_values(nxt.step) if self.parties is not None else self.merge_values
        return describe_step(nxt.step, values, nxt.repeat, as_task=nxt.as_task)


class StepInput(BaseModel):
    enrollment_id: str
    workflow_id: str
    plan_id: str
    plan_name: str
    plan_version: int
    team_plan: bool
    contact_id: str
    team_id: str
    agent_id: str | None
    repeat: int
    day_number: int
    step: Step
    scheduled_for: datetime
    time_zone: str
    # The instant this attempt runs (workflow time): the send window and the contact's zone are checked against it.
    attempt_at: datetime | None = None
    attempt: int = 1
    # The spread key for held texts (R-TXT-3), so an attempt deferred by the activity lands where the plan would.
    spread_key: str = ""
    # `{enrollment_id}:r{repeat}:{step_id}`: the same on every retry and across continue-as-new, unique per
    # enrollment and plan position (the outbox guard). Not the workflow id: a re-enrollment reuses that.
    idempotency_key: str


class StepOutcome(BaseModel):
    status: AttemptStatus
    detail: str
    # `deferred` only: not before this instant, as a text task (R-TXT-5) or after reloading the context.
    resume_at: datetime | None = None
    as_task: bool = False
    reload_context: bool = False
    channel: Channel | None = None  # the channel a message actually went out on (reply-removal, R-RULE-5)
    record_id: str | None = None  # the task, message or enrollment created
    # `skipped` only: the enrollment has ended, or its removal is marked on its row, so the workflow ends too, with
    # this reason, even if the signal that should have told it never came (the API could not reach Temporal).
    ends: EndReason | None = None


class TimelineInput(BaseModel):
    team_id: str
    contact_id: str
    enrollment_id: str | None
    plan_id: str | None
    step_id: str | None = None
    kind: str
    detail: str
    at: datetime
    idempotency_key: str


class FinishInput(BaseModel):
    enrollment_id: str
    team_id: str
    contact_id: str
    plan_id: str
    status: Literal["completed", "removed"]
    reason: EndReason
    detail: str
    at: datetime
    idempotency_key: str
