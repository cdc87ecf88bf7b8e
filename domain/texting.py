"""Whether a contact may be texted at all (R-TXT-4, R-COMP-1): read by every attempt to send and by the preview, so
the preview says a text will be skipped for the reason its attempt will give."""

from __future__ import annotations

from typing import Protocol


class Textable(Protocol):
    do_not_call: bool
    opted_out: bool
    phone: str | None


def text_blocked(contact: Textable) -> str | None:
    """R-TXT-4: Do-Not-Call and opt-out, whatever the plan says (R-COMP-1)."""
    if contact.do_not_call:
        return "the contact is on the Do-Not-Call list"
    if contact.opted_out:
        return "the contact opted out of texts"
    if not contact.phone:
        return "the contact has no phone number"
    return None
