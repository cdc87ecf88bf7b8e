"""Merge fields (R-MERGE-1): `{contact.first.name}` and friends in names, bodies, subjects and texts.

Anything shaped like a merge field (braces around dotted lowercase words) must be a known field: a typo such as
`{contact.frist.name}` is refused when the plan is saved rather than mailed to a client verbatim. Braces that
do not look like a field (CSS in a design email, a lone `{`) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MERGE_FIELD = re.compile(r"\{\s*([a-z_]+(?:\.[a-z_]+)+)\s*\}")

KNOWN_FIELDS: tuple[str, ...] = (
    "contact.first.name",
    "contact.last.name",
    "contact.full.name",
    "contact.email",
    "contact.phone",
    "agent.first.name",
    "agent.last.name",
    "agent.full.name",
    "agent.email",
    "agent.phone",
)


def unknown_fields(text: str | None) -> list[str]:
    if not text:
        return []
    return [name for name in MERGE_FIELD.findall(text) if name not in KNOWN_FIELDS]


def full_name(first: str | None, last: str | None) -> str:
    """"Dana Smith", or whichever part exists: the name the timeline, the UI and `{*.full.name}` show."""
    return " ".join(part for part in (first, last) if part)


@dataclass(frozen=True)
class Person:
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None

    @property
    def full_name(self) -> str:
        return full_name(self.first_name, self.last_name)


def merge_values(contact: Person, agent: Person) -> dict[str, str]:
    values: dict[str, str] = {}
    for prefix, person in (("contact", contact), ("agent", agent)):
        values[f"{prefix}.first.name"] = person.first_name or ""
        values[f"{prefix}.last.name"] = person.last_name or ""
        values[f"{prefix}.full.name"] = person.full_name
        values[f"{prefix}.email"] = person.email or ""
        values[f"{prefix}.phone"] = person.phone or ""
    return values


def render(text: str | None, values: Mapping[str, str]) -> str:
    """Fill every known field; a known field with no value renders as empty text (R-MERGE-1)."""
    if not text:
        return ""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return MERGE_FIELD.sub(replace, text)
