"""Q3: the kiosk vote counter. Kiosks (``service/kiosk.py``) turn HTTP bodies into a vote
``message`` and hand it to the ``broker``; the worker (``service/worker.py``) decodes it again,
puts batches in the ``store`` (PostgreSQL, ``sql/votes/``), and writes the results ``cache``
(JSON and ``charts``) that kiosks serve. ``rate_limit`` and ``backoff`` are the kiosk's and the
worker's small helpers; ``settings`` reads the environment once."""
