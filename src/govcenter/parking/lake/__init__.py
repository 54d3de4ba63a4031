"""Parking facts in the lake: the incremental exporter (sync.py) and its manifest (issue 7)."""
