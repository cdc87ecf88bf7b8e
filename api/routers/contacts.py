"""Contacts of the caller's team, their tags (which may enroll them: R-RULE-1), timeline and enrollments."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.access import sees_plan, team_agent, team_record, unseen_plans
from api.deps import CurrentAgent, NowDep, SessionDep, SessionsDep, SettingsDep, TemporalDep, can_manage_team
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.paging import PageDep
from api.plan_privacy import UNSEEN, hide_unseen_plans
from api.schemas.contacts import (
    ContactCreate,
    ContactEnrollment,
    ContactPublic,
    ContactTagAdd,
    ContactTagged,
    ContactUpdate,
    TimelineEventPublic,
    TriggeredEnrollment,
)
from api.schemas.triggers import TagPublic
from db.base import utcnow
from db.models import Agent, Contact, ContactTag, Enrollment, Message, Plan, Tag, Task, TimelineEvent
from db.queries import write_timeline
from domain.ids import new_id
from domain.merge import full_name
from services.signals import timing_changed
from services.tags import add_tag, enroll_by_tag, remove_tag, tags_of_contacts, triggered_plans

router = APIRouter(tags=["contacts"])
# What a running enrollment loaded about its contact: a change is signalled so it counts from the next step on.
CONTEXT_FIELDS = {"time_zone", "first_name", "last_name", "email", "phone", "assignee_id"}



@router.post("/contacts", status_code=status.HTTP_201_CREATED, response_model=ContactPublic)
async def create_contact(body: ContactCreate, agent: CurrentAgent, session: SessionDep) -> ContactPublic:
    await _check_assignee(session, agent, body.assignee_id)
    contact = Contact(id=new_id("ct"), team_id=agent.team_id, owner_agent_id=agent.id,
                      **body.model_dump(mode="json"))
    session.add(contact)
    await session.flush()
    return (await _public(session, [contact]))[0]


@router.get("/contacts", response_model=list[ContactPublic])
async def list_contacts(agent: CurrentAgent, session: SessionDep, page: PageDep, request: Request,
                        response: Response, tag_id: str | None = None) -> list[ContactPublic]:
    """The team's contacts, oldest first; `tag_id` keeps those carrying that tag."""
    query = select(Contact).where(Contact.team_id == agent.team_id)
    if tag_id is not None:
        query = query.join(ContactTag, ContactTag.contact_id == Contact.id).where(ContactTag.tag_id == tag_id)
    contacts = page.cut((await session.scalars(
        query.order_by(Contact.created_at, Contact.id).limit(page.fetch).offset(page.offset))).all(), request, response)
    return await _public(session, contacts)


@router.get("/contacts/{contact_id}", response_model=ContactPublic)
async def get_contact(contact_id: str, agent: CurrentAgent, session: SessionDep) -> ContactPublic:
    return (await _public(session, [await _contact(session, agent, contact_id)]))[0]


@router.patch("/contacts/{contact_id}", response_model=ContactPublic)
async def update_contact(contact_id: str, body: ContactUpdate, agent: CurrentAgent, session: SessionDep,
                         client: TemporalDep) -> ContactPublic:
    contact = await _contact(session, agent, contact_id)
    changes = body.model_dump(mode="json", exclude_unset=True)
    opt_out = changes.pop("opted_out", None)
    if opt_out is False:
        raise Invalid("opted_out", "R-TXT-4", "only the contact can opt back in, by texting START; an agent may only "
                      "opt a contact out")
    if "assignee_id" in changes:
        await _check_assignee(session, agent, changes["assignee_id"])
    listed_before = contact.do_not_call
    for name, value in changes.items():
        setattr(contact, name, value)
    if opt_out and not contact.opted_out:
        await _opt_out_by_hand(session, agent, contact)
    if contact.do_not_call != listed_before:
        await _do_not_call_by_hand(session, agent, contact)
    await session.flush()
    public = (await _public(session, [contact]))[0]
    if CONTEXT_FIELDS & changes.keys():
        # R-TXT-3: the new zone (and name, for the labels) counts from each running enrollment's next step.
        await timing_changed(client, session, what="contact " + ", ".join(sorted(CONTEXT_FIELDS & changes.keys())),
                             contact_id=contact.id)
    return public


