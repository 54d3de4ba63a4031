"""Writes of the kernel: every change of units, users and roles goes through here.

Services are keyword-only, run in one transaction, ``full_clean()`` what they save and
append the change to the audit chain (before/after diff) in that same transaction.
``actor`` is the user on whose behalf the change is made; ``None`` means the system
(CLI, seed, demo), to which the grant guards do not apply.
"""

from .roles import role_create, role_update
from .units import unit_activate, unit_create, unit_deactivate, unit_update
from .users import user_activate, user_assign_roles, user_create, user_deactivate, user_update

__all__ = [
    "role_create",
    "role_update",
    "unit_activate",
    "unit_create",
    "unit_deactivate",
    "unit_update",
    "user_activate",
    "user_assign_roles",
    "user_create",
    "user_deactivate",
    "user_update",
]
