"""Q2: clickstream SQL. The most liked articles of a day, and how many users who installed on a
day came back within the week. The SQL lives in ``sql/clickstream/``; ``queries`` runs it,
``charts`` draws the answers."""
