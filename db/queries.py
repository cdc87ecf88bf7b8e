"""Queries shared by the activities and the API. They never commit: the caller's session scope does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agent, Message, PlanVersion, TimelineEvent
from domain.ids import new_id

# Messages that count against the sender's monthly quota: everything handed to a provider (or the outbox).
QUOTA_STATUSES = ("queued", "sending", "sent", "recorded", "delivered", "undelivered", "unconfirmed")


async def write_timeline(session: AsyncSession, *, team_id: str, contact_id: str, kind: str, detail: str,
                         at: datetime, idempotency_key: str | None, plan_id: str | None = None,
                         step_id: str | None = None, enrollment_id: str | None = None,
                         data: dict[str, Any] | None = None) -> TimelineEvent:
    """Write one event; with a key, a retry returns the event its first attempt wrote (R-ENR-3, R-COMP-2)."""
    if idempotency_key is not None:
        found = await session.scalar(select(TimelineEvent).where(TimelineEvent.idempotency_key == idempotency_key))
        if found is not None:
            return found
    event = TimelineEvent(id=new_id("ev"), team_id=team_id, contact_id=contact_id, kind=kind, detail=detail, at=at,
                          plan_id=plan_id, step_id=step_id, enrollment_id=enrollment_id, data=data,
                          idempotency_key=idempotency_key)
    session.add(event)
    await session.flush()
    return event


async def rainmaker_of(session: AsyncSession, team_id: str) -> Agent | None:
    return await session.scalar(
        select(Agent).where(Agent.team_id == team_id, Agent.role == "rainmaker").order_by(Agent.created_at).limit(1))


async def emails_sent_in_month(session: AsyncSession, agent_id: str, at: datetime) -> int:
    """Outbound emails of one sender in the calendar month (UTC) of `at`, for the quota (R-EMAIL-3)."""
    at = at.astimezone(UTC)
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    count = await session.scalar(
        select(func.count()).select_from(Message).where(
            Message.agent_id == agent_id, Message.channel == "email", Message.direction == "outbound",
            Message.status.in_(QUOTA_STATUSES), Message.created_at >= start, Message.created_at < end))
    return int(count or 0)


async def plan_version(session: AsyncSession, plan_id: str, version: int) -> PlanVersion | None:
    return await session.scalar(
        select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.version == version))
