"""Checks every registered statistic must pass (used by each statistic's tests).

* :func:`assert_reconciles` — the drill rows and every breakdown's groups sum to the total
  for each additive measure (counts and sums), at every drill level down to one segment;
* :func:`assert_surfaces_agree` — the API, the page and the Excel export show the numbers
  of :func:`compute` (the page's table cells and the sheet's cells are the displayed values);
* :func:`assert_rollup_gives_the_raw_numbers` — a statistic cubed as a rollup answers as
  its raw facts do, for a window in the past and for a window that runs until "now";
* :func:`assert_builder_agrees` (part of the surfaces) — the query builder (statistic 10) over
  the statistic's source gives its total, its district rows and its breakdowns' groups.
"""

from __future__ import annotations

import datetime as dt
import io

from django.test import Client
from openpyxl import load_workbook

from govcenter.core.audit import AuditEntry
from govcenter.parking.models import Road, Segment
from govcenter.parking.stats2 import cubes
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute, display


def additive(stat) -> list[str]:
    return [m.key for m in stat.measures if m.additive]


def assert_sums(stat, result) -> None:
    keys = additive(stat)
    if result.rows:
        for k in keys:
            assert sum(r[k] for r in result.rows) == result.total[k], (stat.slug, "rows", k)
    for b in stat.breakdowns:
        for k in b.measures:
            if k in keys:
                assert sum(g[k] for g in result.breakdowns[b.key]) == result.total[k], (stat.slug, b.key, k)


def assert_reconciles(stat, user, start, end, **filters) -> dict:
    """Drill from the city down to the busiest row at each level; returns the city total."""
    q = StatQuery(start, end, levels=stat.levels, **filters)
    city = compute(stat, user, q)
    assert_sums(stat, city)
    result, kwargs = city, dict(filters)
    first = additive(stat)[0]
    while result.rows:
        top = max(result.rows, key=lambda r: r[first])
        level = result.query.level
        model = {"district": None, "road": Road, "segment": Segment}[level]
        if model is None:
            from govcenter.core.models import District

            kwargs["district"] = District.objects.get(pk=top["id"])
        else:
            obj = model.objects.get(pk=top["id"])
            kwargs[level] = obj
            if level == "segment":
                kwargs["road"] = obj.road
        child = compute(stat, user, StatQuery(start, end, levels=stat.levels, **kwargs))
        for k in additive(stat):
            assert child.total[k] == top[k], (stat.slug, level, k)
        assert_sums(stat, child)
        result = child
    return city.total


def assert_surfaces_agree(user, stat, params: dict) -> dict:
    client = Client()
    client.force_login(user)
    api = client.get(f"/api/v1/parking/stats/{stat.slug}", params)
    assert api.status_code == 200, api.content
    body = api.json()
    page = client.get(f"/parking/stats/{stat.slug}/", params)
    html = page.content.decode()
    assert page.status_code == 200 and 'id="stats-charts"' in html and "echarts.min.js" in html
    for row in body["rows"]:
        assert f'data-code="{row["code"]}"' in html
    export = client.get(f"/parking/stats/{stat.slug}/export.xlsx", params)
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.content))
    values = list(book.worksheets[0].iter_rows(values_only=True))
    _header, data_rows, total = values[2], values[3:-1], values[-1]
    assert total[0] == "合计" and len(data_rows) == len(body["rows"])
    for i, m in enumerate(stat.measures, start=1):
        assert total[i] == display(body["total"][m.key], m.unit), m.key
        assert [r[i] for r in data_rows] == [display(r[m.key], m.unit) for r in body["rows"]], m.key
    assert len(book.worksheets) == 1 + len(stat.breakdowns) + len(body["extra"])
    assert AuditEntry.objects.filter(action=f"parking.stats.{stat.slug}.export").exists()
    assert_builder_agrees(user, stat, params, body)
    return body


