"""A plan's life after it is saved: edits running enrollments follow (R-PLAN-9), deactivation (R-PLAN-8),
duplication (R-PLAN-10) and deletion.

The database is what the workflows read, so an edit or a deactivation is committed *before* the enrollments are
signalled: a workflow that reloads its plan on `plan_changed` must find the new version (on PostgreSQL an
uncommitted row is invisible to the worker; on SQLite the request holds the write lock until it commits). That is
why `save_and_notify` and `deactivate` commit, unlike the rest of the services.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from db.models import Enrollment, LibraryEntry, Plan, PlanVersion, Task
from domain.limits import MAX_NAME
from domain.plan import PlanDefinition
from services.enrollments import request_removal
from services.plans import create_plan, current_definition, plans_with_documents, save_version
from services.signals import signal_each
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import PlanChanged, RemoveRequest


async def save_and_notify(session: AsyncSession, client: Client, plan: Plan, definition: PlanDefinition) -> int:
    """Save the next version, commit, then tell every active enrollment to follow it from its next step.
    Returns how many enrollments were told."""
    version = await save_version(session, plan, definition)
    workflow_ids = await active_workflow_ids(session, plan.id)
    await session.commit()
    change = PlanChanged(version=version.version)
    return await signal_each(client, workflow_ids, lambda handle: handle.signal(EnrollmentWorkflow.plan_changed,
                                                                                 change))


async def deactivate(session: AsyncSession, client: Client, plan: Plan) -> int:
    """R-PLAN-8: inactive first (nothing new is enrolled from the commit on), with every enrollment's removal marked
    in the same commit (no send decides after it: R-ENR-2), then every enrollment ends with a timeline event. A
    workflow the signal misses ends the same way when its next run finds the plan inactive."""
    plan.active = False
    workflow_ids = await active_workflow_ids(session, plan.id)
    await request_removal(session, "plan_deactivated", Enrollment.plan_id == plan.id)
    await session.commit()
    request = RemoveRequest(reason="plan_deactivated")
    return await signal_each(client, workflow_ids, lambda handle: handle.signal(EnrollmentWorkflow.remove, request))


async def emptying_refusal(session: AsyncSession, plan: Plan, definition: PlanDefinition) -> str | None:
    """Why `definition` may not replace `plan`'s steps, or None. A plan its contacts are in keeps a step (R-PLAN-3):
    saved with none, every enrollment would find nothing left to run and finish at once, a plan's worth of follow-up
    ended by an edit. Ending them is deactivating (R-PLAN-8), which says so on each contact's timeline."""
    if any(day.steps for day in definition.days):
        return None
    enrolled = len(await active_workflow_ids(session, plan.id))
    if not enrolled:
        return None
    contacts = "1 contact is" if enrolled == 1 else f"{enrolled} contacts are"
    return (f"{contacts} in plan '{plan.name}', so it keeps at least one step (R-PLAN-3); deactivate it to end "
            "their enrollments (R-PLAN-8)")


async def active_workflow_ids(session: AsyncSession, plan_id: str) -> list[str]:
    return list(await session.scalars(select(Enrollment.workflow_id).where(
        Enrollment.plan_id == plan_id, Enrollment.status == "active")))


async def duplicate(session: AsyncSession, plan: Plan) -> Plan:
    """R-PLAN-10: "Copy of …" at version 1, active, with fresh step ids (the copy's steps are new steps, not the
    original's) and the same owner. Removal rules are copied — they are how the plan behaves and do nothing until a
    contact is enrolled; tag triggers are not, since a trigger in two plans would enroll every tagged contact twice.
    """
    definition = (await current_definition(session, plan)).map_steps(lambda step: step.model_copy(update={"id": None}))
    name = f"Copy of {plan.name}"[:MAX_NAME]
    copy = await create_plan(session, team_id=plan.team_id, owner_agent_id=plan.owner_agent_id,
                             definition=definition.model_copy(update={"name": name}))
    copy.on_email_reply, copy.on_text_reply = plan.on_email_reply, plan.on_text_reply
    await session.flush()
    return copy


async def deletion_blockers(session: AsyncSession, plan: Plan) -> list[str]:
    """Why `plan` cannot be deleted now, in words a person can act on (empty: it can be)."""
    blockers = []
    active = int(await session.scalar(select(func.count()).select_from(Enrollment).where(
        Enrollment.plan_id == plan.id, Enrollment.status == "active")) or 0)
    if active:
        blockers.append(f"plan '{plan.name}' has {active} active enrollment{'s' if active != 1 else ''}; "
                        f"deactivate it first (that ends them), then delete it")
    linkers = [row.plan for row in await plans_with_documents(session, plan.team_id, everyone=True)
               if row.plan.id != plan.id and any(step.get("kind") == "add_to_plan"
                                                 and step.get("target_plan_id") == plan.id for step in row.steps())]
    published = {entry.source_plan_id: entry.id for entry in await session.scalars(
        select(LibraryEntry).where(LibraryEntry.source_plan_id.in_([linker.id for linker in linkers])))}
    for linker in linkers:
        said = f"plan '{linker.name}' ({linker.id}) adds contacts to it; edit that step first"
        if linker.id in published:  # R-LIB-4 keeps its steps as published: the way out is said
            said += (f" (it is in the shared library, which keeps its steps as published: take it out with "
                     f"DELETE /library/{published[linker.id]} to edit it)")
        blockers.append(said)
    return blockers


async def delete_plan(session: AsyncSession, plan: Plan) -> None:
    """Delete the plan, its versions and its finished enrollments. The contacts' history stays: timeline events,
    tasks and messages keep the plan id as a plain column; tasks just lose their link to the enrollment row. Its
    shared-library entry stays too, for others to copy, but can no longer be published again."""
    await session.execute(update(LibraryEntry).where(LibraryEntry.source_plan_id == plan.id)
                          .values(source_plan_id=None))
    enrollments = select(Enrollment.id).where(Enrollment.plan_id == plan.id).scalar_subquery()
    await session.execute(update(Task).where(Task.enrollment_id.in_(enrollments)).values(enrollment_id=None))
    await session.execute(delete(Enrollment).where(Enrollment.plan_id == plan.id))
    await session.execute(delete(PlanVersion).where(PlanVersion.plan_id == plan.id))
    await session.execute(delete(Plan).where(Plan.id == plan.id))
