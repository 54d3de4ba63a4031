"""The CMDB / security section of the O&M monthly or quarterly report: assets by class and
status (as of the end of the period), licences and certificates expiring within the widest
threshold after it, vulnerabilities found / fixed (verified) / open by severity, the mean time
to remediate (found → verified, days, of the findings verified in the period), and the
hardening compliance of the servers (their latest results)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from ..models import Asset, AssetClass, AssetStatus, Vulnerability, VulnSeverity, VulnState
from . import baseline, expiry

TZ = ZoneInfo("Asia/Shanghai")


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(start, dt.time.min, tzinfo=TZ),
            dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=TZ))  # fmt: skip


def section(start: dt.date, end: dt.date) -> dict:
    begin, stop = _bounds(start, end)
    assets = list(Asset.objects.filter(created_at__lt=stop))
    by_class = Counter((a.asset_class, a.status) for a in assets)
    class_rows = [
        [str(label), *[by_class[(value, s)] for s in AssetStatus.values], sum(by_class[(value, s)] for s in AssetStatus.values)]
        for value, label in AssetClass.choices
        if any(by_class[(value, s)] for s in AssetStatus.values)
    ]
    soon = expiry.expiring(Asset.objects.filter(created_at__lt=stop), today=end)
    expiry_rows = [[e.asset.code, e.asset.name, "证书" if e.kind == "cert" else "许可", e.expires_on.isoformat(), e.days_left]
                   for e in soon]  # fmt: skip

    found = Vulnerability.objects.filter(found_at__gte=begin, found_at__lt=stop)
    fixed = Vulnerability.objects.filter(verified_at__gte=begin, verified_at__lt=stop)
    open_at_end = Vulnerability.objects.filter(found_at__lt=stop).exclude(verified_at__lt=stop)
    found_by, fixed_by, open_by = (Counter(qs.values_list("severity", flat=True)) for qs in (found, fixed, open_at_end))
    severity_rows = [[str(label), found_by[v], fixed_by[v], open_by[v]] for v, label in VulnSeverity.choices]
    durations = [(v.verified_at - v.found_at).total_seconds() / 86400 for v in fixed.only("found_at", "verified_at")]
    mttr = round(sum(durations) / len(durations), 1) if durations else None
    states = Counter(Vulnerability.objects.filter(found_at__lt=stop).values_list("state", flat=True))
    state_rows = [[str(label), states[v]] for v, label in VulnState.choices]

    servers = [a for a in assets if a.asset_class == AssetClass.SERVER and a.status != AssetStatus.RETIRED]
    hardening = baseline.compliance(servers)
    overall = hardening["overall"]
    worst = sorted((r for r in hardening["servers"] if r["rate"] is not None), key=lambda r: (r["rate"], r["asset"].code))[:10]
    summary = [
        f"资产 {len(assets)} 项，其中在用 {sum(1 for a in assets if a.status == AssetStatus.IN_SERVICE)} 项。",
        f"本期发现漏洞 {found.count()} 个，整改验证通过 {fixed.count()} 个，期末未整改 {open_at_end.count()} 个"
        + (f"，平均整改时长 {mttr} 天。" if mttr is not None else "。"),
        (f"{overall['servers']} 台服务器安全基线符合率 {overall['rate']}%。" if overall["rate"] is not None
         else "本期没有服务器的安全基线检查结果。"),
    ]
    if soon:
        summary.append(f"{len(soon)} 项许可或证书将在 {max(expiry.thresholds_days())} 天内到期或已过期。")
    return {
        "key": "cmdb",
        "title": "资产与安全加固",
        "summary": summary,
        "figures": {
            "assets": len(assets),
            "vulns_found": found.count(),
            "vulns_fixed": fixed.count(),
            "vulns_open": open_at_end.count(),
            "mttr_days": mttr if mttr is not None else "—",
            "expiring": len(soon),
            "hardening_rate": overall["rate"] if overall["rate"] is not None else "—",
        },
        "tables": [
            {"title": "资产分类统计", "columns": ["类别", *[str(label) for label in AssetStatus.labels], "合计"], "rows": class_rows},
            {"title": "即将到期的许可和证书", "columns": ["资产编号", "名称", "类型", "到期日", "剩余天数"], "rows": expiry_rows},
            {"title": "漏洞按风险等级统计", "columns": ["风险等级", "本期发现", "本期整改完成", "期末未整改"], "rows": severity_rows},
            {"title": "漏洞状态", "columns": ["状态", "数量"], "rows": state_rows},
            {"title": "安全基线符合率最低的服务器", "columns": ["服务器", "符合", "不符合", "未检查", "符合率（%）"],
             "rows": [[r["asset"].code, r["passed"], r["failed"], r["unchecked"], r["rate"]] for r in worst]},
        ],
    }  # fmt: skip
