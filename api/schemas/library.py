"""The shared library (R-LIB): publishing a plan, the entries every agent may browse, and copying one into your plans.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import Flag, Public, Request
from api.schemas.plans import DayPublic, PlanPublic
from domain.library import linked_plan_ids
from domain.plan import PlanDefinition, Repeat
from services.library import EntryView


class PublishRequest(Request):
    field_rules = {"include_linked": "R-LIB-3"}

    include_linked: Flag = Field(default=False, description="Publish the plans this plan adds contacts to (its "
                                 "add-to-plan steps, and theirs) in the same go (R-LIB-3). Without it, a plan linking "
                                 "to a plan not in the library yet is refused, listing those plans.")


class CopyRequest(Request):
    field_rules = {"team_plan": "R-TEAM-1"}

    team_plan: Flag = Field(default=False, description="Copy into team plans (R-TEAM-1: the Rainmaker or an "
                            "enhanced/unlimited member) instead of your personal plans.")


class LibraryEntrySummary(Public):
    id: str
    name: str
    author: str = Field(description="Who published it first")
    team: str = Field(description="The author's team")
    version: int = Field(description="1 at the first publication, one more at each publication since")
    published_at: datetime
    updated_at: datetime
    days: int = Field(description="How many days the plan has")
    last_day: int = Field(description="The day number of its last day: how long one pass lasts")
    steps: int
    design_count: int = Field(description="Design emails (at most 12, R-LIB-2)")
    linked_entry_ids: list[str] = Field(description="The entries its add-to-plan steps add contacts to; copied with "
                                        "it (R-LIB-5)")

    @classmethod
    def fields_of(cls, view: EntryView) -> dict[str, object]:
        entry, document = view.entry, PlanDefinition.model_validate(view.entry.definition)
        numbers = document.day_numbers()
        return {"id": entry.id, "name": entry.name, "author": view.author, "team": view.team,
                "version": entry.version, "published_at": entry.published_at, "updated_at": entry.updated_at,
                "days": len(document.days), "last_day": numbers[-1] if numbers else 0,
                "steps": sum(1 for _ in document.positions()), "design_count": entry.design_count,
                "linked_entry_ids": linked_plan_ids(document)}

    @classmethod
    def of(cls, view: EntryView) -> LibraryEntrySummary:
        return cls.model_validate(cls.fields_of(view))


class LibraryDocument(Public):
    """The published plan: its days and steps as the author saved them, without triggers or removal rules (R-LIB-1);
    add-to-plan steps name library entries, design emails carry their html."""

    name: str
    days: list[DayPublic]
    repeat: Repeat | None


class LibraryEntryPublic(LibraryEntrySummary):
    definition: LibraryDocument

    @classmethod
    def of(cls, view: EntryView) -> LibraryEntryPublic:
        document = PlanDefinition.model_validate(view.entry.definition)
        definition = LibraryDocument(name=document.name, days=DayPublic.all_of(document), repeat=document.repeat)
        return cls.model_validate({**cls.fields_of(view), "definition": definition})


class Publication(Public):
    entry: LibraryEntryPublic
    linked: list[LibraryEntryPublic] = Field(description="The linked plans' entries published with it "
                                             "(`include_linked`)")


class LibraryCopy(Public):
    plan: PlanPublic = Field(description="The copy of the entry: a new plan of yours, editable like any other")
    linked: list[PlanPublic] = Field(description="The copies of its linked entries, which its add-to-plan steps "
                                     "now add contacts to")


class LibraryWithdrawal(Public):
    removed: list[str] = Field(description="The entries taken out of the library: this one and every entry linking "
                               "to it, which could no longer be copied whole (R-LIB-3)")
    plan_ids: list[str] = Field(description="Their plans, which may be edited freely again (R-LIB-4) and published "
                                "again as new entries; copies already taken stay as they are")
