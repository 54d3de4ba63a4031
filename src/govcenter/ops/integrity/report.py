"""The 网页防篡改 section of the monthly/quarterly O&M report: checks run in the period, what
they found, what was restored (facts from IntegrityCheck rows)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..models import IntegrityBaseline, IntegrityCheck

KINDS = {"modified": gettext_lazy("被修改"), "missing": gettext_lazy("被删除"), "added": gettext_lazy("新增文件"),
         "manifest": gettext_lazy("基线签名无效")}  # fmt: skip


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in Beijing time."""
    tz = timezone.get_default_timezone()
    return (dt.datetime.combine(start, dt.time.min, tzinfo=tz),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz))  # fmt: skip


def section(start: dt.date, end: dt.date) -> dict:
    since, until = period_bounds(start, end)
    checks = list(IntegrityCheck.objects.filter(started_at__gte=since, started_at__lt=until).order_by("started_at"))
    findings = [(c, m) for c in checks for m in c.mismatches]
    restored = sum(1 for _c, m in findings if m.get("restored"))
    kinds = Counter(m["kind"] for _c, m in findings)
    durations = [c.duration_ms for c in checks]
    baselines = IntegrityBaseline.objects.filter(created_at__gte=since, created_at__lt=until).count()
    figures = {
        "checks": len(checks),
        "checks_with_findings": sum(1 for c in checks if c.mismatches),
        "findings": len(findings),
        "restored": restored,
        "not_restored": len(findings) - restored,
        "manifest_refused": sum(1 for c in checks if c.status == "refused"),
        "baselines": baselines,
        "avg_check_ms": round(sum(durations) / len(durations)) if durations else 0,
    }
    summary = [
        _("本期执行完整性检查 %(n)s 次，其中 %(bad)s 次发现不一致。") % {"n": figures["checks"],
                                                                 "bad": figures["checks_with_findings"]},
        _("发现不一致 %(n)s 处，已自动恢复 %(ok)s 处。") % {"n": figures["findings"], "ok": restored},
        _("本期建立基线 %(n)s 次；平均每次检查耗时 %(ms)s 毫秒。") % {"n": baselines, "ms": figures["avg_check_ms"]},
    ]  # fmt: skip
    if figures["manifest_refused"]:
        summary.append(_("基线签名校验失败 %(n)s 次（未从该基线恢复）。") % {"n": figures["manifest_refused"]})
    rows = [
        [timezone.localtime(c.started_at).strftime("%Y-%m-%d %H:%M"), str(KINDS.get(m["kind"], m["kind"])), m["path"],
         _("是") if m.get("restored") else _("否"), ", ".join(c.incidents)]
        for c, m in findings
    ][:200]  # fmt: skip
    return {
        "key": "integrity",
        "title": _("网页防篡改"),
        "summary": [str(s) for s in summary],
        "figures": figures,
        "tables": [
            {"title": _("不一致类型"), "columns": [_("类型"), _("次数")],
             "rows": [[str(KINDS.get(k, k)), n] for k, n in sorted(kinds.items())]},
            {"title": _("不一致明细"), "columns": [_("时间"), _("类型"), _("文件"), _("已恢复"), _("故障单")], "rows": rows},
        ],  # fmt: skip
    }
