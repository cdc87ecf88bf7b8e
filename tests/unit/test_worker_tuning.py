"""Issue 11 item 3: the worker's concurrency is tuned from settings (WORKER_MAX_…), and the burst benchmark's bare
baseline reads the very same knobs, so "same worker settings" holds by construction."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from temporalio.worker import UnsandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from config import Settings
from worker import event_loop_factory, worker_tuning


class TestWorkerTuningComesFromSettings:
    def test_the_environment_sets_every_knob(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("WORKER_MAX_CONCURRENT_ACTIVITIES", "7")
        monkeypatch.setenv("WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", "9")
        monkeypatch.setenv("WORKER_MAX_CACHED_WORKFLOWS", "11")
        tuning = worker_tuning(Settings())
        assert (tuning["max_concurrent_activities"], tuning["max_concurrent_workflow_tasks"],
                tuning["max_cached_workflows"]) == (7, 9, 11)

    def test_workflows_run_in_the_sandbox_unless_the_deployment_turns_it_off(
            self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("WORKER_WORKFLOW_SANDBOX", raising=False)
        assert isinstance(worker_tuning(Settings())["workflow_runner"], SandboxedWorkflowRunner)
        monkeypatch.setenv("WORKER_WORKFLOW_SANDBOX", "false")
        assert isinstance(worker_tuning(Settings())["workflow_runner"], UnsandboxedWorkflowRunner)

    def test_a_sticky_cache_needs_at_least_two_workflow_task_slots(self) -> None:
        # The SDK refuses fewer than two with a cache: the setting says so at start, naming the variable.
        with pytest.raises(ValidationError, match="worker_max_concurrent_workflow_tasks"):
            Settings(worker_max_concurrent_workflow_tasks=1)

    def test_the_database_pool_has_at_least_one_connection(self) -> None:
        with pytest.raises(ValidationError, match="worker_database_pool_size"):
            Settings(worker_database_pool_size=0)


class TestTheWorkersEventLoop:
    """The worker runs on uvloop where it is installed (a tenth less CPU per enrollment), as uvicorn runs the API;
    `WORKER_EVENT_LOOP=asyncio` is the way back to the standard library's loop."""

    def test_auto_is_uvloop_where_it_is_installed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        uvloop = pytest.importorskip("uvloop", reason="uvloop is not installed on Windows")
        monkeypatch.delenv("WORKER_EVENT_LOOP", raising=False)
        factory = event_loop_factory(Settings().worker_event_loop)
        assert factory is uvloop.new_event_loop
        loop = factory()
        try:
            assert isinstance(loop, uvloop.Loop)
        finally:
            loop.close()

    def test_asyncio_is_the_standard_librarys_loop(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("WORKER_EVENT_LOOP", "asyncio")
        assert event_loop_factory(Settings().worker_event_loop) is None  # asyncio.Runner's default loop

    def test_an_unknown_loop_is_refused_naming_the_setting(self) -> None:
        with pytest.raises(ValidationError, match="worker_event_loop"):
            Settings(worker_event_loop="trio")
