"""The demo seed of Beijing rail-station areas (see README.md; built by build.py)."""
