"""Parsing: lines into requests.

- ``formats``: the registry of formats (data) and custom format strings (``_format_strings``);
- ``detect``: which format a file's first lines are in;
- ``kinds``: the parser kinds, a module each, that parse every format of their sort;
  ``fields`` and ``roles``: what they yield;
- ``clf``: the Common/Combined grammar, defined once; ``accelerators``: the compiled counter
  attached to a format (``_clf.c``, its rules from ``clf``);
- ``second_chances``: a line one format rejects tried with the others;
- ``requests``: a whole log as a table of requests, for exploration.

The registries and detection import no polars; parsing loads it.
"""
