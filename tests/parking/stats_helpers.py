"""A hand-built day of orders and offline periods for the statistics tests (test_stats*.py).

The expected numbers are derived here in plain Python from the same list of stays the rows
are built from, independently of the SQL in services/stats.py.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from govcenter.parking.models import DeviceOfflinePeriod, Order, SpaceVersion
from tests.parking.events_helpers import network

TZ = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 3, 10)
DAY_START = dt.datetime(2026, 3, 10, tzinfo=TZ)
DAY_END = DAY_START + dt.timedelta(days=1)


def at(hours: float, day_offset: int = 0) -> dt.datetime:
    return DAY_START + dt.timedelta(days=day_offset, hours=hours)


def overlap(
    lo: dt.datetime, hi: dt.datetime, wlo: dt.datetime = DAY_START, whi: dt.datetime = DAY_END
) -> int:
    a, b = max(lo, wlo), min(hi, whi)
    return max(0, int((b - a).total_seconds()))


def _order(space, *, start, end, state, due=0, paid=0, adj=0) -> Order:
    version = space.versions.order_by("-version").first()
    order = Order(
        district=space.district,
        managing_unit=space.segment.managing_unit,
        segment=space.segment,
        space=space,
        space_version=version,
        started_at=start,
        ended_at=end,
        state=state,
        amount_due_fen=due,
        amount_paid_fen=paid,
        amount_adjustment_fen=adj,
    )
    order.save()
    return order


def build_day(org) -> SimpleNamespace:
    """The network of events_helpers plus the stays and offline periods of DAY (see the list)."""
    n = network(org)
    SpaceVersion.objects.update(valid_from=DAY_START - dt.timedelta(days=30))
    s0, s1, s2 = n.dc_spaces
    n.stays = [
        # (space, start, end, state, due, paid, adj)
        (s0, at(8), at(10), "paid", 1000, 900, -100),
        (s1, at(23, -1), at(1.5), "arrears", 500, 0, 0),  # started the day before
        (s1, at(22), at(2, 1), "billed", 800, 0, 0),  # runs past midnight
        (s2, at(12), None, "open", 0, 0, 0),  # still parked: runs to the end of the day
        (s2, at(9), at(9.5), "void", 400, 0, 0),  # never counts
        (s0, at(14), at(14.75), "arrears", 300, 0, 0),
        (n.xc_space, at(10), at(11), "paid", 200, 200, 0),
    ]
    n.orders = [
        _order(space, start=s, end=e, state=st, due=due, paid=paid, adj=adj)
        for space, s, e, st, due, paid, adj in n.stays
    ]
    # The sensor of space 1 is down 13:00–15:00; the camera (watching the two spaces without
    # a sensor) is down 00:00–06:00.
    n.offline = [(n.sensor, at(13), at(15), 1), (n.camera, at(0), at(6), 2)]
    for device, lo, hi, _spaces in n.offline:
        DeviceOfflinePeriod.objects.create(device=device, started_at=lo, ended_at=hi)
    return n


def expected(n, district) -> dict:
    """The district's numbers for DAY, derived from ``n.stays`` and ``n.offline``."""
    rows = [s for s in n.stays if s[0].district_id == district.pk and s[3] != "void"]
    started = [s for s in rows if DAY_START <= s[1] < DAY_END]
    ended = [s for s in started if s[2] is not None]
    spaces = [sp for sp in [*n.dc_spaces, n.xc_space] if sp.district_id == district.pk]
    unknown = sum(overlap(lo, hi) * k for device, lo, hi, k in n.offline if device.district_id == district.pk)
    return {
        "orders": len(started),
        "sessions": len(ended),
        "amount_due_fen": sum(s[4] + s[6] for s in started),
        "amount_paid_fen": sum(s[5] for s in started),
        "arrears_orders": sum(1 for s in started if s[3] == "arrears"),
        "arrears_fen": sum(s[4] + s[6] - s[5] for s in started if s[3] == "arrears"),
        "dwell_seconds": sum(int((s[2] - s[1]).total_seconds()) for s in ended),
        "available_seconds": len(spaces) * 86400,
        "occupied_seconds": sum(overlap(s[1], s[2] or DAY_END) for s in rows),
        "unknown_seconds": unknown,
    }
