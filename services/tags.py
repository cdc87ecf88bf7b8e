"""Tags on contacts and the plans they trigger (R-RULE-1..4).

Triggers fire on the *act* of adding a tag, never on having it: creating a trigger looks at no contact, and
re-adding a tag a contact already carries does nothing (R-RULE-1, "going forward"). Removing a tag never
touches an enrollment (R-RULE-2). Triggers reference the tag's id, so a rename keeps them and a delete takes
them along (R-RULE-3). These functions never commit; enrolling runs its own transactions (see
`enroll_by_tag`), so callers commit the tag before they enroll.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from db.models import Contact, ContactTag, Plan, PlanTrigger, Tag
from db.queries import plan_version
from db.session import session_scope
from domain.ids import new_id
from domain.plan import PlanDefinition
from services.enrollments import Recorded, Result, enrollee, record_enrollments, start_recorded

MAX_TRIGGERS = 10  # R-RULE-1


def tag_key(name: str) -> str:
    """What makes two tag names the same: case and surrounding spaces do not count."""
    return name.strip().casefold()


async def tag_named(session: AsyncSession, team_id: str, name: str, *, other_than: str | None = None) -> Tag | None:
    query = select(Tag).where(Tag.team_id == team_id, Tag.name_key == tag_key(name))
    if other_than is not None:
        query = query.where(Tag.id != other_than)
    return await session.scalar(query)


async def team_tags(session: AsyncSession, team_id: str, ids: Sequence[str] | None = None, *,
                    limit: int | None = None, offset: int = 0) -> list[Tag]:
    query = select(Tag).where(Tag.team_id == team_id).order_by(Tag.name_key, Tag.id)
    if ids is not None:
        query = query.where(Tag.id.in_(ids))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list((await session.scalars(query)).all())


async def create_tag(session: AsyncSession, team_id: str, name: str) -> Tag | None:
    """The new tag, or None when the team already has one by that name (a race is caught by the constraint)."""
    tag = Tag(id=new_id("tg"), team_id=team_id, name=name.strip(), name_key=tag_key(name))
    try:
        async with session.begin_nested():
            session.add(tag)
    except IntegrityError:
        return None
    return tag


async def rename_tag(session: AsyncSession, tag: Tag, name: str) -> bool:
    """False when another tag of the team has that name. Triggers and contacts keep the tag (R-RULE-3)."""
    if await tag_named(session, tag.team_id, name, other_than=tag.id) is not None:
        return False
    try:
        async with session.begin_nested():
            tag.name, tag.name_key = name.strip(), tag_key(name)
    except IntegrityError:
        return False
    return True


async def delete_tag(session: AsyncSession, tag: Tag) -> None:
    """Takes the tag off every contact and out of every plan's triggers (R-RULE-3); enrollments stay (R-RULE-2).

    The foreign keys cascade too; deleting explicitly keeps the rule independent of the backend's FK settings.
    """
    await session.execute(delete(ContactTag).where(ContactTag.tag_id == tag.id))
    await session.execute(delete(PlanTrigger).where(PlanTrigger.tag_id == tag.id))
    await session.delete(tag)
    await session.flush()


async def tag_usage(session: AsyncSession, tag_ids: Sequence[str], *,
                    visible_to: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    """How many contacts carry each tag, and which plans each triggers among those agent `visible_to` can see
    (team plans and their own): another member's personal plan is never named (R-RULE-1)."""
    counts = dict((await session.execute(
        select(ContactTag.tag_id, func.count()).where(ContactTag.tag_id.in_(tag_ids)).group_by(ContactTag.tag_id)
    )).all())
    plans: dict[str, list[str]] = defaultdict(list)
    rows = await session.execute(
        select(PlanTrigger.tag_id, PlanTrigger.plan_id).join(Plan, Plan.id == PlanTrigger.plan_id)
        .where(PlanTrigger.tag_id.in_(tag_ids), or_(Plan.team_plan.is_(True), Plan.owner_agent_id == visible_to))
        .order_by(PlanTrigger.plan_id))
    for tag_id, plan_id in rows:
        plans[tag_id].append(plan_id)
    return counts, plans


async def tags_of_contacts(session: AsyncSession, contact_ids: Sequence[str]) -> dict[str, list[Tag]]:
    """Each contact's tags by name, in one query for a whole page of contacts."""
    found: dict[str, list[Tag]] = defaultdict(list)
    if not contact_ids:
        return found
    rows = await session.execute(
        select(ContactTag.contact_id, Tag).join(Tag, Tag.id == ContactTag.tag_id)
        .where(ContactTag.contact_id.in_(contact_ids)).order_by(Tag.name_key, Tag.id))
    for contact_id, tag in rows:
        found[contact_id].append(tag)
    return found


