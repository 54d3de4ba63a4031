"""Backups of the database and the lake manifest, SM4-encrypted and SM3-checksummed, with
retention and restore drills (docs/ops/backups.md)."""
