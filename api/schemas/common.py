"""Base classes for request and response bodies: requests refuse unknown fields (a typo is an error, not a no-op)."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. America/Chicago)") from err
    return name


TimeZoneName = Annotated[str, AfterValidator(_zone)]
