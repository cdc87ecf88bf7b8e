"""How fast the pure schedule code is: the workflow calls `next_step` once per step and the preview endpoint walks
a whole plan, so these rates bound how much a worker or the API spends deciding *when* (not sending).

Run with `python -m bench.schedule` (or `make bench`). Prints figures only; there is no pass/fail.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from config import PROJECT_ROOT, SAMPLES_DIR
from domain.plan import PlanDefinition
from domain.schedule import Cursor, ScheduleContext, mark_done, next_pass, next_step, preview
from domain.validation import ensure_valid, with_step_ids
from domain.windows import text_send_time

SPHERE_PLAN = SAMPLES_DIR / "33-touch-sphere.json"
RUN_SECONDS = 1.5
START = datetime(2026, 1, 5, 15, 30, tzinfo=UTC)  # a Monday morning in Chicago; the rates barely depend on it
CTX = ScheduleContext(spread_key="enrollment-bench-plan-bench-contact")


@dataclass(frozen=True)
class Rate:
    label: str
    operations: int
    seconds: float
    extra: str = ""

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds


def measure(label: str, batch: Callable[[], int], *, seconds: float = RUN_SECONDS) -> Rate:
    """Repeat `batch` (which returns how many operations it did) until `seconds` have passed, so every figure rests
    on enough calls to be stable whatever one call costs."""
    batch()  # warm caches (zone lookups, pydantic validators) so they are not billed to the first figure
    operations = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        operations += batch()
        elapsed = time.perf_counter() - started
    return Rate(label, operations, elapsed)


def ready(document: dict[str, Any]) -> PlanDefinition:
    """Plans are only ever scheduled after saving, which validates them and gives every step its stable id."""
    counter = itertools.count(1)
    return ensure_valid(with_step_ids(PlanDefinition.model_validate(document), lambda: f"st_{next(counter)}"))


def sphere_plan() -> tuple[PlanDefinition, str]:
    return ready(json.loads(SPHERE_PLAN.read_text(encoding="utf-8"))), str(SPHERE_PLAN.relative_to(PROJECT_ROOT))


def year_plan() -> PlanDefinition:
    """Repeats without end so that a 3-pass preview really schedules three years."""
    email = {"kind": "email", "time_of_day": "anytime", "subject": "Day note", "body": "Hi {contact.first.name}"}
    return ready({"name": "365 days", "days": [{"delay_days": 1, "steps": [email]} for _ in range(365)],
                  "repeat": {"times": "unlimited", "delay_days": 0}})


def walk_next_step(plan: PlanDefinition) -> Rate:
    """Walks pass after pass the way the workflow does (next step, mark it done, next pass at the end), so the
    growing `done` list of a pass is part of the cost."""
    steps = sum(1 for _ in plan.positions())

    def batch() -> int:
        calls = 0
        cursor: Cursor | None = Cursor(pass_started_at=START)
        while cursor is not None and cursor.repeat < 3:
            calls += 1
            scheduled = next_step(plan, cursor, CTX)
            if scheduled is None:
                cursor = next_pass(plan, cursor, CTX)
                continue
            cursor = mark_done(cursor, scheduled)
        return calls

    return replace(measure("next_step, 33-touch plan walked", batch), extra=f"{steps} steps/pass, 3 passes/walk")


def previews(plan: PlanDefinition, passes: int) -> tuple[Rate, Rate]:
    steps = len(preview(plan, START, CTX, passes))
    rate = measure(f"preview, 365-day plan, {passes} pass{'es' if passes > 1 else ''}",
                   lambda: len(preview(plan, START, CTX, passes)) // steps)
    per_step = Rate("  steps scheduled", rate.operations * steps, rate.seconds, f"{steps} steps/preview")
    return replace(rate, extra=f"{steps} steps/preview"), per_step


def text_windows(contact_tz: str | None) -> Rate:
    """Due instants every 17 minutes over two weeks, so sent-at-once, held and next-day texts are all in the mix."""
    dues = [START + timedelta(minutes=17 * n) for n in range(14 * 24 * 60 // 17)]
    key = CTX.spread_key

    def batch() -> int:
        for due in dues:
            text_send_time(due, key, contact_tz)
        return len(dues)

    label = f"text_send_time, contact zone {contact_tz}" if contact_tz else "text_send_time, no contact zone"
    return measure(label, batch)


def main() -> None:
    sphere, source = sphere_plan()
    year = year_plan()
    rates = [walk_next_step(sphere)]
    for passes in (1, 3):
        rates.extend(previews(year, passes))
    rates.append(text_windows(None))
    rates.append(text_windows("America/Los_Angeles"))

    print(f"33-touch plan: {source}")
    print(f"{'measure':<48} {'per second':>14} {'calls':>10} {'seconds':>8}  note")
    for rate in rates:
        print(f"{rate.label:<48} {rate.per_second:>14,.1f} {rate.operations:>10,} {rate.seconds:>8.2f}  {rate.extra}")


if __name__ == "__main__":
    main()
