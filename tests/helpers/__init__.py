"""Reusable test helpers (scope enforcement, …) for every module's tests."""
