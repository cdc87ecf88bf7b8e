"""Whose credits a step uses (R-TEAM-2, R-TEAM-3, R-TXT-5): the plan owner, or on a team plan the designated agent."""

from __future__ import annotations

from dataclasses import dataclass

from domain.plan import AnyStep, Designated, EmailStep, TextStep


@dataclass(frozen=True)
class TeamDefaults:
    task_assignee: Designated = Designated.RAINMAKER
    email_sender: Designated = Designated.RAINMAKER
    text_sender: Designated = Designated.RAINMAKER


def designated_role(step: AnyStep, defaults: TeamDefaults) -> Designated:
    """A step's own override wins; otherwise the team default for its kind (text tasks count as texts)."""
    if step.assignee is not None:
        return step.assignee
    if isinstance(step, EmailStep):
        return defaults.email_sender
    if isinstance(step, TextStep):
        return defaults.text_sender
    return defaults.task_assignee


def designated_agent_id(role: Designated, rainmaker_id: str, contact_assignee_id: str | None) -> str:
    """The agent for a role; a contact with no assignee falls back to the Rainmaker, who always exists."""
    if role is Designated.CONTACT_ASSIGNEE and contact_assignee_id:
        return contact_assignee_id
    return rainmaker_id
