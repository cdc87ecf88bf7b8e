"""An account's time zone and slot times (R-PLAN-4): what a valid setting is, how the layers merge, and the order
the slots must keep.

Slot times come in layers — the built-in defaults, the team's overrides, an agent's own overrides — and a personal
plan runs on all three merged, a team plan on the first two. Values stored before these checks existed may be
anything; they are read through `slot_overrides` and `known_zone`, which drop what cannot be used, so a bad old
value never breaks a page or a schedule: the next layer down applies instead.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache
from zoneinfo import available_timezones

from domain.limits import HHMM
from domain.plan import DEFAULT_SLOT_TIMES, SLOT_ORDER
from domain.validation import Violation

SLOT_NAMES: tuple[str, ...] = tuple(slot.value for slot in sorted(SLOT_ORDER, key=SLOT_ORDER.__getitem__))
ORDER_HINT = "slot times run early_morning < morning < afternoon < evening"


def is_hhmm(value: object) -> bool:
    """`HH:MM` on the 24-hour clock, two digits each ("09:30"); such strings sort as the times they name."""
    return isinstance(value, str) and HHMM.fullmatch(value) is not None


# Files in the zone database that name no zone: `localtime` is whatever the host is set to, `posixrules` the rules
# POSIX TZ strings borrow, `Factory` the placeholder for "zone not set yet" (its abbreviation is -00).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def iana_zones() -> frozenset[str]:
    """Every IANA zone name, links such as US/Central included. From the zone database's list, read once (a walk of
    the zone directory, tens of milliseconds), not from what `ZoneInfo` opens: it opens any file under the zone
    directory, `localtime` and `posix/America/Chicago` too."""
    return frozenset(available_timezones() - _NOT_ZONES)


def known_zone(name: object) -> str | None:
    """`name` when it is an IANA time zone, else None."""
    return name if isinstance(name, str) and name in iana_zones() else None


def slot_overrides(stored: object) -> dict[str, str]:
    """The usable part of a stored layer: known slot names with `HH:MM` values."""
    if not isinstance(stored, Mapping):
        return {}
    return {name: value for name, value in stored.items() if name in SLOT_NAMES and is_hhmm(value)}


def updated_overrides(stored: object, update: Mapping[str, str | None] | None) -> dict[str, str]:
    """A layer after an update: a slot set to None falls back to the layer below; an update of None clears them all."""
    if update is None:
        return {}
    layer = slot_overrides(stored)
    for name, value in update.items():
        if value is None:
            layer.pop(name, None)
        else:
            layer[name] = value
    return layer


def merged_slots(*layers: object) -> dict[str, str]:
    """The defaults, then each layer over the one before (team, then agent)."""
    slots = {str(name): value for name, value in DEFAULT_SLOT_TIMES.items()}
    for layer in layers:
        slots.update(slot_overrides(layer))
    return slots


def order_violations(slots: Mapping[str, str], *, field: str, changed: Collection[str],
                     concerns: Collection[str] | None = None, whose: str = "") -> list[Violation]:
    """Each neighbouring pair of `slots` (merged) out of order, as a violation at `field.<slot>`: the slot of the pair
    in `changed` (the later one when both or neither are). Only pairs with a slot in `concerns` (default: all) count,
    so a check of one layer does not report what a check of the layer below already did."""
    out = []
    for earlier, later in zip(SLOT_NAMES, SLOT_NAMES[1:], strict=False):
        if slots[later] > slots[earlier] or (concerns is not None and not {earlier, later} & set(concerns)):
            continue
        at = earlier if earlier in changed and later not in changed else later
        out.append(Violation(f"{field}.{at}", "R-PLAN-4",
                             f"{whose}{later} ({slots[later]}) must be later than {earlier} ({slots[earlier]}): "
                             f"{ORDER_HINT}"))
    return out
