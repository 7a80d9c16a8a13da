"""Q1: access-log analytics. How many requests, the busiest hosts in a time window, the country
most requests came from.

A run goes one way, a subpackage a stage:

- ``reading``: the files a run names, opened whatever their compression, cut into pieces and
  blocks of whole lines;
- ``parsing``: the formats' registry and its detection, the parser kinds that turn lines into
  requests, the Common/Combined grammar and its compiled accelerator;
- ``counting``: requests into a summary of counts that merges exactly;
- ``engines``: the plan (files, formats, pieces, engine) and the engines that carry it out, on
  this machine or a Dask cluster;
- ``geo``: the hosts' countries; ``q1``: the answers and ``results.json``; ``report``: the
  answers printed, ``report.html`` and the charts;
- ``datasets``: the NASA log, downloaded, or a labelled synthetic one.

``python -m lib.logs`` is its command line; docs/q1.md tells the stages in full.
"""