@router.delete("/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_contact(contact_id: str, agent: CurrentAgent, session: SessionDep) -> Response:
    """Only a contact with no history can be deleted.

    Sends, skips, tasks and timeline events are the compliance record (R-COMP-2), and the contact row holds its
    opt-out and Do-Not-Call state (R-TXT-4); deleting them would let the contact be texted again if re-added.
    While an enrollment is active the answer names it, so it can be removed first (DELETE /enrollments/{id}); one
    in a plan the caller cannot see is only counted, with who can remove it (R-RULE-1).
    """
    contact = await _contact(session, agent, contact_id)
    if contact.owner_agent_id != agent.id and not can_manage_team(agent):
        raise Forbidden("only the contact's owner, the Rainmaker or an enhanced/unlimited member deletes contacts")
    active = (await session.execute(
        select(Enrollment.id, Enrollment.plan_id).where(Enrollment.contact_id == contact.id,
                                                        Enrollment.status == "active")
        .order_by(Enrollment.id))).all()
    if active:
        raise Conflict(await _still_enrolled(session, agent, contact.id, [(e, p) for e, p in active]))
    history = {label: await _count(session, model, contact.id) for label, model in (
        ("enrollments", Enrollment), ("timeline events", TimelineEvent), ("messages", Message), ("tasks", Task))}
    if any(history.values()):
        held = ", ".join(f"{count} {label}" for label, count in history.items() if count)
        raise Conflict(f"contact {contact.id} has history ({held}), kept as the compliance record; "
                       "it cannot be deleted")
    try:
        async with session.begin_nested():
            await session.delete(contact)  # its tags go with it (ON DELETE CASCADE)
    except IntegrityError as err:
        raise Conflict(f"contact {contact.id} is still referenced (e.g. by a lead) and cannot be deleted") from err
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/contacts/{contact_id}/timeline", response_model=list[TimelineEventPublic])
async def contact_timeline(contact_id: str, agent: CurrentAgent, session: SessionDep, page: PageDep,
                           request: Request, response: Response) -> list[TimelineEventPublic]:
    """Newest first; ids are time-ordered, so events at the same instant keep the order they were written in."""
    contact = await _contact(session, agent, contact_id)
    events = page.cut((await session.scalars(
        select(TimelineEvent).where(TimelineEvent.contact_id == contact.id)
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc()).limit(page.fetch).offset(page.offset))).all(),
        request, response)
    return await hide_unseen_plans(session, agent, [TimelineEventPublic.model_validate(event) for event in events])


@router.get("/contacts/{contact_id}/enrollments", response_model=list[ContactEnrollment])
async def contact_enrollments(contact_id: str, agent: CurrentAgent, session: SessionDep, page: PageDep,
                              request: Request, response: Response) -> list[ContactEnrollment]:
    """Every enrollment of the contact, newest first, finished ones included, except those in plans the caller
    cannot see (R-RULE-1): each would be an id the caller gets 404 for, naming the plan. They are left out in the
    query, so pages stay full."""
    contact = await _contact(session, agent, contact_id)
    query = select(Enrollment).where(Enrollment.contact_id == contact.id)
    unseen = await unseen_plans(session, agent, (await session.scalars(
        select(Enrollment.plan_id).where(Enrollment.contact_id == contact.id).distinct())).all())
    if unseen:
        query = query.where(Enrollment.plan_id.not_in(unseen))
    rows = page.cut((await session.scalars(query.order_by(Enrollment.started_at.desc(), Enrollment.id.desc())
                                           .limit(page.fetch).offset(page.offset))).all(), request, response)
    return [ContactEnrollment.model_validate(row) for row in rows]


@router.post("/contacts/{contact_id}/tags", response_model=ContactTagged)
async def tag_contact(contact_id: str, body: ContactTagAdd, agent: CurrentAgent, session: SessionDep,
                      sessions: SessionsDep, temporal: TemporalDep, settings: SettingsDep,
                      now: NowDep) -> ContactTagged:
    """Adding a tag enrolls the contact in every active plan it triggers for this contact (R-RULE-1: team plans, and
    the personal plans of the agent who owns it or is assigned to it); re-adding does nothing. The answer lists the
    plans the caller can see: a teammate's personal plan the contact entered is not named."""
    contact = await _contact(session, agent, contact_id)
    tag = await session.get(Tag, body.tag_id)
    if tag is None or tag.team_id != agent.team_id:
        raise Invalid("tag_id", "team_tag", f"tag {body.tag_id} is not a tag of your team")
    added = await add_tag(session, contact.id, tag.id, now)
    plans = await triggered_plans(session, tag.id, contact) if added else []
    shown = {plan.id for plan in plans if sees_plan(agent, plan)}
    plan_ids = [plan.id for plan in plans]
    # `enroll` runs its own transactions (it commits the row before starting the workflow), and SQLite admits
    # one writer at a time: the tag is committed first, so it stays even if a plan refuses the contact.
    await session.commit()
    outcomes = await enroll_by_tag(sessions, temporal, settings.temporal_task_queue, contact_id=contact.id,
                                   plan_ids=plan_ids, at=now)
    return ContactTagged(contact=(await _public(session, [contact]))[0], added=added,
                         enrollments=[TriggeredEnrollment(plan_id=o.plan_id, enrollment_id=o.enrollment_id,
                                                          outcome=o.outcome, detail=o.detail)
                                      for o in outcomes if o.plan_id in shown])


