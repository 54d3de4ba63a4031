"""Background and periodic jobs of the kernel (Huey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import calendar, districts  # noqa: F401  (daily calendar check task; District index invalidation)
from .audit import audit_checkpoint_daily  # noqa: F401  (daily signed audit checkpoint)
from .security import disable_idle_accounts_daily  # noqa: F401  (daily idle-account disabling)


# 03:40 Beijing (Huey's crontab is UTC): bytes of attachments deleted more than a day ago.
@db_periodic_task(crontab(hour="19", minute="40"), name="core.attachments_purge")
def attachments_purge_daily() -> int:
    from .attachments import attachments_purge

    return attachments_purge()
