"""Bike-share UI views, one module per area (mounted by ``bikeshare/urls.py``)."""
