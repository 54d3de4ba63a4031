"""Duty roster, escalation chain, guard plans, response plans and drills (O&M console items 2 and 5)."""
