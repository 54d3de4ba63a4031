"""Hardening baselines (安全基线) of the servers' operating systems and the per-server checklist.

The items follow the 等保 2.0 general requirements, GB/T 22239-2019 《信息安全技术 网络安全等级
保护基本要求》, level 3, 安全计算环境 (8.1.4): 身份鉴别 (a–d), 访问控制 (a–g), 安全审计 (a–d),
入侵防范 (a–f), 恶意代码防范, 数据完整性/保密性. The check commands are those of NeoKylin
V6 (RHEL 6 family: SysV init, ``chkconfig``) and V7 (RHEL 7 family: systemd).

Compliance of a server: passed items ÷ applicable items (all items of its baseline less the
n/a ones; an unchecked item counts as not passed).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError

from ..models import Asset, AssetClass, BaselineCheck, BaselineItem, CheckResult

GBT = "GB/T 22239-2019 8.1.4"

# (code, title, check (V6), check (V7), expected, source)
ITEMS = (
    ("KY-01", "口令复杂度", "grep -E 'minlen|dcredit|ucredit|lcredit|ocredit' /etc/pam.d/system-auth",
     "grep -E 'minlen|minclass' /etc/security/pwquality.conf /etc/pam.d/system-auth",
     "长度不少于 8 位，至少包含三类字符", f"{GBT}.1 身份鉴别 a）"),
    ("KY-02", "口令有效期", "grep -E '^PASS_(MAX|MIN)_DAYS|^PASS_WARN_AGE' /etc/login.defs",
     "grep -E '^PASS_(MAX|MIN)_DAYS|^PASS_WARN_AGE' /etc/login.defs",
     "PASS_MAX_DAYS ≤ 90，PASS_WARN_AGE ≥ 7", f"{GBT}.1 身份鉴别 a）"),
    ("KY-03", "登录失败处理", "grep pam_tally2 /etc/pam.d/system-auth /etc/pam.d/sshd",
     "grep -E 'pam_faillock|pam_tally2' /etc/pam.d/system-auth /etc/pam.d/password-auth",
     "连续 5 次失败锁定不少于 10 分钟", f"{GBT}.1 身份鉴别 b）"),
    ("KY-04", "登录超时退出", "grep -E '^(export )?TMOUT' /etc/profile", "grep -E '^(export )?TMOUT' /etc/profile /etc/profile.d/*.sh",
     "TMOUT ≤ 600 秒", f"{GBT}.1 身份鉴别 b）"),
    ("KY-05", "远程管理加密（禁用 Telnet）", "chkconfig --list telnet; grep ^Protocol /etc/ssh/sshd_config",
     "systemctl is-enabled telnet.socket; sshd -T | grep -i protocol",
     "Telnet 关闭，仅 SSH v2", f"{GBT}.1 身份鉴别 c）"),
    ("KY-06", "禁止 root 远程登录", "grep -i ^PermitRootLogin /etc/ssh/sshd_config", "sshd -T | grep -i permitrootlogin",
     "PermitRootLogin no", f"{GBT}.2 访问控制 b）"),
    ("KY-07", "清理多余和过期账户", "awk -F: '$3>=500' /etc/passwd; passwd -Sa", "awk -F: '$3>=1000' /etc/passwd; passwd -Sa",
     "无共享账户、过期账户，默认账户已禁用", f"{GBT}.2 访问控制 c）"),
    ("KY-08", "三权分立（管理员权限分离）", "grep -v '^#' /etc/sudoers /etc/sudoers.d/*", "grep -v '^#' /etc/sudoers /etc/sudoers.d/*",
     "系统、安全、审计管理员分设，授予最小权限", f"{GBT}.2 访问控制 d）"),
    ("KY-09", "审计服务开启", "service auditd status; chkconfig --list auditd", "systemctl is-active auditd; systemctl is-enabled auditd",
     "auditd 运行且开机启动", f"{GBT}.3 安全审计 a）"),
    ("KY-10", "审计记录保护与日志外发", "grep -E '^\\*\\.\\*.*@' /etc/rsyslog.conf; ls -l /var/log/audit",
     "grep -E '^\\*\\.\\*.*@' /etc/rsyslog.conf /etc/rsyslog.d/*; ls -l /var/log/audit",
     "日志发往日志审计（TopAudit），本地日志仅 root 可写，保存不少于 6 个月", f"{GBT}.3 安全审计 c）"),
    ("KY-11", "时间同步", "service ntpd status; ntpq -p", "chronyc sources || ntpq -p",
     "与中心时间源同步，偏差 < 1 秒", f"{GBT}.3 安全审计 b）"),
    ("KY-12", "关闭不需要的服务和端口", "chkconfig --list | grep ':on'; netstat -tlnp", "systemctl list-unit-files --state=enabled; ss -tlnp",
     "仅业务所需服务和端口开启", f"{GBT}.4 入侵防范 a）b）"),
    ("KY-13", "管理终端地址限制", "cat /etc/hosts.allow /etc/hosts.deny; iptables -L -n", "cat /etc/hosts.allow /etc/hosts.deny; firewall-cmd --list-all",
     "SSH 仅允许运维管理网段访问", f"{GBT}.4 入侵防范 c）"),
    ("KY-14", "安全补丁", "rpm -qa --last | head; yum check-update --security", "rpm -qa --last | head; yum updateinfo list security",
     "已安装经测试的高危漏洞补丁", f"{GBT}.4 入侵防范 e）"),
)  # fmt: skip
BASELINES = {"neokylin-v6": 2, "neokylin-v7": 3}  # baseline -> index of its check command in ITEMS


def seed_baselines() -> dict[str, int]:
    """The NeoKylin V6/V7 baselines (idempotent: existing items are left as edited)."""
    counts = {"created": 0, "unchanged": 0}
    with transaction.atomic():
        existing = set(BaselineItem.objects.values_list("baseline", "code"))
        for baseline, index in BASELINES.items():
            for row in ITEMS:
                if (baseline, row[0]) in existing:
                    counts["unchanged"] += 1
                    continue
                item = BaselineItem.objects.create(baseline=baseline, code=row[0], title=row[1], check_method=row[index],
                                                   expected=row[4], source=row[5])  # fmt: skip
                audit.record(action="ops.baseline.seed", obj=item, changes={"after": {"baseline": baseline, "code": row[0]}})
                counts["created"] += 1
    return counts


def baseline_of(asset: Asset) -> str:
    return (asset.attributes or {}).get("baseline", "") if asset.asset_class == AssetClass.SERVER else ""


def checklist(asset: Asset) -> list[tuple[BaselineItem, BaselineCheck | None]]:
    """The baseline's items of a server, each with its latest result (or None)."""
    items = BaselineItem.objects.filter(baseline=baseline_of(asset))
    checks = {c.item_id: c for c in asset.baseline_checks.select_related("checked_by")}
    return [(item, checks.get(item.pk)) for item in items]


