"""What every attempt to send checks first (R-TXT-3, R-TXT-4, R-EMAIL-4, R-ENR-2, R-COMP-1).

Compliance is read at the moment of the attempt, never remembered from the first one: a contact who texted STOP,
was removed from the plan or moved to another time zone while a send was being retried is not sent to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast, get_args

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Contact, Enrollment
from domain.account_settings import known_zone
from domain.windows import text_allowed_at, text_send_time, windows_never_meet
from workflows.types import EndReason, StepInput, StepOutcome


@dataclass(frozen=True)
class LeftPlan:
    """Why a step's enrollment no longer runs, and the end its workflow takes from that: the workflow may not have
    heard (a removal's or a reply's signal that never reached Temporal), and must not run on skipping every step."""

    why: str
    ends: EndReason


async def enrollment_ended(session: AsyncSession, step: StepInput) -> LeftPlan | None:
    """Why the step's enrollment no longer runs (ended, or its removal asked for), or None while it is active.

    This read is where a removal and a step are ordered (R-ENR-2): a removal marks the row (`removal_requested`)
    before its workflow hears of it, and the step's deciding transaction (the one that commits a send as `sending`)
    reads the row here, locked, so the mark is either seen or waits for that commit. On PostgreSQL the row is read
    again `FOR UPDATE` (the step's first query may have read it before a mark committed); a SQLite transaction here
    holds the database's write lock from its start (`db.session`), so the row it already read is current.
    """
    if session.get_bind().dialect.name == "sqlite":
        row = await session.get(Enrollment, step.enrollment_id)
    else:
        row = await session.get(Enrollment, step.enrollment_id, with_for_update=True, populate_existing=True)
    if row is None:
        return LeftPlan("the enrollment no longer exists", "enrollment_ended")
    if row.status != "active":
        return LeftPlan(f"the contact left the plan ({row.end_reason or row.status})", "enrollment_ended")
    if row.removal_requested is not None:
        return LeftPlan(f"the contact left the plan ({row.removal_requested})", _marked(row.removal_requested))
    return None


def _marked(reason: str) -> EndReason:
    """A mark's reason is the end it asks for (`services.enrollments.request_removal` writes only end reasons); a
    value written by hand that is none ends the enrollment as a removal."""
    return cast(EndReason, reason) if reason in get_args(EndReason) else "removed"


def attempt_instant(step: StepInput) -> datetime:
    return step.attempt_at or step.scheduled_for


def contact_zone(contact: Contact) -> str | None:
    """The contact's zone if it is a real one: an old bad value (refused by the API since) must not block texting
    inside Central hours."""
    return known_zone(contact.time_zone)


def outside_text_window(step: StepInput, contact: Contact) -> StepOutcome | None:
    """R-TXT-3 at the attempt, with the contact's zone as it is *now*: None when the text may go; otherwise the
    text is deferred to the next instant both windows allow (the workflow reloads the contact's zone), or
    skipped when they never meet."""
    at = attempt_instant(step)
    zone_name = contact_zone(contact)
    if text_allowed_at(at, zone_name):
        return None
    resume = text_send_time(at, step.spread_key, zone_name)
    if resume is None:
        return StepOutcome(status="skipped", detail=f"Text not sent: {windows_never_meet(zone_name)}")
    return StepOutcome(status="deferred", detail=f"outside the texting window; held to {resume.isoformat()}",
                       resume_at=resume, reload_context=True)
