"""Scheduled backups (Huey periodic tasks; Huey's crontab is UTC) and the on-demand tasks the
page's buttons enqueue (a backup never runs inside a web request)."""

from __future__ import annotations

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from govcenter.core.context import acting_as

logger = logging.getLogger(__name__)


def _user(user_id):
    from govcenter.core.models import User

    return User.objects.filter(pk=user_id).first() if user_id else None


# 02:00 Asia/Shanghai = 18:00 UTC: the database and the lake manifest, then retention.
@db_periodic_task(crontab(hour="18", minute="0"), name="ops.backups_nightly")
def backups_nightly() -> dict:
    """Nightly: back up the database and the lake manifest, then prune past retention."""
    from .services import BackupError, backup_create, backups_prune

    made = {}
    with acting_as(None, channel="task"):
        for kind in ("database", "lake"):
            try:
                made[kind] = backup_create(kind=kind).pk
            except BackupError as exc:  # recorded as a failed backup (and audited) already
                logger.error("nightly %s backup failed: %s", kind, exc)
                made[kind] = None
        made["pruned"] = len(backups_prune())
    return made


# Sundays 03:30 Asia/Shanghai = Saturdays 19:30 UTC: a restore drill of the newest database backup.
@db_periodic_task(crontab(day_of_week="6", hour="19", minute="30"), name="ops.restore_drill_weekly")
def restore_drill_weekly() -> int | None:
    """Weekly: restore the newest good database backup into a scratch target and compare."""
    from .services import latest_backup, restore_drill

    backup = latest_backup("database")
    if backup is None:
        return None
    with acting_as(None, channel="task"):
        return restore_drill(backup=backup).pk


@db_task()
def backup_now(kind: str, user_id: int | None = None) -> list[int]:
    """The 立即备份 button: back up ``kind`` (database, lake or all) as the user who asked."""
    from .services import BackupError, backup_create

    ids = []
    user = _user(user_id)
    with acting_as(user, channel="task"):
        for k in ("database", "lake") if kind == "all" else (kind,):
            try:
                ids.append(backup_create(kind=k, actor=user).pk)
            except BackupError as exc:
                logger.error("%s backup failed: %s", k, exc)
    return ids


@db_task()
def drill_now(backup_id: int, user_id: int | None = None) -> int | None:
    """The 恢复演练 button: a restore drill of one backup as the user who asked."""
    from ..models import Backup
    from .services import restore_drill

    backup = Backup.objects.filter(pk=backup_id).first()
    if backup is None:
        return None
    user = _user(user_id)
    with acting_as(user, channel="task"):
        return restore_drill(backup=backup, actor=user).pk
