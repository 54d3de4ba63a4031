"""What every parking statistic shares: its query (window + filters), the caller's scope as SQL,
the drill levels and the names of their rows.

A statistic's query is a Beijing date window (``start``..``end``, inclusive, at most
``MAX_DAYS``) and filters: district, road, segment, area class, vehicle class. A statistic
says which filters its data set can honour (``filters``); a filter it cannot honour is a 400
``unsupported_filter`` rather than silently ignored. Rows of a table are the next drill level
below the query's place: city → districts → roads → segments, as far as the statistic's
``levels`` go.

Scope: the caller's data scope (``govcenter.core.scope``) becomes a filter on the data set's
``district_id`` / ``managing_unit_id`` columns — a district manager sees only their
district; a district, road or segment outside the scope is "unknown" (400), the same answer
as one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District
from govcenter.core.scope import scope_for

from ..models import Road, Segment, Space
from ..models.tariff import AreaClass, VehicleClass

MAX_DAYS = 366
LEVELS = ("district", "road", "segment")
ALL_FILTERS = ("district", "road", "segment", "area_class", "vehicle_class")
# The data set column each filter compares with.
FILTER_COLUMNS = {
    "district": "district_id",
    "road": "road_id",
    "segment": "segment_id",
    "area_class": "area_class",
    "vehicle_class": "vehicle_class",
}


@dataclass(frozen=True)
class StatQuery:
    start: dt.date
    end: dt.date
    district: District | None = None
    road: Road | None = None
    segment: Segment | None = None
    area_class: int | None = None
    vehicle_class: str | None = None
    levels: tuple[str, ...] = LEVELS

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def level(self) -> str | None:
        """The drill level of the rows (districts of the city, roads of a district, …); None at the bottom."""
        if self.segment is not None:
            here = 3
        elif self.road is not None:
            here = 2
        elif self.district is not None:
            here = 1
        else:
            here = 0
        return self.levels[here] if here < len(self.levels) else None

    def filters(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "district": self.district.pk if self.district else None,
            "road": self.road.pk if self.road else None,
            "segment": self.segment.pk if self.segment else None,
            "area_class": self.area_class,
            "vehicle_class": self.vehicle_class,
        }

    def place(self) -> str:
        """The query's place in words: 全市 / a district / road / segment name (for titles and exports)."""
        for obj, attr in ((self.segment, "name"), (self.road, "name"), (self.district, "name_zh")):
            if obj is not None:
                return getattr(obj, attr)
        return _("全市")


def bad(code: str, message: str, name: str, value) -> ServiceError:
    return ServiceError(message, code=code, details={name: [str(value)]})


def parse_date(name: str, raw, default: dt.date | None) -> dt.date:
    if raw in (None, ""):
        if default is None:
            raise bad("invalid_date", _("缺少日期。"), name, "")
        return default
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise bad("invalid_date", _("日期格式应为 YYYY-MM-DD。"), name, raw) from None


def check_window(start: dt.date, end: dt.date, max_days: int = MAX_DAYS) -> None:
    """400 ``invalid_window`` when the window is inverted or longer than ``max_days``."""
    if end < start:
        raise ServiceError(
            _("时间窗口无效：结束日期早于开始日期。"),
            code="invalid_window",
            details={"start": [start.isoformat()], "end": [end.isoformat()]},
        )
    if (end - start).days + 1 > max_days:
        raise ServiceError(
            _("时间窗口过长：最多 %(n)d 天。") % {"n": max_days},
            code="invalid_window",
            details={"start": [start.isoformat()], "end": [end.isoformat()]},
        )


def _pk(name: str, raw) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise bad(f"unknown_{name}", _("未知的%(name)s。") % {"name": name}, name, raw) from None


