"""Base classes for request and response bodies (requests refuse unknown fields: a typo is an error, not a no-op),
and the value types several bodies share, each stating in the OpenAPI document what it accepts."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from domain.account_settings import known_zone
from domain.json_types import Flag as Flag  # every request's integers and booleans: domain.json_types
from domain.json_types import WholeNumber as WholeNumber
from domain.validation import Violation

NUL_ERROR = "string_nul"


def nul_at(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    """Where in a JSON body a string (or a key) holds the NUL character, if anywhere."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, Mapping) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return (*path, key)
        found = nul_at(item, (*path, key))
        if found is not None:
            return found
    return None


# The rule a 422 names for a field no behaviour rule governs (a name's length, an unknown field, a query parameter):
# what the API reference states for it (docs/rules.md#request_fields).
REQUEST_FIELDS = "request_fields"


class Request(BaseModel):
    """A request body. `field_rules` names the rule each top-level field answers to when its shape is wrong (with the
    key, for a map in `nested_fields`: `slot_times.morning`); any other field, an unknown one included, answers to
    `request_fields`."""

    model_config = ConfigDict(extra="forbid")
    field_rules: ClassVar[Mapping[str, str]] = {}
    nested_fields: ClassVar[Collection[str]] = ()

    @model_validator(mode="before")
    @classmethod
    def _no_nul_character(cls, data: Any) -> Any:
        """NUL (`\\u0000`) has no place in a name, a message or an id, and PostgreSQL cannot store it: refused here,
        naming where it is (`api.errors` reads the place from the error), not failing as a 500 at the database."""
        path = nul_at(data)
        if path is not None:
            raise PydanticCustomError(NUL_ERROR, "text may not contain the NUL character (\\u0000)",
                                      {"path": list(path)})
        return data

    @classmethod
    def shape_violation(cls, path: tuple[str | int, ...], message: str) -> Violation | None:
        """The field and rule a 422 names for a shape error (wrong type, unknown value or field) at `path` in this
        body; `api.errors` asks. None for the body as a whole (not an object, say)."""
        return field_violation(path, message, cls.field_rules, nested=cls.nested_fields)


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _zone(name: str) -> str:
    if known_zone(name) is None:
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. America/Chicago)")
    return name


# The zones most teams here use, listed so a client can offer them and a generated request sends a real one; any other
# IANA name is as good (the pattern admits every one of them, and `known_zone` decides).
COMMON_ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
                "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "UTC")
ZONE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$"


class _TimeZone:
    """An IANA zone name, stated once in the OpenAPI document as `TimeZone` and referred to by every field that takes
    one. The check is `known_zone`'s, whose message says what to write."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_zone, core_schema.str_schema(), ref="TimeZone")

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        reference = handler(schema)
        stated = handler.resolve_ref_schema(reference)
        stated.clear()
        stated.update(anyOf=[{"type": "string", "enum": list(COMMON_ZONES)},
                             {"type": "string", "pattern": ZONE_NAME_PATTERN}],
                      description="An IANA time zone (https://www.iana.org/time-zones): one of the common ones "
                      "listed, or any other", examples=["America/Chicago"])
        return reference


TimeZoneName = Annotated[str, _TimeZone()]

FIRST_YEAR, LAST_YEAR = 1900, 8999


def _plausible(value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must fall in the years {FIRST_YEAR} to {LAST_YEAR}")
    return value


# An instant with its offset, in years a person means. Python's calendar ends at years 1 and 9999: reading a date
# there in another zone, or adding a plan's days to it, runs off it, so such a date is a 422, not a 500.
Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]

E164 = r"^\+[1-9][0-9]{6,14}$"  # ASCII digits, as JSON Schema reads the pattern
_E164 = re.compile(E164)


def _phone(number: str) -> str:
    if not _E164.fullmatch(number):
        raise ValueError(f"'{number}' is not a phone number in E.164 form: a + and the country code, then digits only, "
                         "e.g. +15125550199")
    return number


# The pattern stays in the OpenAPI schema (generated clients check it); the message says what to write.
PhoneNumber = Annotated[str, AfterValidator(_phone),
                        WithJsonSchema({"type": "string", "pattern": E164, "examples": ["+15125550199"]})]


def no_null(schema: dict[str, Any]) -> None:
    """For a field that may be left out but not sent as null (its validator refuses null with a reason): the JSON
    schema without the null pydantic states for the Python default."""
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    branches = [branch for branch in schema.pop("anyOf", []) if branch != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


def field_violation(path: tuple[str | int, ...], message: str, rules: Mapping[str, str], *,
                    nested: Collection[str] = ()) -> Violation | None:
    """For a body whose top-level fields each answer to one rule: the field (with the key or field inside it, for a
    map or an object in `nested`: `slot_times.morning`; with the index, for a list: `agent_ids[2]`) and its rule,
    `request_fields` for a field without one; None for the body itself."""
    if not path or not isinstance(path[0], str):
        return None
    field, names = "", 2 if path[0] in nested else 1
    for part in path:
        if isinstance(part, int):  # an item of a list: `agent_ids[2]`
            field += f"[{part}]"
        elif names:
            field, names = f"{field}.{part}" if field else part, names - 1
        else:  # what follows the field is pydantic's, not the body's: the member of a union refusing the value
            break
    return Violation(field, rules.get(path[0], REQUEST_FIELDS), message)


class Problem(BaseModel):
    """One thing wrong with a request, as every 422 lists them (`api.errors`): where, what, and, where one applies,
    the rule it breaks and where that rule is explained. A shape error pydantic found keeps pydantic's `type` (and
    its `input`, `ctx`); a refusal by a business rule has none."""

    model_config = ConfigDict(extra="allow", title="ValidationError")

    loc: list[str | int] = Field(examples=[["body", "days", "0", "steps", "1", "time_of_day"]])
    msg: str = Field(examples=["days[0].steps[1].time_of_day: step 1 (task 'Call', evening) stands before step 2 "
                               "(email 'Hello', morning); … (R-PLAN-5)"])
    type: str | None = Field(default=None, json_schema_extra=no_null, description="pydantic's error type")
    rule: str | None = Field(default=None, json_schema_extra=no_null, examples=["R-PLAN-5"])
    help: str | None = Field(default=None, json_schema_extra=no_null, examples=["docs/rules.md#r-plan-5"])
