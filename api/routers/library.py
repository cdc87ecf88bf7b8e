"""The shared library (R-LIB): publish a plan (with the plans it links to), browse what every team published, copy
an entry (with its linked entries) into your own plans.

Publishing needs the right to edit the plan: its owner for a personal plan, a manager for a team plan (R-TEAM-1);
another team's plan, or another member's personal one, is 404. The library itself is shared by every team: any
agent browses it and copies from it. Every refusal comes before anything is written.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.exc import IntegrityError

from api.access import TEAM_PLAN_ROLE, visible_plan
from api.deps import CurrentAgent, SessionDep, can_manage_team
from api.errors import Conflict, Forbidden, InvalidFields, NotFound
from api.paging import Offset, Page
from api.schemas.library import (
    CopyRequest,
    LibraryCopy,
    LibraryEntryPublic,
    LibraryEntrySummary,
    LibraryWithdrawal,
    Publication,
    PublishRequest,
)
from api.schemas.plans import PlanPublic
from db.models import LibraryEntry
from services import library
from services.plans import current_definition

router = APIRouter(tags=["shared library"])

PageSize = Annotated[int, Query(ge=1, le=200)]


@router.post("/plans/{plan_id}/publish", response_model=Publication)
async def publish(plan_id: str, agent: CurrentAgent, session: SessionDep,
                  body: PublishRequest | None = None) -> Publication:
    """Publish the plan to the shared library, or publish its changes again (the entry's `version` goes up; copies
    already taken stay as they are). The published copy has no tag triggers or removal rules (R-LIB-1), at most 12
    design emails (R-LIB-2), and comes with the plans it adds contacts to (R-LIB-3). Answers 200 with the entry and
    the linked entries published with it, on the first publication as on later ones."""
    plan = await visible_plan(session, agent, plan_id)
    linked = await library.linked_plans(session, plan)
    if linked.missing:
        raise Conflict(f"plan '{plan.name}' adds contacts to plans that no longer exist ({', '.join(linked.missing)})"
                       "; edit those add-to-plan steps first")
    include_linked = body is not None and body.include_linked  # no body: every field's default
    chosen = linked.plans if include_linked else linked.plans[:1]
    for each, _ in chosen:
        if each.team_plan and not can_manage_team(agent):
            raise Forbidden(TEAM_PLAN_ROLE if each is plan else
                            f"plan '{plan.name}' adds contacts to team plan '{each.name}' ({each.id}), which "
                            f"would be published with it: {TEAM_PLAN_ROLE}")
    violations = [v for each, definition in chosen for v in library.publish_violations(each, definition)]
    if violations:
        raise InvalidFields(violations)
    entries = await library.entries_by_plan(session, [each.id for each, _ in linked.plans])
    refusal = None if include_linked else library.unpublished_links_refusal(plan, linked, entries)
    if refusal is not None:
        raise Conflict(refusal)
    name = plan.name  # read now: a failed flush leaves the session unusable until the request rolls back
    try:
        published = await library.publish(session, chosen, author=agent, entries=entries)
    except IntegrityError as err:  # another request published one of these plans first (one entry per plan)
        raise Conflict(f"plan '{name}' was being published by another request at the same time; "
                       "publish it again") from err
    views = {view.entry.id: view for view in await _views(session, [entry.id for entry in published])}
    first, *others = (LibraryEntryPublic.of(views[entry.id]) for entry in published)
    return Publication(entry=first, linked=others)


@router.get("/library", response_model=list[LibraryEntrySummary])
async def browse(agent: CurrentAgent, session: SessionDep, request: Request, response: Response,
                 limit: PageSize = 50, offset: Offset = 0) -> list[LibraryEntrySummary]:
    """Every team's published plans, the newest publication first (R-LIB-5); `limit` up to 200 a page."""
    page = Page(limit=limit, offset=offset)
    views = await library.entry_views(session, limit=page.fetch, offset=offset)
    return [LibraryEntrySummary.of(view) for view in page.cut(views, request, response)]


@router.get("/library/{entry_id}", response_model=LibraryEntryPublic)
async def get_entry(entry_id: str, agent: CurrentAgent, session: SessionDep) -> LibraryEntryPublic:
    (view,) = await _views(session, [entry_id])
    return LibraryEntryPublic.of(view)


@router.post("/library/{entry_id}/copy", status_code=status.HTTP_201_CREATED, response_model=LibraryCopy)
async def copy(entry_id: str, agent: CurrentAgent, session: SessionDep,
               body: CopyRequest | None = None) -> LibraryCopy:
    """R-LIB-5: the entry, and the entries it links to, as new plans of yours — personal, or with `team_plan` the
    team's — active and editable like any plan, their add-to-plan steps pointing at one another. Design emails come
    with their html (without the author's design id); a personal copy drops team-plan step assignees."""
    team_plan = body is not None and body.team_plan  # no body: every field's default
    if team_plan and not can_manage_team(agent):
        raise Forbidden(TEAM_PLAN_ROLE)
    entry = await session.get(LibraryEntry, entry_id)
    if entry is None:
        raise NotFound("library entry", entry_id)
    first, *others = [PlanPublic.of(plan, await current_definition(session, plan))
                      for plan in await library.copy_entry(session, entry, agent=agent, team_plan=team_plan)]
    return LibraryCopy(plan=first, linked=others)


@router.delete("/library/{entry_id}", response_model=LibraryWithdrawal)
async def withdraw(entry_id: str, agent: CurrentAgent, session: SessionDep) -> LibraryWithdrawal:
    """Take an entry out of the shared library, with every entry that links to it (R-LIB-3: they could no longer be
    copied whole). Its author may, or the Rainmaker or an enhanced/unlimited member of the author's team (R-TEAM-1).
    The plans may then be edited freely (R-LIB-4); copies already taken are plans of their own and stay."""
    entry = await session.get(LibraryEntry, entry_id)
    if entry is None:
        raise NotFound("library entry", entry_id)
    going = await library.withdrawal(session, entry)
    others = [each for each in going if each.author_agent_id != agent.id
              and not (each.author_team_id == agent.team_id and can_manage_team(agent))]
    if others:
        raise Forbidden(f"only their author or a manager of the author's team may take these entries out of the "
                        f"library: {', '.join(f'{each.name!r} ({each.id})' for each in others)} (R-TEAM-1)")
    for each in going:
        await session.delete(each)
    return LibraryWithdrawal(removed=[each.id for each in going],
                             plan_ids=[each.source_plan_id for each in going if each.source_plan_id])


async def _views(session: SessionDep, entry_ids: list[str]) -> list[library.EntryView]:
    views = [view for entry_id in entry_ids for view in await library.entry_views(session, entry_id=entry_id)]
    if len(views) != len(entry_ids):
        raise NotFound("library entry", ", ".join(entry_ids))
    return views
