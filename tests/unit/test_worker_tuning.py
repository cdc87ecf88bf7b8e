"""Issue 11 item 3: the worker's concurrency is tuned from settings (WORKER_MAX_…), and the burst benchmark's bare
baseline reads the very same knobs, so "same worker settings" holds by construction."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config import Settings
from worker import worker_tuning


class TestWorkerTuningComesFromSettings:
    def test_the_environment_sets_every_knob(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("WORKER_MAX_CONCURRENT_ACTIVITIES", "7")
        monkeypatch.setenv("WORKER_MAX_CONCURRENT_WORKFLOW_TASKS", "9")
        monkeypatch.setenv("WORKER_MAX_CACHED_WORKFLOWS", "11")
        assert worker_tuning(Settings()) == {"max_concurrent_activities": 7, "max_concurrent_workflow_tasks": 9,
                                             "max_cached_workflows": 11}

    def test_a_sticky_cache_needs_at_least_two_workflow_task_slots(self) -> None:
        # The SDK refuses fewer than two with a cache: the setting says so at start, naming the variable.
        with pytest.raises(ValidationError, match="worker_max_concurrent_workflow_tasks"):
            Settings(worker_max_concurrent_workflow_tasks=1)

    def test_the_database_pool_has_at_least_one_connection(self) -> None:
        with pytest.raises(ValidationError, match="worker_database_pool_size"):
            Settings(worker_database_pool_size=0)
