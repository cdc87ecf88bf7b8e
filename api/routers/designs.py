"""Email designs (R-EMAIL-1): the team library (`agent_id` NULL, managed by those who manage team plans) and each
agent's own designs. Another team's design, or another member's own, is 404."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import or_, select

from api.deps import CurrentAgent, SessionDep, can_manage_team
from api.errors import Conflict, Forbidden, Invalid, NotFound
from api.paging import PageDep
from api.schemas.designs import DesignCreate, DesignPublic, DesignUpdate
from db.models import Agent, Design
from domain.ids import new_id
from domain.merge import merge_problems
from services.plans import plans_with_documents

router = APIRouter(tags=["designs"])


@router.post("/designs", status_code=status.HTTP_201_CREATED, response_model=DesignPublic)
async def create_design(body: DesignCreate, agent: CurrentAgent, session: SessionDep) -> DesignPublic:
    if body.team and not can_manage_team(agent):
        raise Forbidden("the team library is managed by the Rainmaker or enhanced/unlimited members (R-TEAM-1)")
    _check_merge_fields(body)
    design = Design(id=new_id("ds"), team_id=agent.team_id, agent_id=None if body.team else agent.id,
                    name=body.name, subject=body.subject, html=body.html)
    session.add(design)
    await session.flush()
    return DesignPublic.of(design)


@router.get("/designs", response_model=list[DesignPublic])
async def list_designs(agent: CurrentAgent, session: SessionDep, page: PageDep, request: Request,
                       response: Response) -> list[DesignPublic]:
    """The team library and the caller's own designs, by name."""
    designs = page.cut((await session.scalars(select(Design).where(
        Design.team_id == agent.team_id, or_(Design.agent_id.is_(None), Design.agent_id == agent.id),
    ).order_by(Design.name, Design.id).limit(page.fetch).offset(page.offset))).all(), request, response)
    return [DesignPublic.of(design) for design in designs]


@router.get("/designs/{design_id}", response_model=DesignPublic)
async def get_design(design_id: str, agent: CurrentAgent, session: SessionDep) -> DesignPublic:
    return DesignPublic.of(await _visible(session, agent, design_id))


@router.put("/designs/{design_id}", response_model=DesignPublic)
async def update_design(design_id: str, body: DesignUpdate, agent: CurrentAgent, session: SessionDep) -> DesignPublic:
    """Saved plans are not changed: each design email step holds its own copy, taken when the plan was saved
    (R-EMAIL-1). Plans saved from now on copy the new content."""
    design = await _editable(session, agent, design_id)
    _check_merge_fields(body)
    design.name, design.subject, design.html = body.name, body.subject, body.html
    await session.flush()
    return DesignPublic.of(design)


@router.delete("/designs/{design_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_design(design_id: str, agent: CurrentAgent, session: SessionDep) -> Response:
    """Plans keep sending their own copies of it (R-EMAIL-1). Refused only while a plan's current version has a design
    email saved before steps held copies that still sends the library design: that email would fail for every
    enrolled contact. Saving such a plan again gives its steps their copy."""
    design = await _editable(session, agent, design_id)
    users = [f"'{row.plan.name}' ({row.plan.id})" for row in await plans_with_documents(session, agent.team_id,
                                                                                         everyone=True)
             if any(step.get("kind") == "email" and step.get("mode") == "design" and step.get("html") is None
                    and step.get("design_id") == design.id for step in row.steps())]
    if users:
        raise Conflict(f"design '{design.name}' is still sent from the library by plan {', '.join(users)}, saved "
                       "before email steps kept their own copy; save those plans again (their steps then keep a "
                       "copy of the design), then delete it")
    await session.delete(design)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _check_merge_fields(body: DesignUpdate) -> None:
    """R-MERGE-1: a typo in a merge field is refused when saved, not mailed to a client verbatim."""
    for field, value in (("subject", body.subject), ("html", body.html)):
        problems = merge_problems(value)
        if problems:
            raise Invalid(field, "R-MERGE-1", problems[0])


async def _visible(session: SessionDep, agent: Agent, design_id: str) -> Design:
    design = await session.get(Design, design_id)
    if design is None or design.team_id != agent.team_id or design.agent_id not in (None, agent.id):
        raise NotFound("design", design_id)
    return design


async def _editable(session: SessionDep, agent: Agent, design_id: str) -> Design:
    design = await _visible(session, agent, design_id)
    if design.agent_id is None and not can_manage_team(agent):
        raise Forbidden("the team library is managed by the Rainmaker or enhanced/unlimited members (R-TEAM-1)")
    return design
