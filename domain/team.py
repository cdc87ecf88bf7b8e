"""Whose credits a step uses (R-TEAM-2, R-TEAM-3, R-TXT-5): the plan owner, or on a team plan the designated agent.

One resolution serves the step that runs (`activities.parties.load_parties`) and everything a person reads about it
(progress, the preview, the Temporal UI's summaries, through `StepParties`), so a label never names an agent other
than the one the message goes from or the task goes to.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from domain.merge import Person, merge_values
from domain.plan import AnyStep, Designated, EmailStep, TextStep
from domain.schedule import StepFate
from domain.texting import Reachable, by_hand_blocked, email_blocked, text_blocked


class TeamSettings(Protocol):
    """A team row, as far as its step defaults go (R-TEAM-2)."""

    @property
    def default_task_assignee(self) -> str: ...
    @property
    def default_email_sender(self) -> str: ...
    @property
    def default_text_sender(self) -> str: ...


@dataclass(frozen=True)
class TeamDefaults:
    task_assignee: Designated = Designated.RAINMAKER
    email_sender: Designated = Designated.RAINMAKER
    text_sender: Designated = Designated.RAINMAKER

    @classmethod
    def of(cls, team: TeamSettings) -> TeamDefaults:
        return cls(Designated(team.default_task_assignee), Designated(team.default_email_sender),
                   Designated(team.default_text_sender))


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


def designation_for(step: AnyStep, *, team_plan: bool, owner_id: str | None, defaults: TeamDefaults,
                    rainmaker_id: str, contact_assignee_id: str | None) -> Designation:
    """The agent a step acts as: a personal plan's owner, else the team role the step designates (R-TEAM-2),
    resolved from the contact's assignee as it is now (R-TEAM-3)."""
    if not team_plan and owner_id is not None:
        return Designation(owner_id)
    return designate(designated_role(step, defaults), rainmaker_id, contact_assignee_id)


def can_text(from_number: str | None, account_sid: str | None, auth_token: str | None, *, outbox: bool) -> bool:
    """Whether an agent has the Twilio setup R-TXT-5 asks for. The outbox (development) sends nothing, so a number
    is enough there; live texts need the account and a token (the agent's own or the deployment's)."""
    if outbox:
        return bool(from_number)
    return bool(from_number and account_sid and auth_token)


class StepParties(BaseModel):
    """Who each step of one enrollment involves, as far as what a person reads about it needs: the contact, and
    every agent a step of the plan may act as. Loaded with the enrollment's context, so the workflow renders each
    step's labels for that step's own agent (R-MERGE-1) without I/O, by the resolution the step itself uses."""

    model_config = ConfigDict(frozen=True)

    team_plan: bool = False
    owner_id: str | None = None
    rainmaker_id: str = ""
    contact_assignee_id: str | None = None
    defaults: TeamDefaults = Field(default_factory=TeamDefaults)
    contact: Person = Field(default_factory=Person)
    agents: dict[str, Person] = Field(default_factory=dict)

    def designation(self, step: AnyStep) -> Designation:
        return designation_for(step, team_plan=self.team_plan, owner_id=self.owner_id, defaults=self.defaults,
                               rainmaker_id=self.rainmaker_id, contact_assignee_id=self.contact_assignee_id)

    def merge_values(self, step: AnyStep) -> dict[str, str]:
        """The values the step's message or task is rendered with when it runs: `{agent.*}` is its agent."""
        return merge_values(self.contact, self.agents.get(self.designation(step).agent_id, Person()))

    def step_fate(self, step: AnyStep, texting: Container[str], contact: Reachable) -> StepFate | None:
        """What the attempt of `step` will find for `contact` (None: it runs), as the attempt decides it. An email
        is skipped for a contact without an address or unsubscribed (R-EMAIL-4). A task to text or call the contact
        by hand is not made for one no plan may text or call (R-TXT-4). An automated text looks at the contact first
        (R-TXT-4), then at the step's agent among `texting`, those with Twilio (R-TXT-5): a team plan's text becomes
        that agent's text task, a personal plan's is skipped."""
        if isinstance(step, EmailStep):
            unsent = email_blocked(contact)
            return None if unsent is None else StepFate(skipped=f"Email not sent: {unsent}")
        if not (isinstance(step, TextStep) and step.mode == "automated"):
            by_hand = by_hand_blocked(step, contact)
            return None if by_hand is None else StepFate(skipped=by_hand)
        blocked = text_blocked(contact)
        if blocked is not None:
            return StepFate(skipped=f"Text not sent: {blocked}")
        agent_id = self.designation(step).agent_id
        if agent_id in texting:
            return None
        if self.team_plan:
            return StepFate(as_task=True)
        return StepFate(skipped=f"Text not sent: {self.agents.get(agent_id, Person()).full_name} has no Twilio setup")
