"""Base classes for request and response bodies: requests refuse unknown fields (a typo is an error, not a no-op)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, WithJsonSchema

from domain.account_settings import known_zone
from domain.validation import Violation


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @classmethod
    def shape_violation(cls, path: tuple[str | int, ...], message: str) -> Violation | None:
        """The field and rule a 422 names for a shape error (wrong type, unknown value or field) at `path` in this
        body; `api.errors` asks. None: no rule to name, the error is answered as pydantic words it."""
        return None


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _zone(name: str) -> str:
    if known_zone(name) is None:
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. America/Chicago)")
    return name


TimeZoneName = Annotated[str, AfterValidator(_zone)]

E164 = r"^\+[1-9]\d{6,14}$"
_E164 = re.compile(E164)


def _phone(number: str) -> str:
    if not _E164.fullmatch(number):
        raise ValueError(f"'{number}' is not a phone number in E.164 form: a + and the country code, then digits only, "
                         "e.g. +15125550199")
    return number


# The pattern stays in the OpenAPI schema (generated clients check it); the message says what to write.
PhoneNumber = Annotated[str, AfterValidator(_phone),
                        WithJsonSchema({"type": "string", "pattern": E164, "examples": ["+15125550199"]})]


def field_violation(path: tuple[str | int, ...], message: str, rules: Mapping[str, str], *,
                    nested: Collection[str] = ()) -> Violation | None:
    """For a body whose top-level fields each answer to one rule: the field (with the key, for a map in `nested`:
    `slot_times.morning`) and its rule; None for a field without one (an unknown field, say)."""
    names = [part for part in path if isinstance(part, str)]
    if not names or names[0] not in rules:
        return None
    field = ".".join(names[:2]) if names[0] in nested else names[0]
    return Violation(field, rules[names[0]], message)
