"""Q1's report: the answers printed from ``results.json`` and the executed notebook as one
offline ``report.html`` (``html``, also ``python -m lib.logs.report``), and the charts
(``charts``, drawing what ``_chart_data`` chooses)."""
