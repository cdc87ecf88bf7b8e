"""Saving plans: every save is a new version (R-PLAN-9 keeps them all); only a valid plan is saved.

Besides the document's own rules (`domain.validation`), a plan saved through the API must point at things it may
use: add-to-plan targets and design emails are checked against the database here, and all violations are reported
together with the document's. A design email chosen from the library gets its own copy of the design here, before
the version is saved (R-EMAIL-1), so the plan never changes when the library does. `schedule_context` is the one
place that resolves the account's time zone and slots for a plan, so a preview and the running workflow agree to
the minute.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import utcnow
from db.models import Agent, Design, Enrollment, Plan, PlanVersion, Team
from domain.account_settings import known_zone, merged_slots
from domain.ids import new_id
from domain.plan import AddToPlanStep, AnyStep, EmailStep, PlanDefinition
from domain.schedule import DEFAULT_TIME_ZONE, ScheduleContext
from domain.validation import PlanInvalid, Violation, ensure_valid, validate_plan, with_step_ids


def _step_id() -> str:
    return new_id("st")


async def create_plan(session: AsyncSession, *, team_id: str, owner_agent_id: str | None,
                      definition: PlanDefinition, plan_id: str | None = None) -> Plan:
    """A new plan at version 1. Raises `PlanInvalid` naming each broken rule. `plan_id` when the caller needs the id
    before the plan exists (plans copied together that add contacts to one another)."""
    definition = ensure_valid(with_step_ids(definition, _step_id))
    plan = Plan(id=plan_id or new_id("pl"), team_id=team_id,
                owner_agent_id=None if definition.team_plan else owner_agent_id, team_plan=definition.team_plan,
                name=definition.name, active=True, current_version=1)
    session.add(plan)
    await session.flush()
    session.add(PlanVersion(id=new_id("pv"), plan_id=plan.id, version=1,
                            definition=definition.model_dump(mode="json")))
    await session.flush()
    return plan


async def save_version(session: AsyncSession, plan: Plan, definition: PlanDefinition) -> PlanVersion:
    """The next version of `plan`; steps keep their ids so enrolled contacts follow by id."""
    definition = ensure_valid(with_step_ids(definition, _step_id))
    plan.current_version += 1
    plan.name = definition.name
    plan.updated_at = utcnow()
    version = PlanVersion(id=new_id("pv"), plan_id=plan.id, version=plan.current_version,
                          definition=definition.model_dump(mode="json"))
    session.add(version)
    await session.flush()
    return version


async def ensure_saveable(session: AsyncSession, definition: PlanDefinition, *, team_id: str,
                          owner_agent_id: str | None, plan: Plan | None = None) -> PlanDefinition:
    """The document to save — design emails chosen from the library carrying their copy — or `PlanInvalid` listing
    every broken rule: the document's own and its references.

    Kept apart from `create_plan`/`save_version` on purpose: workflow tests save plans pointing at missing designs
    and plans to prove the runtime failures; anything a person saves goes through this first.
    """
    owner = None if definition.team_plan else owner_agent_id
    definition = await with_design_copies(session, definition, team_id=team_id, owner_agent_id=owner)
    steps_before = await version_steps(session, plan.id) if plan is not None else []
    violations = validate_plan(definition)
    violations += await reference_violations(
        session, definition, team_id=team_id, owner_agent_id=owner, plan_id=plan.id if plan else None,
        known_designs={str(step["design_id"]) for step in steps_before if step.get("design_id")})
    if plan is not None:
        violations += step_id_violations(definition, {str(step["id"]) for step in steps_before if step.get("id")})
    if violations:
        raise PlanInvalid(violations)
    return definition


async def with_design_copies(session: AsyncSession, definition: PlanDefinition, *, team_id: str,
                             owner_agent_id: str | None) -> PlanDefinition:
    """Each design email chosen from the library (`design_id`, no `html` yet) gets its own copy of the design: the
    html, and the subject when the step has none (R-EMAIL-1). A step that has `html` keeps it: that is its edited
    copy. A design this plan cannot see is left for `reference_violations` to report."""
    wanted = {step.design_id for step in _design_steps(definition) if step.design_id and step.html is None}
    if not wanted:
        return definition
    found = {design.id: design for design in await visible_designs(session, wanted, team_id=team_id,
                                                                   owner_agent_id=owner_agent_id)}

    def copied(step: AnyStep) -> AnyStep:
        if not isinstance(step, EmailStep) or step.mode != "design" or step.html is not None:
            return step
        design = found.get(step.design_id or "")
        if design is None:
            return step
        return step.model_copy(update={"html": design.html,
                                       "subject": step.subject if step.subject.strip() else design.subject})

    return definition.map_steps(copied)


async def visible_designs(session: AsyncSession, ids: Iterable[str], *, team_id: str,
                          owner_agent_id: str | None) -> list[Design]:
    """Of `ids`, the designs a plan may use: the team library, and for a personal plan its owner's own designs."""
    return list(await session.scalars(select(Design).where(
        Design.id.in_(list(ids)), Design.team_id == team_id,
        _owned_by(Design.agent_id.is_(None), Design.agent_id, owner_agent_id))))


