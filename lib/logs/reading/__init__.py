"""Reading: which files a run names (``paths``), what each is and its text whatever the
compression (``_compression``, ``blocks``), the pieces a run cuts them into (``partitions``),
blocks of whole lines and the lines in them (``blocks``, ``lines``), and the label of a
synthetic log (``synthetic_marker``). Only ``lines`` loads polars."""