@transaction.atomic
def record_check(*, actor, asset: Asset, item: BaselineItem, result: str, evidence: str = "",
                 at: dt.datetime | None = None) -> BaselineCheck:  # fmt: skip
    """Record (or replace) the result of one item on one server (audited, before → after)."""
    if actor is not None:
        if not actor.has_perm("ops.check_baseline"):
            raise ServiceError(_("您无权登记基线检查结果。"), code="permission_denied", status=403)
        if not Asset.objects.restrict(actor).filter(pk=asset.pk).exists():
            raise ServiceError(_("该资产不在您的数据范围内。"), code="out_of_scope", status=404)
    if result not in CheckResult.values:
        raise ServiceError(_("未知的检查结果。"), code="invalid", details={"result": [str(result)]})
    if item.baseline != baseline_of(asset):
        raise ServiceError(_("该检查项不属于此服务器的基线。"), code="invalid", details={"item": [item.code]})
    if result == CheckResult.FAIL and not (evidence or "").strip():
        raise ServiceError(_("不符合项须填写证据。"), code="invalid", details={"evidence": [_("必填")]})
    when = at or timezone.now()
    fields = ["result", "evidence", "checked_at"]
    check = BaselineCheck.objects.select_for_update().filter(asset=asset, item=item).first()
    before = audit.snapshot(check, fields) if check else {}
    if check is None:
        check = BaselineCheck(asset=asset, item=item)
    check.result, check.evidence, check.checked_at = result, (evidence or "").strip(), when
    check.checked_by = actor if getattr(actor, "pk", None) else None
    check.save()
    audit.record(action="ops.baseline.check", obj=asset, object_repr=f"{asset.code} {item.code}"[:200],
                 changes=audit.diff(before, audit.snapshot(check, fields)))  # fmt: skip
    return check


def compliance(assets) -> dict:
    """``{"servers": [{"asset", "passed", "failed", "na", "unchecked", "applicable", "rate"}],
    "overall": {...}}`` for the servers among ``assets`` (rate in %, None when nothing applies)."""
    assets = [a for a in assets if baseline_of(a)]
    sizes = {}
    for baseline in {baseline_of(a) for a in assets}:
        sizes[baseline] = BaselineItem.objects.filter(baseline=baseline).count()
    results: dict[int, dict[str, int]] = {}
    for asset_id, result in BaselineCheck.objects.filter(asset__in=[a.pk for a in assets]).values_list("asset_id", "result"):
        results.setdefault(asset_id, {}).setdefault(result, 0)
        results[asset_id][result] += 1
    rows, total = [], {"passed": 0, "failed": 0, "na": 0, "unchecked": 0, "applicable": 0}
    for asset in assets:
        r = results.get(asset.pk, {})
        size = sizes[baseline_of(asset)]
        row = {"passed": r.get("pass", 0), "failed": r.get("fail", 0), "na": r.get("na", 0)}
        row["unchecked"] = size - sum(row.values())
        row["applicable"] = size - row["na"]
        for key in total:
            total[key] += row[key]
        row["rate"] = round(100 * row["passed"] / row["applicable"], 1) if row["applicable"] else None
        rows.append({"asset": asset, **row})
    total["rate"] = round(100 * total["passed"] / total["applicable"], 1) if total["applicable"] else None
    total["servers"] = len(rows)
    return {"servers": rows, "overall": total}