async def add_tag(session: AsyncSession, contact_id: str, tag_id: str, at: datetime) -> bool:
    """True when the tag is newly on the contact; False when it already was (then nothing may be triggered)."""
    if await session.get(ContactTag, (contact_id, tag_id)) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(ContactTag(contact_id=contact_id, tag_id=tag_id, added_at=at))
    except IntegrityError:  # the same tag added by a concurrent request: that one triggers, not this one
        return False
    return True


async def remove_tag(session: AsyncSession, contact_id: str, tag_id: str) -> bool:
    """R-RULE-2: only the tag goes; the contact stays in every plan the tag enrolled it in."""
    result = await session.execute(
        delete(ContactTag).where(ContactTag.contact_id == contact_id, ContactTag.tag_id == tag_id))
    return bool(getattr(result, "rowcount", 0))


async def triggered_plans(session: AsyncSession, tag_id: str, contact: Contact) -> list[Plan]:
    """Plans that enroll `contact` when `tag_id` is added to it (R-RULE-1).

    A team plan fires for every contact of the team; a personal plan only for its owner's contacts, owned by or
    assigned to the owner: a member tagging their own lead must not put it in the Rainmaker's personal plan, sending
    from the Rainmaker's number on the Rainmaker's credits. An inactive plan is listed too: it enrolls nobody
    (R-PLAN-8), and the tagging answer says so for it (`plan_inactive`), as for an empty one, instead of nothing.
    """
    owners = [agent_id for agent_id in (contact.owner_agent_id, contact.assignee_id) if agent_id is not None]
    rows = await session.scalars(
        select(Plan).join(PlanTrigger, PlanTrigger.plan_id == Plan.id)
        .where(PlanTrigger.tag_id == tag_id, Plan.team_id == contact.team_id,
               or_(Plan.team_plan.is_(True), Plan.owner_agent_id.in_(owners)))
        .order_by(Plan.id))
    return list(rows.all())


async def enroll_by_tag(sessions: async_sessionmaker[AsyncSession], client: Client, task_queue: str, *,
                        contact_id: str, plan_ids: Sequence[str], at: datetime) -> list[Result]:
    """Enroll the contact in each plan: the rows in one transaction, then the workflows together, as a batch
    enrollment does. A refusal (already in the plan, plan emptied or deactivated since) is reported to the caller
    and skips that plan only: a contact is never enrolled twice (R-ENR-1). So does a start that fails (Temporal
    unreachable): the tag is already committed, and one plan failing must not hide what the others did."""
    async with session_scope(sessions) as session:
        contact = await session.get(Contact, contact_id)
        plans = {plan.id: plan for plan in await session.scalars(select(Plan).where(Plan.id.in_(plan_ids)))}
        answers: list[Recorded | Result] = []
        for plan_id in plan_ids:
            plan = plans.get(plan_id)
            if plan is None or contact is None or plan.team_id != contact.team_id:
                answers.append(Result(plan_id, contact_id, "not_found",
                                      f"plan {plan_id} or contact {contact_id} not found"))
                continue
            answers += await record_enrollments(session, plan, [enrollee(contact)], source="tag", at=at)
    return await start_recorded(sessions, client, task_queue, answers)


async def plan_has_steps(session: AsyncSession, plan: Plan) -> bool:
    """R-RULE-4: the plan's saved current version holds at least one step."""
    version = await plan_version(session, plan.id, plan.current_version)
    if version is None:
        return False
    return any(True for _ in PlanDefinition.model_validate(version.definition).positions())


async def trigger_tags(session: AsyncSession, plan_id: str) -> list[Tag]:
    rows = await session.scalars(
        select(Tag).join(PlanTrigger, PlanTrigger.tag_id == Tag.id)
        .where(PlanTrigger.plan_id == plan_id).order_by(Tag.name_key, Tag.id))
    return list(rows.all())


async def set_triggers(session: AsyncSession, plan_id: str, tag_ids: Sequence[str]) -> None:
    """Replace the plan's triggers. Nothing is enrolled here: a trigger only acts on tags added later (R-RULE-1)."""
    wanted = set(tag_ids)
    current = set((await session.scalars(select(PlanTrigger.tag_id).where(PlanTrigger.plan_id == plan_id))).all())
    if current - wanted:
        await session.execute(delete(PlanTrigger).where(PlanTrigger.plan_id == plan_id,
                                                        PlanTrigger.tag_id.in_(current - wanted)))
    session.add_all(PlanTrigger(plan_id=plan_id, tag_id=tag_id) for tag_id in sorted(wanted - current))
    await session.flush()
