"""The escalation walk, every minute (imported from ``OpsConfig.ready``)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*"), name="ops.duty.escalate")
def escalate_every_minute() -> dict[str, int]:
    from govcenter.core.context import acting_as

    from .escalation import escalate

    with acting_as(None, channel="task"):
        return escalate()