@router.delete("/contacts/{contact_id}/tags/{tag_id}", status_code=status.HTTP_204_NO_CONTENT)
async def untag_contact(contact_id: str, tag_id: str, agent: CurrentAgent, session: SessionDep) -> Response:
    """R-RULE-2: the contact stays in every plan the tag enrolled it in."""
    contact = await _contact(session, agent, contact_id)
    tag = await team_record(session, Tag, tag_id, agent, "tag")
    if not await remove_tag(session, contact.id, tag.id):
        raise NotFound("tag on contact", f"{tag_id} on {contact.id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _contact(session: SessionDep, agent: Agent, contact_id: str) -> Contact:
    return await team_record(session, Contact, contact_id, agent, "contact")


async def _still_enrolled(session: SessionDep, agent: Agent, contact_id: str,
                          active: list[tuple[str, str]]) -> str:
    """Why the contact cannot be deleted yet. Enrollments in plans the caller sees are named, to be removed first;
    the others are counted with their plans' owners, who alone can remove them (R-RULE-1: never the plan's name or
    id, nor an enrollment id the caller would get 404 for)."""
    unseen = await unseen_plans(session, agent, (plan_id for _, plan_id in active))
    shown = [f"{enrollment_id} (plan {plan_id})" for enrollment_id, plan_id in active if plan_id not in unseen]
    said = f"contact {contact_id} is still enrolled"
    if shown:
        said += f": {', '.join(shown)}; remove those enrollments first"
    if unseen:
        owners = sorted({full_name(first, last) for first, last in await session.execute(
            select(Agent.first_name, Agent.last_name).join(Plan, Plan.owner_agent_id == Agent.id)
            .where(Plan.id.in_(unseen)))})
        count = sum(plan_id in unseen for _, plan_id in active)  # one active enrollment per plan (R-ENR-1)
        plans = UNSEEN if count == 1 else f"{count} plans you cannot see"
        whose = f"{'its' if count == 1 else 'their'} owner{'s' if len(owners) > 1 else ''}"
        said += (f"{'; it is also' if shown else ''} in {plans}, which only {whose}, {' and '.join(owners)}, "
                 "can remove it from")
    return said


async def _opt_out_by_hand(session: SessionDep, agent: Agent, contact: Contact) -> None:
    """R-TXT-4: takes effect for every pending text at once, since each send attempt reads the flag. Marking a
    contact already out again changes nothing (its first opt-out instant and event stay the record)."""
    now = utcnow()
    contact.opted_out, contact.opted_out_at = True, now
    await write_timeline(session, team_id=contact.team_id, contact_id=contact.id, kind="opted_out", at=now,
                         detail=f"Opted out of texts by {full_name(agent.first_name, agent.last_name)}",
                         idempotency_key=None)


async def _do_not_call_by_hand(session: SessionDep, agent: Agent, contact: Contact) -> None:
    """R-TXT-4, R-COMP-2: who put the contact on the Do-Not-Call list, or took them off it, and when, is on the
    record like an opt-out: it decides whether plans text or call them."""
    change = "Put on" if contact.do_not_call else "Taken off"
    await write_timeline(session, team_id=contact.team_id, contact_id=contact.id,
                         kind="do_not_call" if contact.do_not_call else "do_not_call_cleared", at=utcnow(),
                         detail=f"{change} the Do-Not-Call list by {full_name(agent.first_name, agent.last_name)}",
                         idempotency_key=None)


async def _check_assignee(session: SessionDep, agent: Agent, assignee_id: str | None) -> None:
    if assignee_id is not None:
        await team_agent(session, agent, assignee_id, "assignee_id")


async def _count(session: SessionDep, model: type[Enrollment | TimelineEvent | Message | Task],
                 contact_id: str) -> int:
    count = await session.scalar(select(func.count()).select_from(model).where(model.contact_id == contact_id))
    return int(count or 0)


async def _public(session: SessionDep, contacts: list[Contact]) -> list[ContactPublic]:
    tags = await tags_of_contacts(session, [c.id for c in contacts])
    return [ContactPublic.model_validate(c).model_copy(
        update={"tags": [TagPublic.model_validate(t) for t in tags.get(c.id, [])]}) for c in contacts]
