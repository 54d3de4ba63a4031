"""A test-only app: a small state machine and a scoped model for the kernel's workflow and search
tests (installed by govcenter.test_settings only; its migration depends on core's)."""
