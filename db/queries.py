"""Queries shared by the activities and the API. They never commit: the caller's session scope does."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Executable, Select, bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import table_of
from db.models import Agent, Message, PlanVersion, TimelineEvent
from domain.credits import utc_month
from domain.ids import new_id

# Messages that count against the sender's monthly quota: everything handed to a provider (or the outbox). Not
# `queued`: a row waits there only after an attempt that never reached the provider, and one whose step was then
# given up, or whose enrollment ended, would otherwise count for a send that never happened.
QUOTA_STATUSES = ("sending", "sent", "recorded", "delivered", "undelivered", "unconfirmed")


async def write_timeline(session: AsyncSession, *, team_id: str, contact_id: str, kind: str, detail: str,
                         at: datetime, idempotency_key: str | None, plan_id: str | None = None,
                         step_id: str | None = None, enrollment_id: str | None = None,
                         data: dict[str, Any] | None = None) -> None:
    """Write one event; with a key, a retry leaves the event its first attempt wrote as it is (R-ENR-3, R-COMP-2).

    One INSERT … ON CONFLICT DO NOTHING on the unique key rather than a look-up first: every step of every enrollment
    writes an event, and the database's own guard also holds when two writers race.
    """
    await session.execute(_timeline_insert(session.get_bind().dialect.name), [{
        "id": new_id("ev"), "team_id": team_id, "contact_id": contact_id, "kind": kind, "detail": detail, "at": at,
        "plan_id": plan_id, "step_id": step_id, "enrollment_id": enrollment_id, "data": data,
        "idempotency_key": idempotency_key}])


@cache
def _timeline_insert(dialect: str) -> Executable:
    """Built once per database: the values are bound at each call, so the statement is not built and keyed anew. On
    the table, not the mapped class: the ORM's bulk-insert path around the same statement cost more than running it,
    and nothing reads the event back in the transaction."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = table_of(TimelineEvent)
    return insert(table).on_conflict_do_nothing(index_elements=[table.c.idempotency_key])


async def rainmaker_of(session: AsyncSession, team_id: str) -> Agent | None:
    return await session.scalar(
        select(Agent).where(Agent.team_id == team_id, Agent.role == "rainmaker").order_by(Agent.created_at).limit(1))


def _counted_in_month() -> list[ColumnElement[bool]]:
    """What a month's sends are, for the quota check and the credits report alike (R-EMAIL-3, R-TEAM-4): outbound
    messages handed to a provider or the outbox, created (the plan's instant) in the calendar month (UTC) bound as
    `month_start` and `month_end` (`_month_values`)."""
    return [Message.direction == "outbound", Message.status.in_(QUOTA_STATUSES),
            Message.created_at >= bindparam("month_start"), Message.created_at < bindparam("month_end")]


def _month_values(at: datetime) -> dict[str, datetime]:
    start, end = utc_month(at)
    return {"month_start": start, "month_end": end}


@cache
def _emails_in_month_query() -> Select[int]:
    """Built once, its values bound at each call: every email step's first attempt counts its sender's month, and
    building this select cost more than running it (issue 11, docs/performance.md)."""
    return select(func.count()).select_from(Message).where(
        Message.agent_id == bindparam("agent_id"), Message.channel == "email", *_counted_in_month())


async def emails_sent_in_month(session: AsyncSession, agent_id: str, at: datetime) -> int:
    """Outbound emails of one sender in the calendar month (UTC) of `at`, for the quota (R-EMAIL-3)."""
    count = await session.scalar(_emails_in_month_query(), {"agent_id": agent_id, **_month_values(at)})
    return int(count or 0)


@dataclass(frozen=True)
class SentInMonth:
    emails: int = 0
    texts: int = 0


async def sent_in_month(session: AsyncSession, agent_ids: Sequence[str], at: datetime) -> dict[str, SentInMonth]:
    """Each agent's emails and texts in the calendar month (UTC) of `at`, in one query (R-TEAM-4); the emails are
    what `emails_sent_in_month` counts for the quota. Agents without sends are absent."""
    rows = await session.execute(
        select(Message.agent_id, Message.channel, func.count()).where(
            Message.agent_id.in_(agent_ids), Message.channel.in_(("email", "sms")), *_counted_in_month())
        .group_by(Message.agent_id, Message.channel), _month_values(at))
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for agent_id, channel, count in rows:
        counts[str(agent_id)][channel] = int(count)
    return {agent_id: SentInMonth(emails=by.get("email", 0), texts=by.get("sms", 0)) for agent_id, by in counts.items()}


async def plan_version(session: AsyncSession, plan_id: str, version: int) -> PlanVersion | None:
    return await session.scalar(
        select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.version == version))
