"""Base classes for request and response bodies: requests refuse unknown fields (a typo is an error, not a no-op)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict

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
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. America/Chicago)") from err
    return name


TimeZoneName = Annotated[str, AfterValidator(_zone)]
