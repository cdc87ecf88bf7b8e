"""Timeline events the workflow itself writes (a step written off after retries)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from db.queries import write_timeline
from db.session import session_scope
from workflows.types import TimelineInput


class TimelineActivities:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @activity.defn
    async def record_timeline(self, event: TimelineInput) -> None:
        async with session_scope(self._sessions) as session:
            await write_timeline(session, team_id=event.team_id, contact_id=event.contact_id, kind=event.kind,
                                 detail=event.detail, at=event.at, idempotency_key=event.idempotency_key,
                                 plan_id=event.plan_id, step_id=event.step_id, enrollment_id=event.enrollment_id)
