"""Plans: create, read, edit (a new version running enrollments follow), activate/deactivate, duplicate, delete and
preview the exact calendar a contact would get.

Who sees what: a team's plans are visible to all its agents; a personal plan only to its owner. Anything else is
404, never 403, so an id reveals nothing about another team. Team plans are changed only by those who manage the
team (R-TEAM-1); a member reading one may not edit it (403).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal

from fastapi import APIRouter, Request, Response, status

from api.access import TEAM_PLAN_ROLE, editable_plan, team_record, visible_plan
from api.deps import CurrentAgent, SessionDep, SettingsDep, TemporalDep, can_manage_team
from api.errors import Conflict, Forbidden, Invalid
from api.paging import PageDep
from api.schemas.common import REQUEST_FIELDS
from api.schemas.plans import (
    PlanCreate,
    PlanImport,
    PlanPublic,
    PlanSummary,
    PlanUpdate,
    PreviewRequest,
    PreviewStep,
)
from db.models import Contact, Plan
from domain.plan import AnyStep, describe_step
from domain.plan_import import Imported, from_builder_list
from domain.schedule import StepFate, preview
from domain.validation import PlanInvalid
from domain.windows import zone
from services import library, plan_lifecycle
from services.plans import (
    active_enrollment_counts,
    create_plan,
    current_definition,
    ensure_saveable,
    plans_with_documents,
    schedule_context,
)
from services.progress import step_parties, texting_agents
from workflows.types import enrollment_workflow_id

router = APIRouter(tags=["plans"])

@router.post("/plans", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def create(body: PlanCreate, agent: CurrentAgent, session: SessionDep) -> PlanPublic:
    if body.team_plan and not can_manage_team(agent):
        raise Forbidden(TEAM_PLAN_ROLE)
    definition = await ensure_saveable(session, body.definition(body.team_plan), team_id=agent.team_id,
                                       owner_agent_id=agent.id)
    plan = await create_plan(session, team_id=agent.team_id, owner_agent_id=agent.id, definition=definition)
    return PlanPublic.of(plan, await current_definition(session, plan))


@router.post("/plans/import", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def import_plan(body: PlanImport, agent: CurrentAgent, session: SessionDep) -> PlanPublic:
    """R-PLAN-6: a plan written in the older builder's shape (one list; "Set Delay" and "Restart Flow" as steps),
    saved as the ordinary plan it describes, which `GET /plans/{id}` then shows in days."""
    if body.team_plan and not can_manage_team(agent):
        raise Forbidden(TEAM_PLAN_ROLE)
    imported = from_builder_list(body.name, body.team_plan, body.steps)
    if not isinstance(imported, Imported):
        raise PlanInvalid(imported)
    try:
        definition = await ensure_saveable(session, imported.definition, team_id=agent.team_id,
                                           owner_agent_id=agent.id)
    except PlanInvalid as err:
        raise PlanInvalid([imported.placed(v) for v in err.violations]) from None
    plan = await create_plan(session, team_id=agent.team_id, owner_agent_id=agent.id, definition=definition)
    return PlanPublic.of(plan, await current_definition(session, plan))


@router.get("/plans", response_model=list[PlanSummary])
async def list_plans(agent: CurrentAgent, session: SessionDep, page: PageDep, request: Request,
                     response: Response) -> list[PlanSummary]:
    """The team's plans and the caller's own, by name, with what a list needs (no per-plan queries)."""
    rows = page.cut(await plans_with_documents(session, agent.team_id, visible_to=agent.id, limit=page.fetch,
                                               offset=page.offset), request, response)
    counts = await active_enrollment_counts(session, [row.plan.id for row in rows])
    return [PlanSummary(id=row.plan.id, name=row.plan.name, team_plan=row.plan.team_plan,
                        owner_agent_id=row.plan.owner_agent_id, active=row.plan.active,
                        current_version=row.plan.current_version, step_count=row.step_count,
                        active_enrollments=counts.get(row.plan.id, 0)) for row in rows]


@router.get("/plans/{plan_id}", response_model=PlanPublic)
async def get_plan(plan_id: str, agent: CurrentAgent, session: SessionDep) -> PlanPublic:
    plan = await visible_plan(session, agent, plan_id)
    return PlanPublic.of(plan, await current_definition(session, plan))


@router.put("/plans/{plan_id}", response_model=PlanPublic)
async def update_plan(plan_id: str, body: PlanUpdate, agent: CurrentAgent, session: SessionDep,
                      temporal: TemporalDep) -> PlanPublic:
    """A new version (every version is kept); active enrollments follow it from their next step (R-PLAN-9). A plan in
    the shared library may change only its name, texts and task descriptions (R-LIB-4, 409 otherwise)."""
    plan = await editable_plan(session, agent, plan_id)
    _check_as_read(body, plan)
    definition = await ensure_saveable(session, body.definition(plan.team_plan), team_id=plan.team_id,
                                       owner_agent_id=plan.owner_agent_id, plan=plan)
    current = await current_definition(session, plan)
    if definition.model_dump(mode="json") == current.model_dump(mode="json"):
        return PlanPublic.of(plan, current)  # sent back as read: no new version, nobody to tell
    emptying = await plan_lifecycle.emptying_refusal(session, plan, definition)
    if emptying is not None:
        raise Conflict(emptying)
    published = await library.edit_refusal(session, plan, definition)  # R-LIB-4
    if published is not None:
        raise Conflict(published)
    await plan_lifecycle.save_and_notify(session, temporal, plan, definition)
    return PlanPublic.of(plan, await current_definition(session, plan))


def _check_as_read(body: PlanUpdate, plan: Plan) -> None:
    """The fields of `GET /plans/{id}` beside the document, sent back: each as the plan has it (a different one
    names what changes it), and the version read still the current one (else someone's edit would be lost)."""
    sent = body.model_fields_set
    if body.team_plan is not None and body.team_plan != plan.team_plan:
        raise Invalid("team_plan", "R-PLAN-1", f"this is a {'team' if plan.team_plan else 'personal'} plan and stays "
                      "one; duplicate it to start from a copy")
    if "id" in sent and body.id != plan.id:
        raise Invalid("id", REQUEST_FIELDS, f"this is plan {plan.id}; the id is the path's, not the body's")
    if "owner_agent_id" in sent and body.owner_agent_id != plan.owner_agent_id:
        raise Invalid("owner_agent_id", "R-PLAN-1", "a plan never changes owner; duplicate it to start from a copy")
    if "active" in sent and body.active != plan.active:
        raise Invalid("active", "R-PLAN-8", f"a plan is {'de' if plan.active else ''}activated with "
                      f"POST /plans/{plan.id}/{'deactivate' if plan.active else 'activate'}, not by an edit")
    rules = body.removal_rules
    if rules is not None and (rules.on_email_reply, rules.on_text_reply) != (plan.on_email_reply, plan.on_text_reply):
        raise Invalid("removal_rules", "R-RULE-5", f"removal rules change with PUT /plans/{plan.id}/removal-rules, "
                      "not by an edit")
    if body.version is not None and body.version != plan.current_version:
        raise Conflict(f"plan '{plan.name}' has changed since you read it: you read version {body.version}, it is at "
                       f"version {plan.current_version}; read it again and make your change on that")


@router.delete("/plans/{plan_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_plan(plan_id: str, agent: CurrentAgent, session: SessionDep) -> Response:
    """Refused while contacts are enrolled (deactivating ends them first) or another plan adds contacts to it."""
    plan = await editable_plan(session, agent, plan_id)
    blockers = await plan_lifecycle.deletion_blockers(session, plan)
    if blockers:
        raise Conflict("; ".join(blockers))
    await plan_lifecycle.delete_plan(session, plan)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/plans/{plan_id}/activate", response_model=PlanSummary)
async def activate(plan_id: str, agent: CurrentAgent, session: SessionDep) -> PlanSummary:
    plan = await editable_plan(session, agent, plan_id)
    plan.active = True
    await session.flush()
    return await _summary(session, plan)


@router.post("/plans/{plan_id}/deactivate", response_model=PlanSummary)
async def deactivate(plan_id: str, agent: CurrentAgent, session: SessionDep, temporal: TemporalDep) -> PlanSummary:
    """R-PLAN-8: every enrollment ends (each with a timeline event); nothing new is enrolled while inactive."""
    plan = await editable_plan(session, agent, plan_id)
    await plan_lifecycle.deactivate(session, temporal, plan)
    return await _summary(session, plan)


@router.post("/plans/{plan_id}/duplicate", status_code=status.HTTP_201_CREATED, response_model=PlanPublic)
async def duplicate(plan_id: str, agent: CurrentAgent, session: SessionDep) -> PlanPublic:
    """R-PLAN-10: an editable copy of the same kind (a team plan's copy is a team plan, so R-TEAM-1 applies)."""
    copy = await plan_lifecycle.duplicate(session, await editable_plan(session, agent, plan_id))
    return PlanPublic.of(copy, await current_definition(session, copy))


@router.post("/plans/{plan_id}/preview", response_model=list[PreviewStep])
async def preview_plan(plan_id: str, body: PreviewRequest, agent: CurrentAgent, session: SessionDep,
                       settings: SettingsDep) -> list[PreviewStep]:
    """Exactly when each step would run for a contact enrolled at `start_at`: the schedule code and account settings
    the enrollment workflow uses, with the same text spread when `contact_id` is given.

    With a contact, each step is resolved as its workflow will (R-TEAM-2/3): labels name the step's own agent, and an
    automated text shows what its attempt will find as things stand: skipped for a contact on Do-Not-Call or opted
    out (R-TXT-4) or a personal plan's owner without Twilio, or the text task a team text becomes, at the task's
    time (R-TXT-5, R-TASK-2). Without one nobody is designated yet, so steps read as the plan writes them."""
    plan = await visible_plan(session, agent, plan_id)
    contact_zone, spread_key, parties = body.contact_time_zone, plan.id, None
    fate: Callable[[AnyStep], StepFate | None] | None = None
    if body.contact_id is not None:
        contact = await team_record(session, Contact, body.contact_id, agent, "contact")
        contact_zone = contact_zone or contact.time_zone
        spread_key = enrollment_workflow_id(plan.id, contact.id)
        parties = await step_parties(session, plan, contact)
        texting = await texting_agents(session, parties, settings)
        fate = partial(parties.step_fate, texting=texting, contact=contact)
    ctx = await schedule_context(session, plan, contact_time_zone=contact_zone, spread_key=spread_key)
    account_zone = zone(ctx.time_zone)  # always a real zone: `schedule_context` passes over bad stored ones
    steps = preview(await current_definition(session, plan), body.start_at, ctx, body.passes, fate)
    return [PreviewStep(repeat=s.repeat, day=s.day_number, step_id=s.step_id, kind=s.step.kind,
                        label=describe_step(s.step, parties.merge_values(s.step) if parties else None, s.repeat,
                                            as_task=s.as_task),
                        fire_at=s.fire_at.astimezone(account_zone), outcome=_OUTCOMES[s.verdict],
                        reason=s.reason or None) for s in steps]


_OUTCOMES: dict[str | None, Literal["runs", "skipped", "fails"]] = {None: "runs", "skipped": "skipped",
                                                                     "failed": "fails"}


async def _summary(session: SessionDep, plan: Plan) -> PlanSummary:
    definition = await current_definition(session, plan)
    counts = await active_enrollment_counts(session, [plan.id])
    return PlanSummary(id=plan.id, name=plan.name, team_plan=plan.team_plan, owner_agent_id=plan.owner_agent_id,
                       active=plan.active, current_version=plan.current_version,
                       step_count=sum(1 for _ in definition.positions()), active_enrollments=counts.get(plan.id, 0))

