"""Q1: access-log analytics. How many requests, the busiest hosts in a time window, the country
most requests came from.

A run goes one way: ``plan`` (which files, cut into which pieces, on which engine) ->
``engines`` (each piece read by ``reading``, parsed by a ``formats`` entry and counted by
``summary``; merged) -> ``geo`` (countries, with ``dns``) -> ``q1`` (the answers, ``results.json``)
-> ``report`` (the answers printed, ``report.html``) and ``charts`` (drawing what
``chart_data`` chooses). The input comes from ``datasets`` (``download`` or ``synthetic``).
"""
