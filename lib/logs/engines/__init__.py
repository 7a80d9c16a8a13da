"""Q1's engines: how a plan (``lib.logs.engines.plan``) is carried out, registered by name.

Every engine has the contract of ``lib.logs.engines.engine.Engine`` and reads each piece the
same way (``lib.logs.engines.pipeline``), so all give the same answers:

- ``local`` (``lib.logs.engines.local.LocalEngine``): this process, a thread per core; it can
  start reading before polars is loaded;
- ``dask`` (``lib.logs.engines.dask_engine.DaskEngine``): one task per piece on a Dask
  cluster.

``open_engine`` makes the one a plan names. Adding an engine is a class with that contract and
a line in ``ENGINE_TYPES``; its module is imported when a plan names it. Imports no polars.
"""

from __future__ import annotations

import importlib

from lib.logs.engines.engine import Engine
from lib.logs.engines.plan import Plan
from lib.logs.reading.blocks import BLOCK_BYTES
from lib.logs.window import Window

ENGINE_TYPES = {  # name -> "module:class"
    "local": "lib.logs.engines.local:LocalEngine",
    "dask": "lib.logs.engines.dask_engine:DaskEngine",
}


def open_engine(plan: Plan, window: Window, block_bytes: int = BLOCK_BYTES) -> Engine:
    """The engine the plan names, for ``window``, reading blocks of ``block_bytes``; not started
    (``start`` it to begin before polars is loaded, or just ``run`` it)."""
    module, name = ENGINE_TYPES[plan.engine].split(":")
    return getattr(importlib.import_module(module), name)(plan, window, block_bytes)
