"""Email designs (R-EMAIL-1): saved HTML a design email step sends. `team: true` puts a design in the team library
(the one team plans draw from); otherwise it is the caller's own."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import Flag, Public, Request
from db.models import Design
from domain.limits import MAX_HTML


class DesignUpdate(Request):
    field_rules = {"name": "R-EMAIL-1", "subject": "R-EMAIL-1", "html": "R-EMAIL-1"}

    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=200)
    html: str = Field(min_length=1, max_length=MAX_HTML)


class DesignCreate(DesignUpdate):
    field_rules = {**DesignUpdate.field_rules, "team": "R-TEAM-1"}
    team: Flag = False


class DesignPublic(Public):
    id: str
    name: str
    subject: str
    html: str
    team: bool
    agent_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, design: Design) -> DesignPublic:
        return cls(id=design.id, name=design.name, subject=design.subject, html=design.html,
                   team=design.agent_id is None, agent_id=design.agent_id, created_at=design.created_at)