def parse_query(
    user, params, *, filters: tuple[str, ...] = ALL_FILTERS, levels: tuple[str, ...] = LEVELS
) -> StatQuery:
    """The query of ``params`` (a mapping of strings), checked against the caller's scope.

    400 ``invalid_window`` (end before start, or more than MAX_DAYS), ``invalid_date``,
    ``unknown_district`` / ``unknown_road`` / ``unknown_segment`` (absent or outside the caller's
    scope — the same answer), ``invalid_area_class``, ``invalid_vehicle_class``, ``mismatch``
    (a road not in the district …), ``unsupported_filter`` (a filter this statistic's data
    cannot honour).
    """
    for name in ALL_FILTERS:
        if name not in filters and params.get(name) not in (None, ""):
            raise bad("unsupported_filter", _("该统计不支持此筛选条件。"), name, params.get(name))
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    end = parse_date("end", params.get("end"), yesterday)
    start = parse_date("start", params.get("start"), end - dt.timedelta(days=6))
    check_window(start, end)
    district = road = segment = None
    if (pk := _pk("district", params.get("district"))) is not None:
        district = District.objects.restrict(user).filter(pk=pk).first()
        if district is None:
            raise bad("unknown_district", _("未知的区或不在数据范围内。"), "district", pk)
    if (pk := _pk("road", params.get("road"))) is not None:
        road = Road.objects.restrict(user).filter(pk=pk).first()
        if road is None:
            raise bad("unknown_road", _("未知的道路或不在数据范围内。"), "road", pk)
    if (pk := _pk("segment", params.get("segment"))) is not None:
        segment = Segment.objects.restrict(user).filter(pk=pk).select_related("road").first()
        if segment is None:
            raise bad("unknown_segment", _("未知的路段或不在数据范围内。"), "segment", pk)
    # A lower level implies the upper ones; given both, they must agree.
    if segment is not None:
        if road is not None and segment.road_id != road.pk:
            raise bad("mismatch", _("路段不属于所选道路。"), "segment", segment.pk)
        road = segment.road
    if road is not None:
        if district is not None and road.district_id != district.pk:
            raise bad("mismatch", _("道路不属于所选区。"), "road", road.pk)
        district = District.objects.get(pk=road.district_id)
    area_class = None
    raw = params.get("area_class")
    if raw not in (None, ""):
        try:
            area_class = int(raw)
        except (TypeError, ValueError):
            area_class = -1
        if area_class not in AreaClass.values:
            raise bad("invalid_area_class", _("地区类别应为 1、2 或 3。"), "area_class", raw)
    vehicle_class = params.get("vehicle_class") or None
    if vehicle_class is not None and vehicle_class not in VehicleClass.values:
        raise bad("invalid_vehicle_class", _("车型应为 small 或 large。"), "vehicle_class", vehicle_class)
    return StatQuery(start, end, district, road, segment, area_class, vehicle_class, levels)


def scope_sql(
    user, *, district_col: str = "district_id", unit_col: str = "managing_unit_id"
) -> tuple[str, list]:
    """The caller's data scope as a SQL condition over a data set's district and unit columns."""
    scope = scope_for(user)
    if scope.all:
        return "TRUE", []
    parts, params = [], []
    if scope.district_ids:
        parts.append(f"{district_col} IN ({', '.join('?' * len(scope.district_ids))})")
        params += sorted(scope.district_ids)
    if scope.unit_ids:
        parts.append(f"{unit_col} IN ({', '.join('?' * len(scope.unit_ids))})")
        params += sorted(scope.unit_ids)
    return ("(" + " OR ".join(parts) + ")" if parts else "FALSE"), params


def where_sql(user, q: StatQuery, *, date_col: str = "date", base: str | None = None) -> tuple[str, list]:
    """The WHERE clause (with parameters) of the caller's scope, the window and the query's filters.

    ``date_col`` is the Beijing date the window applies to (the partition ``date`` by default);
    ``base`` an extra condition of the statistic (e.g. ``state <> 'void'``). Only column names
    of this module and ``?`` placeholders reach the SQL text; values are parameters.
    """
    clauses = [f"{date_col} BETWEEN ? AND ?"]
    params: list = [q.start, q.end]
    if base:
        clauses.insert(0, base)
    scope, scope_params = scope_sql(user)
    clauses.append(scope)
    params += scope_params
    for name, value in (
        ("district", q.district.pk if q.district else None),
        ("road", q.road.pk if q.road else None),
        ("segment", q.segment.pk if q.segment else None),
        ("area_class", q.area_class),
        ("vehicle_class", q.vehicle_class),
    ):
        if value is not None:
            clauses.append(f"{FILTER_COLUMNS[name]} = ?")
            params.append(value)
    return " AND ".join(clauses), params


def spaces(user, q: StatQuery, level: str | None) -> dict:
    """Spaces (not retired) per row key of ``level`` (and "total"), from the OLTP base data (small)."""
    qs = Space.objects.restrict(user).exclude(status=Space.Status.RETIRED)
    if q.district is not None:
        qs = qs.filter(district=q.district)
    if q.road is not None:
        qs = qs.filter(segment__road=q.road)
    if q.segment is not None:
        qs = qs.filter(segment=q.segment)
    if q.area_class is not None:
        qs = qs.filter(segment__area_class=q.area_class)
    out = {"total": qs.count()}
    if level is not None:
        path = {"district": "district_id", "road": "segment__road_id", "segment": "segment_id"}[level]
        for key, n in qs.order_by().values_list(path).annotate(n=Count("id")):
            out[key] = n
    return out


def district_choices(user):
    """The districts ``user`` may pick, in their order, without their boundaries (the 17 GeoJSON
    polygons took a quarter of a second to decode on every page that only lists names)."""
    return District.objects.restrict(user).defer("geometry").order_by("sort_order", "code")


def names(level: str, keys: list[int]) -> dict[int, tuple[str, str]]:
    """(code, name) of the rows of a drill level."""
    if level == "district":
        return {
            pk: (code, name)
            for pk, code, name in District.objects.filter(pk__in=keys).values_list("pk", "code", "name_zh")
        }
    model = Road if level == "road" else Segment
    return {
        pk: (code, name)
        for pk, code, name in model.objects.filter(pk__in=keys).values_list("pk", "code", "name")
    }


def level_label(level: str | None) -> str:
    return {"district": _("所属区"), "road": _("道路"), "segment": _("路段")}.get(level or "", _("路段"))
