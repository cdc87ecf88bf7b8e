"""Merge fields (R-MERGE-1): `{contact.first.name}` and friends in names, bodies, subjects and texts.

Anything shaped like a merge field — braces around dotted words, in any case — must be exactly a known field: a typo
such as `{contact.frist.name}` or `{Contact.First.Name}` is refused when the plan is saved rather than mailed to a
client verbatim ("a field is never sent as written"). Rendering is case-insensitive all the same, so a plan version
saved before the case check still sends `{Contact.First.Name}` filled in. Braces that do not look like a field (CSS
in a design email such as `p { color: red; }`, a lone `{`) are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

# Dotted words (letters first; digits, `_` and `-` after) in braces, spaces inside the braces allowed. A word must
# not start with a digit, so CSS values (`{ 1.5em }`) and numbers are never taken for fields.
_WORD = r"[A-Za-z_][A-Za-z0-9_-]*"
MERGE_FIELD = re.compile(rf"\{{\s*({_WORD}(?:\.{_WORD})+)\s*\}}")

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
    """Every field-shaped name in `text` that is not exactly a known field, as written."""
    if not text:
        return []
    return [name for name in MERGE_FIELD.findall(text) if name not in KNOWN_FIELDS]


def field_problem(name: str) -> str:
    """Why `{name}` is refused, with the fix when it is a known field in another case."""
    if name.lower() in KNOWN_FIELDS:
        return f"unknown merge field {{{name}}}: write {{{name.lower()}}}"
    return f"unknown merge field {{{name}}}; known fields: " + ", ".join("{" + f + "}" for f in KNOWN_FIELDS)


def merge_problems(text: str | None) -> list[str]:
    """One message per field-shaped name in `text` that would otherwise be sent as written (R-MERGE-1)."""
    return [field_problem(name) for name in unknown_fields(text)]


def full_name(first: str | None, last: str | None) -> str:
    """"Dana Smith", or whichever part exists: the name the timeline, the UI and `{*.full.name}` show."""
    return " ".join(part for part in (first, last) if part)


class Named(Protocol):
    """A contact or an agent row, as far as merge fields read it."""

    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...


@dataclass(frozen=True)
class Person:
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None

    @classmethod
    def of(cls, record: Named) -> Person:
        return cls(record.first_name, record.last_name, record.email, record.phone)

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
    """Fill every known field, in any case; a known field with no value renders as empty text (R-MERGE-1)."""
    if not text:
        return ""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        return values[name] if name in values else match.group(0)

    return MERGE_FIELD.sub(replace, text)
