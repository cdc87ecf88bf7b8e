"""The garbage collector of a long-running process (the API, the worker), set once its start-up is done.

Python's cyclic collector runs its youngest generation every 700 new container objects, and every so often a full
collection walks every object the process holds. Most of those objects were built at start-up (modules, classes,
FastAPI's routes, SQLAlchemy's mappers, the Temporal SDK) and live as long as the process; walking them again and
again is most of what the collector costs. It was about a tenth of the API's CPU per enrollment and a fifth of the
worker's (docs/performance.md, "The garbage collector").
"""

from __future__ import annotations

import gc


def settle_collector(young_threshold: int) -> None:
    """Freeze what start-up built out of every later collection, and collect the youngest generation after
    `young_threshold` new objects instead of Python's 700. 0 leaves the collector exactly as Python set it.

    Frozen objects are still freed when nothing refers to them; only a cycle among them would outlive its use, and
    start-up's objects are the process's for good. A larger young generation makes every generation's passes rarer:
    fewer and larger, and cycles of old objects (a workflow evicted from the worker's cache) wait longer to go."""
    if young_threshold <= 0:
        return
    gc.collect()  # start-up's own garbage first: what is frozen is never collected
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
