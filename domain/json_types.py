"""Numbers and flags as a JSON document means them, for every integer and boolean a request sends (a plan document,
its steps and repeat, and the API's own bodies).

Pydantic's lax mode would read `true` as 1, `"30"` as 30 and `"yes"` or `1` as true: a client's mistake saved as
something it never wrote. These types take a value only as the JSON type it is stated as, so the mistake is a 422
naming the field. An integer is JSON Schema's, though: `30.0` is 30, as a JSON encoder may write it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Strict


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# Reads 30.0 as 30, before a strict `int` refuses anything but an integer. Put limits before it when the number is a
# member of a union (`Annotated[int, Strict(), Field(ge=1), AS_WHOLE] | None`): limits put after it there are stated
# in the JSON schema as `ge`/`le`, which JSON Schema does not know.
AS_WHOLE = BeforeValidator(_whole)

# An integer, as JSON Schema's `integer` reads it: 30 and 30.0 alike, never `true` or "30".
WholeNumber = Annotated[int, Strict(), AS_WHOLE]

# `true` or `false`, never "yes", "true", 1 or 0.
Flag = Annotated[bool, Strict()]
