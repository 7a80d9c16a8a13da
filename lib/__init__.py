"""random-practise: the logic behind the notebooks, the service and the tests.

The top level is the small core every capability shares: ``config`` (settings from the
environment), ``errors``, ``output`` (atomic files), ``db`` (PostgreSQL and the ``sql/`` files) and
``charts`` (the chart theme). Each capability is a package of its own that imports only the core
and itself:

- ``lib.logs``: Q1, access-log analytics;
- ``lib.clickstream``: Q2, clickstream SQL;
- ``lib.votes``: Q3, the kiosk vote counter.
"""

__version__ = "0.1.0"
