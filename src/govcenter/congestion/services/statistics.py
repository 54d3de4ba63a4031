"""The subsystems' statistics in one place (统计分析).

Each figure is computed once, by its subsystem's service (:func:`proposal_statistics`,
:func:`project_statistics`, :func:`supervision_stats`, :func:`tia_statistics`,
:func:`library_statistics`); :func:`gather` collects those the caller may see — each needs
the subsystem's view permission, and each counts only the caller's data scope — for
``/api/v1/congestion/statistics``, and :func:`sections` turns the same figures into labelled
tables for the statistics page (codes to names, fen to yuan). Nothing here counts anything
itself, so the page and the API cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from govcenter.core.models import District, Unit

from ..models import (
    InfraProject,
    PolicyDocument,
    Proposal,
    ProposalProposer,
    PublicityItem,
    ReliefWork,
    ResearchProject,
    SupervisionTask,
    TiaApplication,
)
from ..models.library import ProjectDeliverable
from .library import library_statistics
from .proposals import proposal_statistics
from .supervision import supervision_stats
from .tia import tia_statistics
from .works import project_statistics

LIBRARY = (("policy", PolicyDocument), ("research", ResearchProject), ("publicity", PublicityItem))


def _may(user, model) -> bool:
    return user.has_perm(f"congestion.view_{model._meta.model_name}")


def gather(user, *, year: int) -> dict:
    """The figures of ``year`` the caller may see, keyed by subsystem (absent without permission)."""
    out: dict = {"year": year}
    if _may(user, Proposal):
        out["proposals"] = proposal_statistics(user, year=year)
    if _may(user, ReliefWork) or _may(user, InfraProject):
        out["projects"] = project_statistics(user, year=year)
    if _may(user, SupervisionTask):
        out["supervision"] = supervision_stats(user=user, year=year)
    if _may(user, TiaApplication):
        out["tia"] = tia_statistics(user, year=year)
    library_kinds = [code for code, model in LIBRARY if _may(user, model)]
    if library_kinds:
        library = library_statistics(user)
        out["library"] = {code: library[code] for code in library_kinds}
    return out


# -- the page ---------------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    head: list[str]
    rows: list[list]
    bars: bool = False  # a two-column count table: the page draws a bar per row


@dataclass
class Section:
    code: str
    title: str
    figures: list[tuple[str, object]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def _share(value: float) -> str:
    return f"{value * 100:.1f}%"


def _labels(model, name: str) -> dict:
    return {str(k): str(v) for k, v in model._meta.get_field(name).choices or ()}


def _counts(title: str, counts: dict, labels: dict | None = None) -> Table:
    rows = sorted(
        ([(labels or {}).get(str(k), str(k) or _("未填")), n] for k, n in counts.items() if n),
        key=lambda r: -r[1],
    )
    return Table(title, [_("项"), _("数量")], rows, bars=True)


def _district_names(*counts: dict) -> dict:
    codes = {code for c in counts for code in c if code}
    names = dict(District.objects.filter(code__in=codes).values_list("code", "name_zh"))
    return {**names, "": _("未定位")}


def sections(user, *, year: int) -> list[Section]:
    data = gather(user, year=year)
    out = []
    if "proposals" in data:
        out.append(_proposals(data["proposals"]))
    if "projects" in data:
        out.append(_projects(data["projects"], user))
    if "supervision" in data:
        out.append(_supervision(data["supervision"]))
    if "tia" in data:
        out.append(_tia(data["tia"]))
    if "library" in data:
        out.append(_library(data["library"]))
    return out


def _proposals(stats: dict) -> Section:
    units = dict(Unit.objects.filter(pk__in=list(stats["by_lead_unit"])).values_list("pk", "name_zh"))
    return Section(
        "proposals",
        _("建议提案"),
        figures=[(_("件数"), stats["total"]["proposals"])],
        tables=[
            _counts(_("按状态"), stats["by_state"], _labels(Proposal, "state")),
            _counts(_("按答复类别"), stats["by_classification"], _labels(Proposal, "classification")),
            _counts(_("代表委员评价"), stats["by_satisfaction"], _labels(ProposalProposer, "satisfaction")),
            _counts(_("按主办单位"), {units.get(k, k): n for k, n in stats["by_lead_unit"].items()}),
        ],
    )


def _projects(stats: dict, user) -> Section:
    works, infra = stats["works"], stats["infra"]
    names = _district_names(works["by_district"], infra["by_district"])
    investment = stats["investment"]
    planned, done = investment["planned_fen"], investment["done_fen"]
    tables = []
    if _may(user, ReliefWork):
        tables += [
            _counts(_("疏堵工程 · 按状态"), works["by_state"], _labels(ReliefWork, "state")),
            _counts(_("疏堵工程 · 按区"), works["by_district"], names),
        ]
    if _may(user, InfraProject):
        tables += [
            _counts(_("基础设施项目 · 按阶段"), infra["by_state"], _labels(InfraProject, "state")),
            _counts(_("基础设施项目 · 按区"), infra["by_district"], names),
        ]
    tables.append(
        Table(
            _("滞后的里程碑"),
            [_("编号"), _("里程碑"), _("计划日期"), _("滞后天数")],
            [
                [r["number"], r["milestone"], r["planned_on"], r["days_late"]]
                for r in stats["slipped_milestones"]
            ],
        )
    )
    return Section(
        "projects",
        _("工程与项目"),
        figures=[
            (_("年度计划投资"), yuan(planned)),
            (_("年度完成投资"), yuan(done)),
            (_("投资完成率"), _share(done / planned) if planned else "—"),
            (_("滞后里程碑"), len(stats["slipped_milestones"])),
        ],
        tables=tables,
    )


def _supervision(stats: dict) -> Section:
    scores = stats["scores"]
    return Section(
        "supervision",
        _("督查督办"),
        figures=[
            (_("任务"), sum(stats["by_state"].values())),
            (_("逾期（按单位计）"), sum(r["overdue"] for r in stats["by_unit"])),
        ],
        tables=[
            _counts(_("按状态"), stats["by_state"], _labels(SupervisionTask, "state")),
            Table(
                _("单位评分"),
                [
                    _("单位"),
                    _("任务"),
                    _("按期"),
                    _("逾期完成"),
                    _("逾期未完成"),
                    _("缺报"),
                    _("退回"),
                    _("延期"),
                    _("得分"),
                ],
                [
                    [
                        r["unit_name"],
                        r["tasks"],
                        r["on_time"],
                        r["late"],
                        r["overdue_open"],
                        r["missing_reports"],
                        r["sends_back"],
                        r["extensions"],
                        r["score"],
                    ]
                    for r in scores
                ],
            ),
        ],
    )


def _tia(stats: dict) -> Section:
    names = _district_names(stats["by_district"])
    return Section(
        "tia",
        _("交通影响评价"),
        figures=[
            (_("申请"), stats["total"]),
            (_("达到启动阈值"), stats["over_threshold"]),
            (_("阈值占比"), _share(stats["over_threshold_share"])),
            (_("修改轮次"), stats["revision_rounds"]),
        ],
        tables=[
            _counts(_("按状态"), stats["by_state"], _labels(TiaApplication, "state")),
            _counts(_("按区"), stats["by_district"], names),
            _counts(_("按用途"), stats["by_use"], _labels(TiaApplication, "use")),
            _counts(_("按区位"), stats["by_ring_area"], _labels(TiaApplication, "ring_area")),
            Table(
                _("各环节用时（工作日）"),
                [_("环节"), _("已完成"), _("平均工作日"), _("超时占比")],
                [
                    [s["label"], s["finished"], s["avg_workdays"], _share(s["over_limit_share"])]
                    for s in stats["stages"].values()
                ],
            ),
        ],
    )


def _library(stats: dict) -> Section:
    labels = {"policy": _("政策研究信息"), "research": _("科研项目"), "publicity": _("宣传")}
    models = dict(LIBRARY)
    figures, tables = [], []
    for code, row in stats.items():
        figures.append((labels[code], row["total"]))
        tables.append(
            _counts(labels[code] + " · " + _("按状态"), row["by_state"], _labels(models[code], "state"))
        )
    if "policy" in stats:
        tables.append(
            _counts(
                _("政策研究 · 按类别"), stats["policy"]["by_category"], _labels(PolicyDocument, "category")
            )
        )
    if "publicity" in stats:
        tables.append(
            _counts(_("宣传 · 按类型"), stats["publicity"]["by_kind"], _labels(PublicityItem, "kind"))
        )
    if "research" in stats:
        research = stats["research"]
        figures += [
            (_("科研预算"), yuan(research["budget_fen"])),
            (_("科研支出"), yuan(research["spent_fen"])),
        ]
        tables.append(
            _counts(
                _("科研成果 · 按类型"), research["deliverables_by_kind"], _labels(ProjectDeliverable, "kind")
            )
        )
    return Section("library", _("政策研究、科研与宣传"), figures=figures, tables=tables)
