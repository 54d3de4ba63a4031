"""Vendored MDS 2.0 schema files (see PROVENANCE.md); data only."""
