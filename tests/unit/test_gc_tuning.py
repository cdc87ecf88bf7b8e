"""Issue 11: the API's and the worker's garbage collector, settled once their start-up is done (gc_tuning.py).

What start-up built is frozen out of every later collection and the youngest generation is collected after
PROCESS_GC_THRESHOLD new objects (default 2,000; Python's is 700); 0 leaves Python's collector as it is. The
figures are in docs/performance.md, "The garbage collector"."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

import api.app
import worker
from api.app import create_app
from api.deps import wall_clock
from config import Settings
from gc_tuning import settle_collector


@pytest.fixture(autouse=True)
def collector() -> Iterator[None]:
    """Each test starts from Python's collector, unfrozen, and leaves it so for the rest of the suite."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(environment="test", database_url=f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}",
                    temporal_address="127.0.0.1:1", **values)  # type: ignore[arg-type]


class TestSettlingTheCollector:
    def test_start_ups_objects_are_frozen_and_the_young_generation_widened(self) -> None:
        _, older, oldest = gc.get_threshold()
        settle_collector(12_345)
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (12_345, older, oldest)

    def test_zero_leaves_pythons_collector_as_it_is(self) -> None:
        before = gc.get_threshold()
        settle_collector(0)
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == before

    def test_a_frozen_object_is_still_freed_once_nothing_refers_to_it(self) -> None:
        class StartUpObject:
            pass

        held = StartUpObject()
        ref = weakref.ref(held)
        settle_collector(10_000)
        del held
        assert ref() is None

    def test_start_ups_garbage_is_collected_before_the_freeze(self) -> None:
        class Cycle:
            def __init__(self) -> None:
                self.me = self

        ref = weakref.ref(Cycle())  # garbage already, held only by its own cycle
        settle_collector(10_000)
        assert ref() is None

    def test_the_threshold_cannot_be_negative(self) -> None:
        with pytest.raises(ValidationError, match="process_gc_threshold"):
            Settings(process_gc_threshold=-1)


class TestTheProcessesSettleIt:
    def test_a_worker_process_settles_before_its_loop_runs(self, monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path) -> None:
        monkeypatch.setattr(worker, "get_settings",
                            lambda: settings(tmp_path, process_gc_threshold=4_321, worker_event_loop="asyncio"))
        seen: list[tuple[int, int]] = []

        async def entry() -> None:
            seen.append((gc.get_threshold()[0], gc.get_freeze_count()))

        worker.run_worker_process(entry)
        [(threshold, frozen)] = seen
        assert threshold == 4_321
        assert frozen > 0

    async def test_the_api_process_settles_once_started(self, monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
        # `create_app()` with nothing given is uvicorn's `--factory` call: the app is its process's own.
        monkeypatch.setattr(api.app, "get_settings", lambda: settings(tmp_path, process_gc_threshold=2_468))
        app = create_app()
        assert gc.get_freeze_count() == 0  # built, not yet started
        async with app.router.lifespan_context(app):
            assert gc.get_threshold()[0] == 2_468
            assert gc.get_freeze_count() > 0

    async def test_an_app_given_its_parts_leaves_the_collector_alone(self, tmp_path: Path) -> None:
        # Tests and benchmarks build many apps in one process: freezing each one's objects would keep them all.
        before = gc.get_threshold()
        app = create_app(settings(tmp_path, process_gc_threshold=2_468), clock=wall_clock)
        async with app.router.lifespan_context(app):
            assert gc.get_threshold() == before
            assert gc.get_freeze_count() == 0
