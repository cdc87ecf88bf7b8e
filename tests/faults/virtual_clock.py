"""A contact's own clock, moved on by the real dev server (per-workflow time skipping), so that a crash burst can
count texts at any hour of the day.

Texts go out only 10:00–19:00 US Central (R-TXT-3) and the crash tests run on the real dev server, whose clock is
the wall clock. The server's experimental per-workflow time skipping (enabled with the dynamic-config value below)
lets a test move one running workflow's clock forward: once the workflow has nothing in flight, its next timer fires
at once and `workflow.now()` reads the skipped-to instant, which is what the send activities check the window
against (`StepInput.attempt_at`). Nothing in the product knows about it: the API starts workflows as it always
does, and the test fast-forwards each contact's workflow from outside, as an operator's tool would.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from uuid import uuid4

from google.protobuf.field_mask_pb2 import FieldMask
from temporalio.api.common.v1 import FastForwardConfig, TimeSkippingConfig, WorkflowExecution
from temporalio.api.workflow.v1 import WorkflowExecutionOptions
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionOptionsRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

DEV_SERVER_FLAG = ("--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true")


async def fast_forward(client: Client, workflow_id: str, by: timedelta) -> bool:
    """Move the workflow's clock on by `by` (its timers within that span fire as soon as it is idle); False while
    the workflow does not run yet (its start may still be the reconciler's to make)."""
    config = TimeSkippingConfig(enabled=True, fast_forward_config=FastForwardConfig(id=str(uuid4())))
    config.fast_forward_config.duration.FromTimedelta(by)
    try:
        await client.workflow_service.update_workflow_execution_options(UpdateWorkflowExecutionOptionsRequest(
            namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id),
            workflow_execution_options=WorkflowExecutionOptions(time_skipping_config=config),
            update_mask=FieldMask(paths=["time_skipping_config"]), identity=client.identity), retry=True)
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


class Clocks:
    """Each enrolled contact's workflow clock moved on once, as soon as its workflow runs: at once after a 201, within
    the reconciler's minute for a row whose API died before the start."""

    def __init__(self, client: Client, by: timedelta, *, patience: float = 120.0) -> None:
        self.client, self.by, self.patience = client, by, patience
        self._moving: list[asyncio.Task[None]] = []
        self.moved: set[str] = set()

    def move(self, workflow_id: str) -> None:
        self._moving.append(asyncio.create_task(self._move(workflow_id)))

    async def _move(self, workflow_id: str) -> None:
        deadline = time.monotonic() + self.patience
        while not await fast_forward(self.client, workflow_id, self.by):
            if time.monotonic() > deadline:
                return  # the counts then show the contact's missing text
            await asyncio.sleep(1)
        self.moved.add(workflow_id)

    async def all_moved(self) -> set[str]:
        await asyncio.gather(*self._moving)
        return self.moved
