"""Vendored GBFS 3.0 JSON Schemas (see PROVENANCE.md); data only, read by the tests."""
