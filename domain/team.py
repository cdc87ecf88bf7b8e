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


@dataclass(frozen=True)
class Designation:
    agent_id: str
    # The step asked for the contact's assignee and the contact has none: the Rainmaker stands in (R-TEAM-3), and
    # the contact's timeline says so, or the team would never learn why its member got no task.
    fell_back: bool = False


def designate(role: Designated, rainmaker_id: str, contact_assignee_id: str | None) -> Designation:
    """The agent for a role, resolved when the step runs so a reassigned contact's next step follows the new
    assignee; a contact with no assignee falls back to the Rainmaker, who always exists."""
    if role is Designated.CONTACT_ASSIGNEE:
        if contact_assignee_id:
            return Designation(contact_assignee_id)
        return Designation(rainmaker_id, fell_back=True)
    return Designation(rainmaker_id)
