"""Q1's input: the NASA August 1995 log if it is here or can be downloaded (``nasa``,
``download``), else a labelled synthetic one (``synthetic``); ``python -m lib.logs.datasets
ensure`` prints which."""
