from __future__ import annotations

import pytest

KEY = "00112233445566778899aabbccddeeff"
OTHER_KEY = "ffeeddccbbaa99887766554433221100"


@pytest.fixture
def backup_env(settings, tmp_path):
    """Backups in a fresh directory, a fixed key, small chunks (so dumps span many chunks)."""
    settings.GOVCENTER_OPS_BACKUP_DIR = str(tmp_path / "backups")
    settings.GOVCENTER_OPS_BACKUP_KEY = KEY
    settings.GOVCENTER_OPS_BACKUP_CHUNK_KIB = 4
    settings.GOVCENTER_LAKE_DIR = tmp_path / "lake"
    return tmp_path
