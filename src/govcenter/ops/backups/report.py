"""The backups section of the O&M monthly/quarterly report: backups made and failed, their
size, restore drills passed and failed, and the last restore verified by a drill — facts of
the period [start, end] (Beijing dates, inclusive), from the recorded rows."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from ..models import Backup, BackupKind, BackupState, DrillResult, RestoreDrill


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    return (dt.datetime.combine(start, dt.time(), tzinfo=tz),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz))  # fmt: skip


def _mib(size: int) -> float:
    return round(size / (1024 * 1024), 1)


def section(start: dt.date, end: dt.date) -> dict:
    lo, hi = _bounds(start, end)
    backups = Backup.objects.filter(started_at__gte=lo, started_at__lt=hi)
    drills = RestoreDrill.objects.filter(started_at__gte=lo, started_at__lt=hi)
    ok = Q(state=BackupState.OK)
    totals = backups.aggregate(made=Count("pk", filter=ok), failed=Count("pk", filter=~ok),
                               size=Sum("size", filter=ok))  # fmt: skip
    passed = drills.filter(result=DrillResult.PASSED).count()
    failed_drills = drills.exclude(result=DrillResult.PASSED).count()
    last = RestoreDrill.objects.filter(result=DrillResult.PASSED, started_at__lt=hi).order_by("-started_at").first()
    last_text = timezone.localtime(last.started_at).strftime("%Y-%m-%d %H:%M") if last else _("无")
    size = totals["size"] or 0
    by_kind = []
    for kind, label in BackupKind.choices:
        rows = backups.filter(kind=kind).aggregate(made=Count("pk", filter=ok), failed=Count("pk", filter=~ok),
                                                   size=Sum("size", filter=ok))  # fmt: skip
        by_kind.append([str(label), rows["made"], rows["failed"], _mib(rows["size"] or 0)])
    drill_rows = [
        [timezone.localtime(d.started_at).strftime("%Y-%m-%d %H:%M"), d.backup_label, str(d.get_result_display()),
         len(d.tables), ", ".join(d.mismatched) or (d.error[:80] if d.error else "—")]
        for d in drills.order_by("started_at")
    ]  # fmt: skip
    historical = backups.filter(historical=True).exists() or drills.filter(historical=True).exists()
    summary = [
        _("本期完成备份 %(made)d 次，失败 %(failed)d 次，备份总量 %(size)s MiB。")
        % {"made": totals["made"], "failed": totals["failed"], "size": _mib(size)},
        _("恢复演练 %(passed)d 次通过，%(failed)d 次未通过；最近一次验证通过的恢复：%(last)s。")
        % {"passed": passed, "failed": failed_drills, "last": last_text},
    ]
    if historical:
        summary.append(_("注：本期含历史演示记录（只有元数据，没有备份文件）。"))
    return {
        "key": "backups",
        "title": _("备份与恢复演练"),
        "summary": summary,
        "figures": {
            "backups_made": totals["made"],
            "backups_failed": totals["failed"],
            "backup_bytes": size,
            "drills_passed": passed,
            "drills_failed": failed_drills,
            "last_verified_restore": last_text,
        },
        "tables": [
            {"title": _("按类型的备份"), "columns": [_("类型"), _("成功"), _("失败"), _("大小（MiB）")], "rows": by_kind},
            {"title": _("恢复演练"), "columns": [_("开始时间"), _("备份文件"), _("结果"), _("表数"), _("不一致的表或错误")],
             "rows": drill_rows},
        ],  # fmt: skip
    }
