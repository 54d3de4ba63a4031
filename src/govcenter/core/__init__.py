"""The kernel every domain app stands on: units, districts, users, roles, data scope,
audit chain, masking, working calendar, SMS, API conventions and the UI shell."""
