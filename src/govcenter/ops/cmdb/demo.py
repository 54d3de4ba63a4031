"""Demo data of the CMDB and the vulnerability register, through the services, acting as the
demo accounts (omengineer plans and executes, secadmin approves and verifies).

``load_small_demo`` (``make run``): the contract's inventory, the NeoKylin baselines, a
TongWeb licence about to expire and three findings — one registered, one approved, one closed.
``load_demo(days=90)``: a quarter of weekly scans with findings in every state, and
baseline checklist results for every server."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from ..models import Asset, BaselineItem, RemediationPlan, Vulnerability
from . import baseline, services, vulns

DEMO_PLUGIN = "DEMO-"
HEADER = "host,vuln_id,port,protocol,severity,name,cve,cvss,solution\n"
CATALOGUE = (
    ("SSH-CBC", 22, "tcp", "低危", "SSH 服务器启用 CBC 模式加密", "CVE-2008-5161", "2.6", "禁用 CBC 模式密码算法"),
    ("OPENSSH-ENUM", 22, "tcp", "中危", "OpenSSH 用户枚举漏洞", "CVE-2018-15473", "5.3", "升级 OpenSSH"),
    ("SAMBA-RCE", 445, "tcp", "严重", "Samba 远程代码执行漏洞", "CVE-2017-7494", "9.8", "升级 Samba 或关闭 445 端口"),
    ("TLS-WEAK", 443, "tcp", "中危", "SSL/TLS 使用弱加密套件", "", "5.0", "禁用 RC4、3DES 套件"),
    ("SUDO-BAREDIT", 0, "", "高危", "sudo 堆溢出提权漏洞", "CVE-2021-3156", "7.8", "升级 sudo"),
    ("NTP-MODE6", 123, "udp", "低危", "NTP mode 6 查询未限制", "", "3.7", "配置 restrict noquery"),
)
STEPS = [("备份配置文件并升级相关软件包（yum update）", "yum history undo 回退软件包并恢复配置备份"),
         ("重启相关服务并检查业务", "恢复原配置后重启服务")]  # fmt: skip


def _accounts():
    return (User.objects.filter(username="omengineer").first(), User.objects.filter(username="secadmin").first(),
            Unit.objects.filter(code="OM-ZHITONG").first())  # fmt: skip


def _csv(rows) -> bytes:
    lines = [HEADER]
    for host, (code, port, proto, sev, name, cve, cvss, solution) in rows:
        lines.append(f"{host},{DEMO_PLUGIN}{code},{port},{proto},{sev},{name},{cve},{cvss},{solution}\n")
    return "".join(lines).encode()


def _walk(vuln, target: str, *, eng, sec, at: dt.datetime) -> None:
    """Take one registered finding to ``target`` (planned … closed), hours apart from ``at``."""
    if target == "registered":
        return
    hour = dt.timedelta(hours=1)
    plan = vulns.plan_create(actor=eng, vulnerabilities=[vuln], title=f"{vuln.title}整改", risk="medium",
                             window_start=at + 20 * hour, window_end=at + 24 * hour, steps=STEPS, at=at)  # fmt: skip
    if target == "planned":
        return
    vulns.plan_approve(actor=sec, plan=plan, comment="同意", at=at + 2 * hour)
    if target == "approved":
        return
    outcomes = [{"order": 1, "outcome": "done", "output": "Complete!"}, {"order": 2, "outcome": "done", "output": "active"}]
    vulns.plan_execute(actor=eng, plan=plan, outcomes=outcomes, started_at=at + 21 * hour, finished_at=at + 22 * hour,
                       summary="按方案实施")  # fmt: skip
    if target == "executed":
        return
    vulns.plan_verify(actor=sec, plan=plan, passed=True, result="复扫未发现该漏洞", at=at + 30 * hour)
    if target == "verified":
        return
    vulns.plan_close(actor=sec, plan=plan, at=at + 31 * hour)


def load_small_demo() -> dict[str, int]:
    eng, sec, unit = _accounts()
    if eng is None or sec is None or unit is None:
        return {}
    baseline.seed_baselines()
    with acting_as(eng, channel="demo"):
        created = services.seed_inventory(unit=unit)["created"]
    if Vulnerability.objects.filter(plugin_id__startswith=DEMO_PLUGIN).exists():
        return {"assets": created}
    now = timezone.now()
    with acting_as(eng, channel="demo"):
        tongweb = Asset.objects.get(code="MW-TW6-001")
        services.asset_update(actor=eng, asset=tongweb, licence_expires_on=timezone.localdate() + dt.timedelta(days=20),
                              notes="演示：许可即将到期")  # fmt: skip
        vulns.import_scan(actor=eng, scanner="generic", scanned_at=now - dt.timedelta(days=5), filename="demo.csv",
                          data=_csv([("10.10.7.1", CATALOGUE[2]), ("10.10.7.2", CATALOGUE[1]), ("10.10.6.1", CATALOGUE[0])]))  # fmt: skip
    found = {v.asset.code: v for v in Vulnerability.objects.filter(plugin_id__startswith=DEMO_PLUGIN).select_related("asset")}
    with acting_as(eng, channel="demo"):
        _walk(found["SRV-KY7-001"], "closed", eng=eng, sec=sec, at=now - dt.timedelta(days=4))
        _walk(found["SRV-KY7-002"], "approved", eng=eng, sec=sec, at=now - dt.timedelta(days=1))
    return {"assets": created, "vulnerabilities": 3}


def load_demo(*, days: int = 90, now: dt.datetime | None = None) -> dict[str, int]:
    """Weekly scans over ``days`` (older findings further along), and checklist results."""
    eng, sec, unit = _accounts()
    if eng is None or sec is None or unit is None:
        return {}
    now = now or timezone.now()
    load_small_demo()
    rng = random.Random(20261127)  # noqa: S311 (demo data, not security)
    servers = list(Asset.objects.filter(asset_class="server").order_by("code"))
    before = Vulnerability.objects.count()
    states = ["registered", "planned", "approved", "executed", "verified", "closed"]
    with acting_as(eng, channel="demo"):
        for week in range(days // 7, 0, -1):
            scanned = now - dt.timedelta(days=7 * week)
            picks = {(s.ip, entry[0]): (s.ip, entry) for s in rng.sample(servers, 4) for entry in rng.sample(CATALOGUE, 2)}
            vulns.import_scan(actor=eng, scanner="generic", scanned_at=scanned, data=_csv(picks.values()),
                              filename=f"week-{week}.csv")  # fmt: skip
            for vuln in Vulnerability.objects.filter(found_at=scanned, state="registered"):
                # the older the scan, the further the finding got
                reach = min(len(states) - 1, max(0, week // 2 + rng.randint(-1, 1)))
                _walk(vuln, states[reach], eng=eng, sec=sec, at=scanned + dt.timedelta(hours=3))
        items = {b: list(BaselineItem.objects.filter(baseline=b)) for b in baseline.BASELINES}
        checks = 0
        for server in servers:
            for item in items.get(baseline.baseline_of(server), []):
                result = rng.choices(["pass", "fail", "na"], weights=[85, 12, 3])[0]
                baseline.record_check(actor=eng, asset=server, item=item, result=result,
                                      evidence="检查记录：" + ("不符合，待整改" if result == "fail" else "符合"),
                                      at=now - dt.timedelta(days=rng.randint(1, days)))  # fmt: skip
                checks += 1
    return {"vulnerabilities": Vulnerability.objects.count() - before, "plans": RemediationPlan.objects.count(),
            "baseline_checks": checks}  # fmt: skip
