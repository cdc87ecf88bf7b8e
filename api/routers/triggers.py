"""The team's tags, the tags that trigger a plan (R-RULE-1..4) and a plan's removal rules (R-RULE-5)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from api.access import editable_plan, team_record, visible_plan
from api.deps import CurrentAgent, SessionDep, can_manage_team
from api.errors import Conflict, Forbidden, Invalid
from api.paging import PageDep
from api.schemas.triggers import (
    RemovalRulesPublic,
    RemovalRulesUpdate,
    TagCreate,
    TagDetail,
    TagPublic,
    TagUpdate,
    TriggersPublic,
    TriggersUpdate,
)
from db.models import Agent, Plan, Tag
from services.tags import (
    MAX_TRIGGERS,
    create_tag,
    delete_tag,
    plan_has_steps,
    rename_tag,
    set_triggers,
    tag_usage,
    team_tags,
    trigger_tags,
)

router = APIRouter(tags=["tags and triggers"])

_MANAGE = "the Rainmaker or an enhanced/unlimited member"


@router.post("/tags", status_code=status.HTTP_201_CREATED, response_model=TagDetail)
async def create(body: TagCreate, agent: CurrentAgent, session: SessionDep) -> TagDetail:
    tag = await create_tag(session, agent.team_id, body.name)
    if tag is None:
        raise Conflict(f"your team already has a tag named '{body.name}' (tag names ignore case)")
    return (await _details(session, agent, [tag]))[0]


@router.get("/tags", response_model=list[TagDetail])
async def list_tags(agent: CurrentAgent, session: SessionDep, page: PageDep, request: Request,
                    response: Response) -> list[TagDetail]:
    tags = await team_tags(session, agent.team_id, limit=page.fetch, offset=page.offset)
    return await _details(session, agent, page.cut(tags, request, response))


@router.get("/tags/{tag_id}", response_model=TagDetail)
async def get_tag(tag_id: str, agent: CurrentAgent, session: SessionDep) -> TagDetail:
    return (await _details(session, agent, [await _tag(session, agent, tag_id)]))[0]


@router.patch("/tags/{tag_id}", response_model=TagDetail)
async def rename(tag_id: str, body: TagUpdate, agent: CurrentAgent, session: SessionDep) -> TagDetail:
    """R-RULE-3: plans trigger on the tag itself, so every trigger follows the new name."""
    tag = await _tag(session, agent, tag_id, manage=True)
    if not await rename_tag(session, tag, body.name):
        raise Conflict(f"your team already has a tag named '{body.name}' (tag names ignore case)")
    return (await _details(session, agent, [tag]))[0]


@router.delete("/tags/{tag_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete(tag_id: str, agent: CurrentAgent, session: SessionDep) -> Response:
    """R-RULE-3: the tag leaves every contact and every plan's triggers; enrollments it made go on (R-RULE-2)."""
    await delete_tag(session, await _tag(session, agent, tag_id, manage=True))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/plans/{plan_id}/triggers", response_model=TriggersPublic)
async def get_triggers(plan_id: str, agent: CurrentAgent, session: SessionDep) -> TriggersPublic:
    plan = await visible_plan(session, agent, plan_id)
    return await _triggers(session, plan)


@router.put("/plans/{plan_id}/triggers", response_model=TriggersPublic)
async def put_triggers(plan_id: str, body: TriggersUpdate, agent: CurrentAgent, session: SessionDep) -> TriggersPublic:
    """Replace the plan's trigger tags. Nobody is enrolled now: only tags added to contacts from now on enroll
    (R-RULE-1, "going forward")."""
    plan = await editable_plan(session, agent, plan_id)
    tag_ids = list(dict.fromkeys(body.tag_ids))  # a repeated id is one trigger
    if len(tag_ids) > MAX_TRIGGERS:
        raise Invalid("tag_ids", "R-RULE-1",
                      f"a plan has at most {MAX_TRIGGERS} tag triggers; {len(tag_ids)} given (R-RULE-1)")
    known = {tag.id for tag in await team_tags(session, agent.team_id, tag_ids)}
    unknown = [tag_id for tag_id in tag_ids if tag_id not in known]
    if unknown:
        raise Invalid("tag_ids", "team_tag", f"not tags of your team: {', '.join(unknown)}")
    if tag_ids and not await plan_has_steps(session, plan):
        raise Invalid("tag_ids", "R-RULE-4",
                      f"plan '{plan.name}' has no steps: add at least one step and save it before adding "
                      "triggers (R-RULE-4)")
    await set_triggers(session, plan.id, tag_ids)
    return await _triggers(session, plan)


@router.get("/plans/{plan_id}/removal-rules", response_model=RemovalRulesPublic)
async def get_removal_rules(plan_id: str, agent: CurrentAgent, session: SessionDep) -> RemovalRulesPublic:
    plan = await visible_plan(session, agent, plan_id)
    return RemovalRulesPublic(plan_id=plan.id, on_email_reply=plan.on_email_reply, on_text_reply=plan.on_text_reply)


@router.put("/plans/{plan_id}/removal-rules", response_model=RemovalRulesPublic)
async def put_removal_rules(plan_id: str, body: RemovalRulesUpdate, agent: CurrentAgent,
                            session: SessionDep) -> RemovalRulesPublic:
    """R-RULE-5. Running enrollments read the rules when a reply arrives, so a change applies to them at once."""
    plan = await editable_plan(session, agent, plan_id)
    plan.on_email_reply, plan.on_text_reply = body.on_email_reply, body.on_text_reply
    await session.flush()
    return RemovalRulesPublic(plan_id=plan.id, on_email_reply=plan.on_email_reply, on_text_reply=plan.on_text_reply)


async def _tag(session: SessionDep, agent: Agent, tag_id: str, *, manage: bool = False) -> Tag:
    tag = await team_record(session, Tag, tag_id, agent, "tag")
    if manage and not can_manage_team(agent):
        # A rename or delete changes every teammate's contacts and plan triggers (R-RULE-3).
        raise Forbidden(f"renaming or deleting a team tag needs {_MANAGE}")
    return tag


async def _triggers(session: SessionDep, plan: Plan) -> TriggersPublic:
    tags = await trigger_tags(session, plan.id)
    return TriggersPublic(plan_id=plan.id, tag_ids=[tag.id for tag in tags],
                          tags=[TagPublic.model_validate(tag) for tag in tags])


async def _details(session: SessionDep, agent: Agent, tags: list[Tag]) -> list[TagDetail]:
    counts, plans = await tag_usage(session, [tag.id for tag in tags], visible_to=agent.id)
    return [TagDetail(id=tag.id, name=tag.name, created_at=tag.created_at, contacts=counts.get(tag.id, 0),
                      plan_ids=plans.get(tag.id, [])) for tag in tags]
