"""Counting: requests into a ``LogSummary`` of counts (``summary``: the model and its exact
merge, no I/O), from lines parsed by polars (``parsed``) or counted by a format's compiled
accelerator (``counted``)."""
