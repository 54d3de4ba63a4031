"""``govcenter seed`` for the duty area: the two default shifts, the default escalation
chains and two response plans (网页篡改应急预案, 网络攻击应急预案) in force as version 1."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from govcenter.core import audit

from ..models import PlanVersionState, ResponsePlan, ResponsePlanVersion
from .escalation import escalation_policies_seed
from .roster import shifts_seed

TAMPERING = {
    "code": "web-tampering",
    "kind": "tampering",
    "title": "网页篡改应急预案",
    "triggers": (
        "出现下列情形之一即启动本预案：\n"
        "1. 网页防篡改系统或完整性监测发现门户网站、公众服务页面内容与基线不一致；\n"
        "2. 巡检人员、用户或上级单位报告页面出现非本中心发布的文字、图片、链接或挂马代码；\n"
        "3. 网络安全监管部门（公安网安、网信部门）通报本中心网站被篡改。"
    ),
    "steps": [
        {"title": "发现与报告", "owner_role": "值班工程师", "minutes": 10,
         "action": "确认篡改现象，截图取证（页面、URL、时间），10 分钟内电话报告值班领导和安全管理员，在系统登记一级故障。"},
        {"title": "应急处置（断开）", "owner_role": "值班工程师", "minutes": 15,
         "action": "启用维护页面或将受影响站点下线，切断对外访问，防止篡改内容继续传播；保留服务器现场，不得直接覆盖。"},
        {"title": "取证与分析", "owner_role": "安全管理员", "minutes": 120,
         "action": "保全 Web 日志、系统日志、审计日志和被篡改文件，比对完整性基线，排查 Webshell、弱口令和漏洞利用路径。"},
        {"title": "清除与恢复", "owner_role": "运维单位项目经理", "minutes": 120,
         "action": "修补漏洞、清除后门、重置相关口令，从经校验（SM3 摘要一致）的备份恢复页面，复核后重新上线。"},
        {"title": "通报与总结", "owner_role": "中心领导", "minutes": 1440,
         "action": "按规定向公安网安部门和上级主管部门报告；24 小时内形成事件报告，复盘原因并落实整改措施。"},
    ],
    "contacts": [
        {"name": "值班领导", "role": "中心领导", "phone": "见当日值班表"},
        {"name": "安全管理员", "role": "安全管理员", "phone": "见当日值班表"},
        {"name": "公安网安值班室", "role": "外部报告", "phone": "110"},
    ],
}

ATTACK = {
    "code": "network-attack",
    "kind": "attack",
    "title": "网络攻击应急预案",
    "triggers": (
        "出现下列情形之一即启动本预案：\n"
        "1. 入侵检测、态势感知或防火墙告警显示持续性攻击（拒绝服务、暴力破解、漏洞扫描与利用）；\n"
        "2. 服务器或终端发现恶意代码、勒索软件、异常外联或异常账号；\n"
        "3. 业务系统因流量异常出现不可用或严重降级（一级、二级故障）；\n"
        "4. 发现或被通报疑似数据泄露。"
    ),
    "steps": [
        {"title": "监测与研判", "owner_role": "值班工程师", "minutes": 15,
         "action": "核实告警，判断攻击类型、来源、影响范围和业务影响，按故障分级登记，15 分钟内报告值班领导。"},
        {"title": "隔离与遏制", "owner_role": "值班工程师", "minutes": 30,
         "action": "封禁攻击源地址，启用流量清洗或运营商抗 DDoS 服务；对失陷主机断网隔离，冻结可疑账号。"},
        {"title": "启动应急小组", "owner_role": "中心领导", "minutes": 30,
         "action": "值班领导决定启动预案，召集安全管理员、运维单位项目经理和相关系统厂商，明确分工与通报口径。"},
        {"title": "根除与恢复", "owner_role": "运维单位项目经理", "minutes": 240,
         "action": "查明入侵路径，清除恶意代码，修补漏洞，从可信备份恢复系统和数据，验证业务功能和数据完整性后恢复服务。"},
        {"title": "报告与整改", "owner_role": "安全管理员", "minutes": 1440,
         "action": "按《网络安全法》和等级保护要求向公安网安和上级部门报告；形成事件报告，完成复盘、整改和预案修订。"},
    ],
    "contacts": [
        {"name": "值班领导", "role": "中心领导", "phone": "见当日值班表"},
        {"name": "运营商抗 DDoS 服务", "role": "外部支援", "phone": "按服务合同"},
        {"name": "公安网安值班室", "role": "外部报告", "phone": "110"},
    ],
}

SEED_PLANS = (TAMPERING, ATTACK)


@transaction.atomic
def response_plans_seed() -> dict[str, int]:
    """The two plans, version 1 in force, unless their code exists (idempotent)."""
    created = 0
    for spec in SEED_PLANS:
        if ResponsePlan.objects.filter(code=spec["code"]).exists():
            continue
        plan = ResponsePlan.objects.create(code=spec["code"], kind=spec["kind"], title=spec["title"])
        version = ResponsePlanVersion.objects.create(
            plan=plan, version=1, triggers=spec["triggers"], steps=spec["steps"], contacts=spec["contacts"],
            change_note="初始预案（系统预置）", state=PlanVersionState.APPROVED, approved_at=timezone.now(),
        )  # fmt: skip
        audit.record(action="ops.response_plan.create", obj=version,
                     changes={"code": plan.code, "version": 1, "steps": len(spec["steps"])})  # fmt: skip
        created += 1
    return {"created": created, "unchanged": len(SEED_PLANS) - created}


def duty_seed() -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, loader in (("shifts", shifts_seed), ("escalation", escalation_policies_seed),
                         ("plans", response_plans_seed)):  # fmt: skip
        for key, value in loader().items():
            counts[f"{name}_{key}"] = value
    return counts