def assert_builder_agrees(user, stat, params: dict, body: dict) -> None:
    """The builder's source of ``stat`` (its own, or the orders' for a statistic over the orders)
    answers the API's numbers: total, per district, and per group of each breakdown it offers."""
    from govcenter.parking.stats2 import builder

    source = builder.SOURCES["orders"] if stat.view == "orders" else builder.SOURCES.get(stat.slug)
    assert source is not None, stat.slug
    keys = [m.key for m in stat.measures if m.key in source.measure_keys]
    assert keys, stat.slug
    spec = {
        "source": source.key,
        "measures": keys[: builder.MAX_MEASURES],
        "window": {"start": params["start"], "end": params["end"]},
        "filters": {k: params[k] for k in ("district",) if params.get(k)},
    }
    total = builder.query(user, spec).total
    assert total == {k: body["total"][k] for k in spec["measures"]}, stat.slug
    by_district = builder.query(user, spec | {"dimensions": ["district"]}).rows
    if "district" in stat.levels and body.get("level") == "district":
        got = {r["district"]: {k: r[k] for k in spec["measures"]} for r in by_district}
        assert got == {r["id"]: {k: r[k] for k in spec["measures"]} for r in body["rows"]}, stat.slug
    for b in stat.breakdowns:
        if b.key not in source.dimensions or source.dimension(b.key).kind != "own":
            continue
        measures = [k for k in b.measures if k in source.measure_keys]
        rows = builder.query(user, spec | {"measures": measures, "dimensions": [b.key]}).rows
        got = {str(r[b.key]): {"label": r[f"{b.key}_label"], **{k: r[k] for k in measures}} for r in rows}
        want = {
            str(g["key"]): {"label": g["label"], **{k: g[k] for k in measures}}
            for g in body["breakdowns"][b.key]
        }
        # A breakdown lists its fixed groups even when empty; the builder only the groups it found.
        assert got == {g: v for g, v in want.items() if g in got}, (stat.slug, b.key)
        assert all(not any(v[k] for k in measures) for g, v in want.items() if g not in got), (
            stat.slug,
            b.key,
        )


def _same(stat, user, q, now) -> None:
    cubed = compute(stat, user, q, now=now)
    raw = compute(stat, user, q, now=now, cube=False)
    # A window with no rows at all has no cube dates: the raw facts answer (nothing to read).
    assert cubed.source == "cube" or raw.total[stat.measures[0].key] == 0, (stat.slug, q)
    assert (cubed.total, cubed.rows, cubed.breakdowns) == (raw.total, raw.rows, raw.breakdowns), (
        stat.slug,
        q,
    )


def assert_rollup_gives_the_raw_numbers(stat, users, start, end, now) -> None:
    """Build the rollup as on a day inside the window (stamps before it kept to their day, the
    later ones exact), compare with the raw facts, then build again as on a later day."""
    assert stat.rollup is not None and cubes.cubeable(stat)
    midway = start + (end - start) / 2
    tz = now.tzinfo
    built = cubes.refresh(stat, today=midway)
    assert built["dates"] > 0, stat.slug
    assert cubes.refresh(stat, today=midway)["dates"] == 0  # nothing changed, same day
    windows = [StatQuery(start, end, levels=stat.levels), StatQuery(midway, end, levels=stat.levels)]
    assert compute(stat, users[0], windows[0], now=now).source == "cube"
    for q in windows:
        for user in users:
            _same(stat, user, q, now)  # as of the window's end, a midnight
    # "now" inside the window, after the cut: stamps before it are kept to their day.
    running = dt.datetime.combine(end, dt.time(13, 7), tz)
    _same(stat, users[0], windows[0], running)
    # "now" before the rollup's cut: its days are not exact for it, so the raw facts answer.
    early = dt.datetime.combine(midway - dt.timedelta(days=1), dt.time(9, 30), tz)
    assert compute(stat, users[0], windows[0], now=early).source == "raw"
    # A later day: the dates that kept exact stamps are built again, to their day.
    later = end + dt.timedelta(days=1)
    again = cubes.refresh(stat, today=later)
    assert 0 < again["dates"] <= built["dates"], stat.slug
    for q in windows:  # as of the end of each window (a midnight, so the later cut does not matter)
        _same(stat, users[0], q, dt.datetime.combine(later + dt.timedelta(days=1), dt.time(), tz))
