"""The shared library (R-LIB): publishing a plan with the plans it links to, browsing, copying an entry with its
linked entries into new plans of the copier, and taking an entry out again.

The rules on documents are `domain.library`'s; who may publish or copy is the API's. Every refusal is decided
before anything is written, and publishing or copying several plans is one transaction, so a refusal leaves nothing
half-done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Agent, LibraryEntry, Plan, Team
from domain.ids import new_id
from domain.library import (
    copied_document,
    design_email_count,
    design_limit_violation,
    library_document,
    linked_plan_ids,
    published_edit_refusal,
    published_edit_violations,
    uncopied_design_violations,
)
from domain.merge import full_name
from domain.plan import PlanDefinition
from domain.validation import Violation
from services.plans import create_plan, current_definition, with_design_copies


@dataclass(frozen=True)
class Linked:
    """A plan and every plan its add-to-plan steps reach, transitively (cycles allowed), root first."""

    plans: list[tuple[Plan, PlanDefinition]]
    missing: list[str]  # targets that no longer exist (deleting a linked plan is refused, so: none)


@dataclass(frozen=True)
class EntryView:
    entry: LibraryEntry
    author: str
    team: str


async def linked_plans(session: AsyncSession, root: Plan) -> Linked:
    """R-LIB-3: what has to be in the library with `root`. Each document is as it would be published: design emails
    saved before steps held copies get their copy now (the author's library is not the copier's)."""
    found: list[tuple[Plan, PlanDefinition]] = []
    missing: list[str] = []
    queue, seen = [root], {root.id}
    while queue:
        plan = queue.pop(0)
        definition = await with_design_copies(session, await current_definition(session, plan), team_id=plan.team_id,
                                              owner_agent_id=plan.owner_agent_id)
        found.append((plan, definition))
        for target_id in linked_plan_ids(definition):
            if target_id in seen:
                continue
            seen.add(target_id)
            target = await session.get(Plan, target_id)
            if target is None or target.team_id != root.team_id:
                missing.append(target_id)
            else:
                queue.append(target)
    return Linked(found, missing)


async def entries_by_plan(session: AsyncSession, plan_ids: Sequence[str]) -> dict[str, LibraryEntry]:
    entries = await session.scalars(select(LibraryEntry).where(LibraryEntry.source_plan_id.in_(plan_ids)))
    return {entry.source_plan_id: entry for entry in entries if entry.source_plan_id is not None}


def publish_violations(plan: Plan, definition: PlanDefinition) -> list[Violation]:
    """Why `plan` cannot be published as it is (R-LIB-2; a design email without a copy), each naming the plan."""
    problems = [*filter(None, [design_limit_violation(definition)]), *uncopied_design_violations(definition)]
    if not any(day.steps for day in definition.days):
        # Nobody could be enrolled in it or in a copy, and once published its author could not add steps (R-LIB-4).
        problems.insert(0, Violation("days", "R-PLAN-3", "a plan without steps cannot be published; add its steps "
                                     "first"))
    return [Violation(v.field, v.rule, f"plan '{plan.name}' ({plan.id}): {v.message}") for v in problems]


def unpublished_links_refusal(root: Plan, linked: Linked, entries: dict[str, LibraryEntry]) -> str | None:
    """R-LIB-3 without `include_linked`: the linked plans not in the library yet, each by name and id."""
    waiting = [f"'{plan.name}' ({plan.id})" for plan, _ in linked.plans[1:] if plan.id not in entries]
    if not waiting:
        return None
    return (f"plan '{root.name}' adds contacts to {'plans' if len(waiting) > 1 else 'a plan'} not in the shared "
            f"library yet: {', '.join(waiting)}. A plan is published together with the plans it adds contacts to "
            "(R-LIB-3): send {\"include_linked\": true} to publish them all at once")


async def publish(session: AsyncSession, plans: Sequence[tuple[Plan, PlanDefinition]], *, author: Agent,
                  entries: dict[str, LibraryEntry]) -> list[LibraryEntry]:
    """Publish `plans` (already checked) in one go: a plan's first publication creates its entry, a later one
    updates it (version + 1). Links point at the linked plans' entries: `entries` holds those already published."""
    now = utcnow()
    published = []
    for plan, _ in plans:
        entry = entries.get(plan.id)
        if entry is None:
            entry = LibraryEntry(id=new_id("lib"), source_plan_id=plan.id, author_agent_id=author.id,
                                 author_team_id=plan.team_id, name=plan.name, definition={}, version=0,
                                 design_count=0, published_at=now)
            session.add(entry)
            entries[plan.id] = entry
        published.append(entry)
    entry_ids = {plan_id: entry.id for plan_id, entry in entries.items()}
    for (_, definition), entry in zip(plans, published, strict=True):
        entry.name = definition.name
        entry.definition = library_document(definition, entry_ids).model_dump(mode="json")
        entry.design_count = design_email_count(definition)
        entry.version += 1
        entry.updated_at = now
    await session.flush()
    return published


