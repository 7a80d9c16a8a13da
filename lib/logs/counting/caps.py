"""How much of the breakdowns whose size grows with the log a summary keeps
(``lib.logs.counting.bounded`` says how they are kept within these). Imports nothing: the
compiled counter (``lib.logs.parsing.accelerators``) is given them before polars loads. Read
them as ``caps.URL_CAP`` when needed (a test may set them smaller)."""

URL_CAP = 50_000  # URLs kept per summary (their times' buckets and query samples with them)
QUERY_CAP = 200_000  # distinct (URL, query) hashes kept
VISITOR_CAP = 500_000  # distinct (day, visitor) hashes kept
