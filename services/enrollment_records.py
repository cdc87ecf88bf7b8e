"""What enrolling reads and writes, as plain records: the plan's facts (an ORM `Plan` or its columns) and the new
enrollment rows, which are inserted as values and never live in a session. On the busiest endpoint ORM entities
cost more than the statements that read and write them (issue 11, docs/performance.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Protocol


class PlanFacts(Protocol):
    """What enrolling, and deciding who sees a plan, read of it: an ORM `Plan`, or a `PlanRecord` of its columns."""

    @property
    def id(self) -> str: ...
    @property
    def team_id(self) -> str: ...
    @property
    def owner_agent_id(self) -> str | None: ...
    @property
    def team_plan(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def current_version(self) -> int: ...


@dataclass(frozen=True)
class PlanRecord:
    """A plan's columns without its ORM entity, as enrolling one contact by hand reads it: the busiest endpoint, where
    the entities cost a twentieth of the request's CPU (docs/performance.md, "The plan and the contact as columns")."""

    id: str
    team_id: str
    owner_agent_id: str | None
    team_plan: bool
    name: str
    active: bool
    current_version: int


class EnrollmentFacts(Protocol):
    """What starting an enrollment's workflow reads of its row: an ORM `Enrollment` (a row found again), or the
    `NewEnrollment` just inserted."""

    @property
    def id(self) -> str: ...
    @property
    def contact_id(self) -> str: ...
    @property
    def plan_id(self) -> str: ...
    @property
    def plan_version(self) -> int: ...
    @property
    def workflow_id(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def source_key(self) -> str | None: ...


@dataclass(frozen=True)
class NewEnrollment:
    """A row to insert, its columns by name: built for every contact enrolled, where an ORM `Enrollment` cost 13 µs
    to construct against the dataclass's 1 µs, for nothing (the insert is a statement on the table)."""

    id: str
    team_id: str
    plan_id: str
    contact_id: str
    plan_version: int
    workflow_id: str
    status: str
    source: str
    started_at: datetime
    source_key: str | None


# The row's columns, bound by name in the inserts.
NEW_ENROLLMENT_COLUMNS = tuple(field.name for field in fields(NewEnrollment))