async def edit_refusal(session: AsyncSession, plan: Plan, definition: PlanDefinition) -> str | None:
    """R-LIB-4: once a plan is in the library, an edit may change only its name, texts and task descriptions."""
    if not await entries_by_plan(session, [plan.id]):
        return None
    violations = published_edit_violations(await current_definition(session, plan), definition)
    return published_edit_refusal(plan.id, plan.name, violations[0]) if violations else None


async def entry_views(session: AsyncSession, *, entry_id: str | None = None, limit: int = 50,
                      offset: int = 0) -> list[EntryView]:
    """Entries with their author's and team's names, newest publication first (or the one `entry_id`)."""
    query = (select(LibraryEntry, Agent.first_name, Agent.last_name, Team.name)
             .join(Agent, Agent.id == LibraryEntry.author_agent_id).join(Team, Team.id == LibraryEntry.author_team_id))
    if entry_id is not None:
        query = query.where(LibraryEntry.id == entry_id)
    query = query.order_by(LibraryEntry.published_at.desc(), LibraryEntry.id.desc()).limit(limit).offset(offset)
    return [EntryView(entry, full_name(first, last), team) for entry, first, last, team in
            (await session.execute(query)).all()]


async def copy_entry(session: AsyncSession, entry: LibraryEntry, *, agent: Agent, team_plan: bool) -> list[Plan]:
    """R-LIB-5: the entry and, transitively, the entries it links to as new plans of `agent` (a personal plan, or
    the team's), active at version 1, named as published, their add-to-plan steps pointing at one another. The
    entry's plan comes first. An entry leaves the library only with every entry linking to it (`withdrawal`), so
    every link is found."""
    documents: dict[str, PlanDefinition] = {}
    queue = [entry]
    while queue:
        current = queue.pop(0)
        documents[current.id] = document = PlanDefinition.model_validate(current.definition)
        wanted = [i for i in linked_plan_ids(document) if i not in documents and i not in {e.id for e in queue}]
        if wanted:
            queue += (await session.scalars(select(LibraryEntry).where(LibraryEntry.id.in_(wanted)))).all()
    plan_ids = {entry_id: new_id("pl") for entry_id in documents}
    return [await create_plan(session, team_id=agent.team_id, owner_agent_id=agent.id, plan_id=plan_ids[entry_id],
                              definition=copied_document(document, plan_ids, team_plan=team_plan))
            for entry_id, document in documents.items()]


async def withdrawal(session: AsyncSession, entry: LibraryEntry) -> list[LibraryEntry]:
    """The entries that leave the library with `entry`: itself and every entry that links to it, directly or through
    others, which could no longer be copied whole (R-LIB-3, R-LIB-5). Linked entries are published together, by one
    team, so only that team's entries are read."""
    team_entries = list(await session.scalars(select(LibraryEntry).where(
        LibraryEntry.author_team_id == entry.author_team_id)))
    links = {each.id: set(linked_plan_ids(PlanDefinition.model_validate(each.definition))) for each in team_entries}
    going = {entry.id}
    while True:
        more = {each for each, targets in links.items() if each not in going and targets & going}
        if not more:
            return [each for each in team_entries if each.id in going]
        going |= more
