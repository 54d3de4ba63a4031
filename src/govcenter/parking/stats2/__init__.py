"""Parking statistics of issue 7, answered from the lake with DuckDB (never the OLTP facts).

``stats2`` beside the daily tables of ``services/stats.py`` (``DailyDistrictStat``, kept for
the dashboard and CDS Metrics): these statistics read the Parquet facts that
``parking/lake/sync.py`` exports, so any window, filter and drill level is one DuckDB query.
"""
