"""Read-side queries of the bike-share app (no writes)."""
