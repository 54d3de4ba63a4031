"""The report's sections as tables, paragraphs and chart descriptions (shared by Word and Excel).

:func:`sections` turns the dict of :func:`.monthly.gather` into a list of :class:`Section`;
:mod:`.docx` draws the charts as PNG images, :mod:`.xlsx` writes each section on its own
sheet with native charts over the same numbers. A section without data carries the line
本月无数据 instead of tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from .charts import Chart, safe_label

INT, FLOAT1, FLOAT2, PCT, TEXT = "int", "float1", "float2", "pct", "text"
EXCEL_FORMATS = {INT: "#,##0", FLOAT1: "#,##0.0", FLOAT2: "#,##0.00", PCT: "0.0%", TEXT: "@"}


@dataclass
class Column:
    title: str
    kind: str = TEXT


@dataclass
class Table:
    title: str
    columns: list[Column]
    rows: list[list]
    highlight: list[bool] = field(default_factory=list)  # rows drawn in the warning colour


@dataclass
class Section:
    key: str  # the Excel sheet's name
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    empty: bool = False


def no_data() -> str:
    return _("本月无数据")


def fmt(value, kind: str) -> str:
    """A cell as text for Word (Excel keeps the number and gets a number format)."""
    if value is None:
        return "—"
    if kind == INT:
        return f"{int(value):,}"
    if kind == FLOAT1:
        return f"{float(value):,.1f}"
    if kind == FLOAT2:
        return f"{float(value):,.2f}"
    if kind == PCT:
        return f"{float(value) * 100:.1f}%"
    return str(value)


def _signed_pct(value) -> str:
    if value is None:
        return _("无可比数据")
    return f"{value * 100:+.1f}%"


def title(data: dict) -> str:
    return _("%(year)d年%(month)d月互联网租赁自行车监管月报") % {"year": data["year"], "month": data["month"]}


def summary_text(data: dict) -> str:
    s = data["summary"]
    parts = [
        _("%(first)s至%(last)s，全市共有%(operators)d家运营企业纳入监管，登记车辆%(registered)s辆。")
        % {"first": data["first"], "last": data["last"], "operators": s["operators"],
           "registered": fmt(s["registered"], INT)},
    ]  # fmt: skip
    if s["rides_days"]:
        parts.append(
            _("本月有数据%(days)d天，骑行%(rides)s次，日均%(per_day)s次，日均环比%(mom)s。")
            % {"days": s["rides_days"], "rides": fmt(s["rides"], INT), "per_day": fmt(s["rides_per_day"], FLOAT1),
               "mom": _signed_pct(s["rides_mom_change"])}
        )  # fmt: skip
    else:
        parts.append(_("本月无骑行数据。"))
    parts.append(_("超出投放配额%(n)d项。") % {"n": s["over_quota"]})
    if s["quality_avg"] is not None:
        parts.append(_("数据质量平均得分%(score)s分。") % {"score": fmt(s["quality_avg"], FLOAT1)})
    parts.append(
        _("扫码核查%(n)d次，未登记率%(share)s。")
        % {"n": s["scanchecks"], "share": fmt(s["unregistered_share"], PCT)}
    )
    parts.append(_("轨道交通站点出现车辆淤积的站点%(n)d个。") % {"n": s["accumulation_stations"]})
    return "".join(parts)


def _name(data: dict, code: str) -> str:
    return data["operators"].get(code, code)


def _chart_name(data: dict, code: str) -> str:
    return safe_label(_name(data, code), code)


def _summary(data: dict) -> Section:
    s = data["summary"]
    rows = [
        [_("骑行次数"), s["rides"]],
        [_("有数据天数"), s["rides_days"]],
        [_("日均骑行次数"), s["rides_per_day"]],
        [_("日均骑行环比"), s["rides_mom_change"]],
        [_("运营企业数"), s["operators"]],
        [_("登记车辆数"), s["registered"]],
        [_("超配额项数"), s["over_quota"]],
        [_("数据质量平均得分"), s["quality_avg"]],
        [_("扫码核查次数"), s["scanchecks"]],
        [_("未登记率"), s["unregistered_share"]],
        [_("淤积站点数"), s["accumulation_stations"]],
    ]
    kinds = [INT, INT, FLOAT1, PCT, INT, INT, INT, FLOAT1, INT, PCT, INT]
    # One "value" column holding mixed kinds: keep the numbers, format per row in Word.
    table = Table(_("主要指标"), [Column(_("指标")), Column(_("数值"), TEXT)], [[r[0], fmt(r[1], k)] for r, k in
                                                                                  zip(rows, kinds, strict=True)])  # fmt: skip
    return Section("概况", _("一、总体情况"), [summary_text(data)], [table])


def _rides(data: dict) -> Section:
    sec = Section("骑行", _("二、骑行量"))
    rides = data["rides"]
    if not rides or not rides["total"]:
        sec.paragraphs.append(no_data())
        sec.empty = True
        return sec
    sec.tables.append(
        Table(
            _("各企业骑行量"),
            [Column(_("运营企业")), Column(_("骑行次数"), INT), Column(_("有数据天数"), INT),
             Column(_("日均骑行"), FLOAT2), Column(_("上月日均"), FLOAT2), Column(_("日均环比"), PCT),
             Column(_("高峰小时"), INT), Column(_("高峰小时骑行"), INT), Column(_("早高峰占比"), PCT),
             Column(_("晚高峰占比"), PCT)],
            [[_name(data, r["operator"]), r["rides"], r["days"], r["rides_per_day"], r["prev_rides_per_day"],
              r["mom_change"], r["peak_hour"], r["peak_rides"], r["morning_share"], r["evening_share"]]
             for r in rides["by_operator"]],
        )
    )  # fmt: skip
    ops = list(rides["daily"])
    dates = rides["dates"]
    sec.tables.append(
        Table(
            _("逐日骑行量"),
            [Column(_("日期")), *[Column(_name(data, op), INT) for op in ops], Column(_("合计"), INT)],
            [
                [d, *[rides["daily"][op][d] for op in ops], sum(rides["daily"][op][d] for op in ops)]
                for d in dates
            ],
        )
    )
    sec.charts.append(
        Chart("line", _("逐日骑行量"), _("日期"), _("骑行次数"), [d[5:] for d in dates],
              {_chart_name(data, op): [rides["daily"][op][d] for d in dates] for op in ops})
    )  # fmt: skip
    hours = [f"{h:02d}" for h in range(24)]
    sec.tables.append(
        Table(
            _("分时段骑行量"),
            [Column(_("小时")), *[Column(_name(data, op), INT) for op in ops]],
            [[hours[h], *[rides["hourly"][op][h] for op in ops]] for h in range(24)],
        )
    )
    sec.charts.append(
        Chart("bar", _("分时段骑行量（高峰）"), _("小时"), _("骑行次数"), hours,
              {_chart_name(data, op): rides["hourly"][op] for op in ops})
    )  # fmt: skip
    return sec


def _districts(data: dict) -> Section:
    sec = Section("分区", _("三、分区骑行量"))
    if not data["districts"]:
        sec.paragraphs.append(no_data())
        sec.empty = True
        return sec
    ops = sorted({op for r in data["districts"] for op in r["by_operator"]})
    total = sum(r["rides"] for r in data["districts"]) or 1
    sec.tables.append(
        Table(
            _("各区骑行量（按起点）"),
            [Column(_("区")), Column(_("骑行次数"), INT), Column(_("占比"), PCT),
             *[Column(_name(data, op), INT) for op in ops]],
            [[r["name"], r["rides"], round(r["rides"] / total, 4), *[r["by_operator"].get(op, 0) for op in ops]]
             for r in data["districts"]],
        )
    )  # fmt: skip
    shown = [r for r in data["districts"] if r["district"]][:16]
    sec.charts.append(
        Chart("bar", _("各区骑行量"), _("区"), _("骑行次数"), [safe_label(r["name"], r["district"]) for r in shown],
              {_chart_name(data, op): [r["by_operator"].get(op, 0) for r in shown] for op in ops})
    )  # fmt: skip
    return sec


def _quotas(data: dict) -> Section:
    sec = Section("配额", _("四、车辆规模与投放配额"))
    if data["fleet"]:
        sec.tables.append(
            Table(
                _("各企业登记车辆"),
                [Column(_("运营企业")), Column(_("登记车辆"), INT)],
                [[_name(data, op), n] for op, n in data["fleet"].items()],
            )
        )
    if not data["quotas"]:
        sec.paragraphs.append(no_data())
        sec.empty = not data["fleet"]
        return sec
    rows = data["quotas"]
    sec.paragraphs.append(_("超出配额的项目以红色标出。"))
    sec.tables.append(
        Table(
            _("车辆数与配额（月末）"),
            [Column(_("运营企业")), Column(_("区")), Column(_("配额"), INT), Column(_("登记车辆"), INT),
             Column(_("超出"), INT), Column(_("使用率"), PCT)],
            [[_name(data, r["operator"]), r["district_name"], r["quota"], r["registered"], max(r["excess"], 0),
              r["usage"]] for r in rows],
            highlight=[r["over"] for r in rows],
        )
    )  # fmt: skip
    sec.charts.append(
        Chart("bar", _("车辆数与配额"), _("企业·区"), _("车辆数"),
              [f"{_chart_name(data, r['operator'])}·{safe_label(r['district_name'], r['district'])}" for r in rows],
              {_("配额"): [r["quota"] for r in rows], _("登记车辆"): [r["registered"] for r in rows]},
              highlight=[r["over"] for r in rows])
    )  # fmt: skip
    return sec


def _quality(data: dict) -> Section:
    sec = Section("数据质量", _("五、数据质量"))
    if not data["quality"]:
        sec.paragraphs.append(no_data())
        sec.empty = True
        return sec
    sec.tables.append(
        Table(
            _("各企业数据质量（按日平均）"),
            [Column(_("运营企业")), Column(_("评分天数"), INT), Column(_("平均得分"), FLOAT1),
             Column(_("最低得分"), FLOAT1), Column(_("轨迹点数"), INT), Column(_("骑行间隔超限"), INT),
             Column(_("停放间隔超限"), INT), Column(_("订单数"), INT), Column(_("无结束订单"), INT),
             Column(_("无轨迹订单"), INT), Column(_("北京市外位置"), INT)],
            [[_name(data, r["operator"]), r["days"], r["avg_score"], r["min_score"], r["telemetry_points"],
              r["ride_violations"], r["parked_violations"], r["trips"], r["trips_without_end"],
              r["trips_without_telemetry"], r["positions_outside"]] for r in data["quality"]],
        )
    )  # fmt: skip
    sec.charts.append(
        Chart("bar", _("数据质量平均得分"), _("运营企业"), _("得分"),
              [_chart_name(data, r["operator"]) for r in data["quality"]],
              {_("平均得分"): [r["avg_score"] or 0 for r in data["quality"]]})
    )  # fmt: skip
    return sec


def _scanchecks(data: dict) -> Section:
    sec = Section("扫码核查", _("六、扫码核查"))
    scans = data["scanchecks"]
    if not scans["total"]:
        sec.paragraphs.append(no_data())
        sec.empty = True
        return sec
    sec.paragraphs.append(
        _("本月扫码核查%(n)d次，其中未登记车辆%(u)d次，未登记率%(share)s。")
        % {"n": scans["total"], "u": scans["unregistered"], "share": fmt(scans["unregistered_share"], PCT)}
    )
    heads = {"operator": _("运营企业"), "district": _("区"), "result": _("核查结果")}
    titles = {"operator": _("按运营企业"), "district": _("按区"), "result": _("按问题类型")}
    for dim in ("operator", "district", "result"):
        sec.tables.append(
            Table(
                titles[dim],
                [Column(heads[dim]), Column(_("核查次数"), INT), Column(_("未登记"), INT), Column(_("未登记率"), PCT)],
                [[r["label"], r["total"], r["unregistered"], r["unregistered_share"]] for r in scans[dim]],
            )
        )  # fmt: skip
    rows = scans["result"]
    sec.charts.append(
        Chart("bar", _("核查结果分布"), _("核查结果"), _("核查次数"), [safe_label(r["label"], r["key"]) for r in rows],
              {_("核查次数"): [r["total"] for r in rows]})
    )  # fmt: skip
    return sec


def _stations(data: dict) -> Section:
    sec = Section("轨交站点", _("七、轨道交通站点车辆淤积"))
    if not data["stations"]:
        sec.paragraphs.append(no_data())
        sec.empty = True
        return sec
    sec.paragraphs.append(_("按本月净流入（到达减离开）排序的前%(n)d个站点；淤积小时数为早晚高峰净流入超过阈值的小时数。")
                          % {"n": len(data["stations"])})  # fmt: skip
    rows = data["stations"]
    sec.tables.append(
        Table(
            _("淤积站点排名"),
            [Column(_("站点")), Column(_("到达"), INT), Column(_("离开"), INT), Column(_("净流入"), INT),
             Column(_("早高峰净流入"), INT), Column(_("晚高峰净流入"), INT), Column(_("淤积小时数"), INT)],
            [[r["station"], r["arrivals"], r["departures"], r["net"], r["morning_net"], r["evening_net"],
              r["alert_hours"]] for r in rows],
        )
    )  # fmt: skip
    sec.charts.append(
        Chart("bar", _("站点净流入"), _("站点"), _("车辆数"), [safe_label(r["station"], r["station_id"]) for r in rows],
              {_("净流入"): [r["net"] for r in rows]})
    )  # fmt: skip
    return sec


def _workorders(data: dict) -> Section:
    sec = Section("工单", _("八、工单处置"))
    rows = data["workorders"]
    if not rows:
        sec.paragraphs.append(no_data())
        sec.empty = True
        return sec
    sec.tables.append(
        Table(
            _("各企业工单处置"),
            [Column(_("运营企业")), Column(_("派发"), INT), Column(_("已响应"), INT), Column(_("按时响应"), INT),
             Column(_("已办结"), INT), Column(_("超时"), INT), Column(_("按时响应率"), PCT)],
            [[_name(data, r["operator"]), r.get("issued"), r.get("responded"), r.get("responded_on_time"),
              r.get("closed"), r.get("overdue"), r.get("rate_on_time")] for r in rows],
        )
    )  # fmt: skip
    sec.charts.append(
        Chart("bar", _("工单处置"), _("运营企业"), _("工单数"), [_chart_name(data, r["operator"]) for r in rows],
              {_("派发"): [r.get("issued") or 0 for r in rows], _("已办结"): [r.get("closed") or 0 for r in rows]})
    )  # fmt: skip
    return sec


def _assessment(data: dict) -> Section:
    sec = Section("考核", _("九、考核评分"))
    rows = data["assessment"]
    if not rows:
        sec.paragraphs.append(no_data())
        sec.empty = True
        return sec
    sec.tables.append(
        Table(
            _("各企业考核总分"),
            [Column(_("运营企业")), Column(_("总分"), FLOAT1), Column(_("状态"))],
            [[r.get("operator_name") or _name(data, str(r.get("operator_code"))), r.get("total"),
              r.get("status_label") or str(r.get("status") or "")] for r in rows],
        )
    )  # fmt: skip
    detail = []
    for r in rows:
        for ind in r.get("indicators") or []:
            detail.append([r.get("operator_name") or str(r.get("operator_code")), ind.get("name"), ind.get("weight"),
                           ind.get("value"), ind.get("points"), ind.get("weighted")])  # fmt: skip
    if detail:
        sec.tables.append(
            Table(
                _("考核指标明细"),
                [Column(_("运营企业")), Column(_("指标")), Column(_("权重"), FLOAT1), Column(_("指标值"), FLOAT2),
                 Column(_("得分"), FLOAT1), Column(_("加权得分"), FLOAT2)],
                detail,
            )
        )  # fmt: skip
    sec.charts.append(
        Chart("bar", _("考核总分"), _("运营企业"), _("总分"),
              [safe_label(r.get("operator_name") or "", str(r.get("operator_code"))) for r in rows],
              {_("总分"): [r.get("total") or 0 for r in rows]})
    )  # fmt: skip
    return sec


def sections(data: dict) -> list[Section]:
    """The report's sections in order."""
    return [
        _summary(data),
        _rides(data),
        _districts(data),
        _quotas(data),
        _quality(data),
        _scanchecks(data),
        _stations(data),
        _workorders(data),
        _assessment(data),
    ]
