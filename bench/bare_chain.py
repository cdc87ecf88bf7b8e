"""The floor `bench.year_plan` measures the project against: a workflow that, each simulated day, sleeps a day and runs
one trivial activity — what any Temporal workflow with a timer and an activity a day costs on the same server.

Its own module with nothing but temporalio and pydantic imported, so it runs in the workflow sandbox like
`EnrollmentWorkflow` (the sandbox re-imports a workflow's module for each run) without dragging the bench's
database and test imports in. It continues as new at the project's cadence: at the end of each 365-day pass (the
year plan's repeat boundary) and whenever its history reaches the project's default `max_history_events`.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import activity, workflow

PASS_DAYS = 365
ONE_DAY = timedelta(days=1)


class BareChainInput(BaseModel):
    days: int  # simulated days to run in all
    max_history_events: int
    day: int = 0  # days done so far, carried across continue-as-new
    day_in_pass: int = 0


class BareDay(BaseModel):
    day: int


@activity.defn
async def bare_touch(day: BareDay) -> BareDay:
    """The trivial step: the activity round trip and nothing else."""
    return day


@workflow.defn
class BareChainWorkflow:
    @workflow.run
    async def run(self, input: BareChainInput) -> int:
        day, day_in_pass = input.day, input.day_in_pass
        while day < input.days:
            await workflow.sleep(ONE_DAY, summary="a day")
            await workflow.execute_activity(bare_touch, BareDay(day=day), start_to_close_timeout=timedelta(seconds=60),
                                            summary=f"day {day_in_pass + 1}")
            day, day_in_pass = day + 1, day_in_pass + 1
            if day_in_pass == PASS_DAYS or workflow.info().get_current_history_length() >= input.max_history_events:
                workflow.continue_as_new(input.model_copy(update={"day": day, "day_in_pass": day_in_pass % PASS_DAYS}))
        return day
