"""Background and periodic jobs of the kernel (Huey)."""

from . import calendar, districts  # noqa: F401  (daily calendar check task; District index invalidation)
from .audit import audit_checkpoint_daily  # noqa: F401  (daily signed audit checkpoint)
from .security import disable_idle_accounts_daily  # noqa: F401  (daily idle-account disabling)
