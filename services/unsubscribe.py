"""The unsubscribe link of every plan email (R-EMAIL-4): which contact a link we signed belongs to, and the one
change following it makes."""

from __future__ import annotations

from typing import Any, Literal, cast

from sqlalchemy import CursorResult, false, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Contact
from db.queries import write_timeline
from domain.email_content import verify_unsubscribe_token

Unsubscribed = Literal["unsubscribed", "already"]


async def unsubscribe_contact(session: AsyncSession, secret: str, token: str) -> Contact | None:
    """The contact a link we signed belongs to, or None (forged, or the contact is gone). Changes nothing."""
    contact_id = verify_unsubscribe_token(secret, token)
    return await session.get(Contact, contact_id) if contact_id else None


async def unsubscribe(session: AsyncSession, secret: str, token: str) -> Unsubscribed | None:
    """R-EMAIL-4: None when the link is not one we signed (or its contact is gone); `already` when the contact had
    unsubscribed before, which changes nothing. The flag is set by one conditional UPDATE, so two uses at once (a
    double click, a mailbox provider's one-click beside the button) write one timeline event, not two."""
    contact = await unsubscribe_contact(session, secret, token)
    if contact is None:
        return None
    now = utcnow()
    result = cast(CursorResult[Any], await session.execute(
        update(Contact).where(Contact.id == contact.id, Contact.unsubscribed.is_(false()))
        .values(unsubscribed=True, unsubscribed_at=now).execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        return "already"
    contact.unsubscribed, contact.unsubscribed_at = True, now
    await write_timeline(session, team_id=contact.team_id, contact_id=contact.id, kind="unsubscribed",
                         detail="Unsubscribed from plan email with the link in an email", at=now,
                         idempotency_key=None)
    return "unsubscribed"
