"""Q1 over time: a state directory that knows what was read of which log, so that a run reads
only what is new and any window of whole hours is answered without reading a log."""
