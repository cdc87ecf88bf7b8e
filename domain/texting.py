"""Whether a contact may be texted at all (R-TXT-4, R-COMP-1), or called: read by every attempt to send, by every
task a step would have an agent text or call the contact by, and by the preview, so the preview says a step will be
skipped for the reason its attempt will give."""

from __future__ import annotations

from typing import Protocol

from domain.plan import AnyStep, CallStep, TextStep


class Textable(Protocol):
    do_not_call: bool
    opted_out: bool
    phone: str | None


class Reachable(Textable, Protocol):
    email: str | None
    unsubscribed: bool


def text_blocked(contact: Textable) -> str | None:
    """R-TXT-4: Do-Not-Call and opt-out, whatever the plan says (R-COMP-1)."""
    if contact.do_not_call:
        return "the contact is on the Do-Not-Call list"
    if contact.opted_out:
        return "the contact opted out of texts"
    if not contact.phone:
        return "the contact has no phone number"
    return None


def email_blocked(contact: Reachable) -> str | None:
    """R-EMAIL-4: an unsubscribed contact gets no plan email; one without an address cannot."""
    if not contact.email:
        return "the contact has no email address"
    if contact.unsubscribed:
        return "the contact unsubscribed from plan email"
    return None


def by_hand_blocked(step: AnyStep, contact: Textable) -> str | None:
    """R-TXT-4 for a task that would have an agent text or call the contact by hand: a text task (a text step in task
    mode, or an automated text standing in as one) is not made for a contact no plan may text, nor a call task for
    a number on the Do-Not-Call list ("never call or text a number on any Do Not Call list"). What the timeline and
    the preview say ("Call task not created: …"), or None."""
    if isinstance(step, TextStep):
        why = ("the contact is on the Do-Not-Call list" if contact.do_not_call else
               "the contact opted out of texts" if contact.opted_out else None)
        return f"Text task not created: {why}" if why else None
    if isinstance(step, CallStep) and contact.do_not_call:
        return "Call task not created: the contact is on the Do-Not-Call list"
    return None