def _design_steps(definition: PlanDefinition) -> Iterable[EmailStep]:
    return (p.step for p in definition.positions() if isinstance(p.step, EmailStep) and p.step.mode == "design")


async def reference_violations(session: AsyncSession, definition: PlanDefinition, *, team_id: str,
                               owner_agent_id: str | None, plan_id: str | None,
                               known_designs: Collection[str] = ()) -> list[Violation]:
    """Add-to-plan targets and designs must be ones this plan can see (R-ADD-1, R-EMAIL-1).

    A team plan sees the team's plans and the team design library; a personal plan also sees its owner's own
    plans and designs. Anything else — another team's, another member's, missing — is reported as not found, so
    an id never reveals what another team has. A step holding its own copy may keep a `design_id` the plan already
    had (`known_designs`): it only says where the copy came from, and that design may have been deleted since.
    """
    targets: dict[str, list[str]] = {}
    designs: dict[str, list[str]] = {}
    for position in definition.positions():
        where = f"days[{position.day_index}].steps[{position.step_index}]"
        step = position.step
        if isinstance(step, AddToPlanStep) and step.target_plan_id.strip():
            targets.setdefault(step.target_plan_id, []).append(f"{where}.target_plan_id")
        elif (isinstance(step, EmailStep) and step.mode == "design" and step.design_id
              and (step.html is None or step.design_id not in known_designs)):
            designs.setdefault(step.design_id, []).append(f"{where}.design_id")
    out: list[Violation] = []
    if targets:
        found = set(await session.scalars(select(Plan.id).where(
            Plan.id.in_(targets), Plan.team_id == team_id,
            _owned_by(Plan.team_plan.is_(True), Plan.owner_agent_id, owner_agent_id))))
        for target, fields in targets.items():
            if target == plan_id:
                out += [Violation(f, "R-ADD-1", "a plan cannot add the contact to itself; use the repeat")
                        for f in fields]
            elif target not in found:
                out += [Violation(f, "R-ADD-1", f"plan {target} not found among the plans this plan can use "
                                  f"({_scope(owner_agent_id)})") for f in fields]
    if designs:
        found = {design.id for design in await visible_designs(session, designs, team_id=team_id,
                                                                owner_agent_id=owner_agent_id)}
        out += [Violation(f, "R-EMAIL-1", f"design {design} not found in the library this plan can use "
                          f"({_scope(owner_agent_id, 'designs')})")
                for design, fields in designs.items() if design not in found for f in fields]
    return out


def _owned_by(shared: Any, owner_column: Any, owner_agent_id: str | None) -> Any:
    return shared if owner_agent_id is None else or_(shared, owner_column == owner_agent_id)


def _scope(owner_agent_id: str | None, what: str = "plans") -> str:
    return f"the team's {what}" if owner_agent_id is None else f"the team's {what} and the owner's own"


def step_id_violations(definition: PlanDefinition, known: set[str]) -> list[Violation]:
    """On an edit, an id names a step this plan already had (R-PLAN-9 matches enrolled contacts by it); a new
    step is sent without one. An invented id could collide with one a contact already ran."""
    return [Violation(f"days[{p.day_index}].steps[{p.step_index}].id", "R-PLAN-9",
                      f"step id '{p.step.id}' is not a step of this plan; leave the id out for a new step")
            for p in definition.positions() if p.step.id is not None and p.step.id not in known]


