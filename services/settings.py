"""Account settings changes: everything a change must pass is checked before anything is written (R-PLAN-4).

Slot times are layered (defaults, the team's, an agent's own), so one change can break the order of more than the
layer it touches: a team's morning moved to 11:30 crosses a member's own 11:00 afternoon. Each account the change
reaches is checked on its merged times: the team's (what team plans run on), the caller's own, and every member
with own times the team change would cross.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Agent, Team
from domain.account_settings import (
    SLOT_NAMES,
    merged_slots,
    order_violations,
    slot_overrides,
    updated_overrides,
)
from domain.merge import full_name
from domain.validation import Violation


def _layer(stored: object, changes: Mapping[str, Any], field: str) -> tuple[dict[str, str], set[str]]:
    """The layer after the change, and the slots the change sets (all of them when it clears the layer)."""
    if field not in changes:
        return slot_overrides(stored), set()
    update = changes[field]
    return updated_overrides(stored, update), set(update) if update is not None else set(SLOT_NAMES)


async def slot_time_violations(session: AsyncSession, agent: Agent, team: Team,
                               changes: Mapping[str, Any]) -> list[Violation]:
    """Every slot order the change would break, each named at the field the caller sent."""
    team_layer, team_changed = _layer(team.slot_times, changes, "team_slot_times")
    own_layer, own_changed = _layer(agent.slot_times, changes, "slot_times")
    out: list[Violation] = []
    if team_changed:
        out += order_violations(merged_slots(team_layer), field="team_slot_times", changed=team_changed,
                                whose="the team's ")
    if own_changed:
        # Pairs of the team's own times were reported above (or were there before this change).
        out += order_violations(merged_slots(team_layer, own_layer), field="slot_times", changed=own_changed,
                                concerns=set(own_layer) | own_changed, whose="your ")
    if team_changed and not out:  # members' times are compared with team times that are in order themselves
        members = await session.scalars(select(Agent).where(Agent.team_id == team.id).order_by(Agent.id))
        for member in members:
            own = slot_overrides(member.slot_times)
            if not own or (member.id == agent.id and own_changed):
                continue
            whose = "your" if member.id == agent.id else f"{full_name(member.first_name, member.last_name)}'s"
            out += [v for v in order_violations(merged_slots(team_layer, own), field="team_slot_times",
                                                changed=team_changed, concerns=own, whose=f"with {whose} own times, ")
                    if v.field.rpartition(".")[2] not in own]
    return out
