"""Q1's engines: how a plan (``lib.logs.engines.plan``) is carried out, registered by name.

Every engine has the contract of ``lib.logs.engines.engine.Engine`` and reads each piece the
same way (``lib.logs.engines.pipeline``), so all give the same answers:

- ``local`` (``LocalEngine``): this process, a thread per core; it can start reading before
  polars is loaded;
- ``dask`` (``DaskEngine``): one task per piece on a Dask cluster.

``open_engine`` makes the one a plan names. Adding an engine is a class with that contract and
an entry in ``ENGINE_TYPES``. Imports no polars.
"""

from __future__ import annotations

from lib.logs.engines.dask_engine import DaskEngine
from lib.logs.engines.engine import Engine
from lib.logs.engines.local import LocalEngine
from lib.logs.engines.plan import Plan
from lib.logs.reading.blocks import BLOCK_BYTES
from lib.logs.window import Window

ENGINE_TYPES: dict[str, type] = {"local": LocalEngine, "dask": DaskEngine}


def open_engine(plan: Plan, window: Window, block_bytes: int = BLOCK_BYTES) -> Engine:
    """The engine the plan names, for ``window``, reading blocks of ``block_bytes``; not started
    (``start`` it to begin before polars is loaded, or just ``run`` it)."""
    return ENGINE_TYPES[plan.engine](plan, window, block_bytes)