async def version_steps(session: AsyncSession, plan_id: str) -> list[dict[str, Any]]:
    """The steps of every version of the plan, as saved: the step ids it has used (a step restored from an older
    version keeps its id) and the designs its copies came from."""
    return [step for document in await session.scalars(select(PlanVersion.definition)
                                                      .where(PlanVersion.plan_id == plan_id))
            for day in document.get("days", []) for step in day.get("steps", [])]


async def current_definition(session: AsyncSession, plan: Plan) -> PlanDefinition:
    document = await session.scalar(select(PlanVersion.definition).where(
        PlanVersion.plan_id == plan.id, PlanVersion.version == plan.current_version))
    if document is None:  # every plan is created with version 1 in the same transaction
        raise LookupError(f"plan {plan.id} has no version {plan.current_version}")
    return PlanDefinition.model_validate(document)


@dataclass(frozen=True)
class PlanRow:
    """A plan with its current document (raw JSON: listing must not pay for full validation of every plan)."""

    plan: Plan
    document: dict[str, Any]

    @property
    def step_count(self) -> int:
        return sum(len(day.get("steps", [])) for day in self.document.get("days", []))

    def steps(self) -> Iterable[dict[str, Any]]:
        return (step for day in self.document.get("days", []) for step in day.get("steps", []))


async def plans_with_documents(session: AsyncSession, team_id: str, *, visible_to: str | None = None,
                               everyone: bool = False, limit: int | None = None, offset: int = 0) -> list[PlanRow]:
    """The team's plans with their current documents: team plans plus `visible_to`'s personal ones, or every
    plan of the team with `everyone` (to find what still uses a design or links to a plan)."""
    query = (select(Plan, PlanVersion.definition)
             .join(PlanVersion, and_(PlanVersion.plan_id == Plan.id, PlanVersion.version == Plan.current_version))
             .where(Plan.team_id == team_id).order_by(Plan.name, Plan.id))
    if not everyone:
        query = query.where(or_(Plan.team_plan.is_(True), Plan.owner_agent_id == visible_to))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [PlanRow(plan, document) for plan, document in (await session.execute(query)).all()]


async def active_enrollment_counts(session: AsyncSession, plan_ids: Sequence[str]) -> dict[str, int]:
    """Contacts in each plan now: an enrollment being ended (removed, the plan deactivated) no longer counts, though
    its workflow may take a moment to write its end."""
    if not plan_ids:
        return {}
    rows = await session.execute(select(Enrollment.plan_id, func.count()).where(
        Enrollment.plan_id.in_(plan_ids), Enrollment.status == "active", Enrollment.removal_requested.is_(None))
        .group_by(Enrollment.plan_id))
    return {plan_id: int(count) for plan_id, count in rows.all()}


def account_schedule(team: Team | None, owner: Agent | None) -> tuple[str, dict[str, str]]:
    """The account time zone and slot times (R-PLAN-4): the owner's own settings, else the team's, else the
    defaults. A team plan has no owner, so it uses the team's. A stored value that is not a real zone or an `HH:MM`
    time (written before the settings were checked) is passed over for the layer below, so it can neither break a
    page nor stall an enrollment."""
    time_zone = (known_zone(owner.time_zone if owner else None) or known_zone(team.time_zone if team else None)
                 or DEFAULT_TIME_ZONE)
    return time_zone, merged_slots(team.slot_times if team else None, owner.slot_times if owner else None)


async def schedule_context(session: AsyncSession, plan: Plan, *, contact_time_zone: str | None,
                           spread_key: str) -> ScheduleContext:
    """What decides *when* for `plan`: shared by the preview and the enrollment workflow's context activity, so the
    calendar a person previews is the calendar the workflow runs."""
    team = await session.get(Team, plan.team_id)
    owner = await session.get(Agent, plan.owner_agent_id) if plan.owner_agent_id else None
    time_zone, slots = account_schedule(team, owner)
    return ScheduleContext(time_zone=time_zone, slot_times=slots, contact_time_zone=contact_time_zone,
                           spread_key=spread_key)
