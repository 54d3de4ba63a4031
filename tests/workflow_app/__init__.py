"""A test-only app: one small state machine for the kernel's workflow tests (installed by
govcenter.test_settings; no migrations — the test database syncs it)."""
